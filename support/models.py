# Blacklist, boost and privacy entries arrive with their issue; see DESIGN.md.
