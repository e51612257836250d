# Data audits, prediction logs and relabelling arrive with their issue; see DESIGN.md.
