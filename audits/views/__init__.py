"""The audits app's pages, by feature: data audits, suites and schedules; relabelling leads' pages."""

from .audits import *  # noqa: F401,F403
from .relabel_lead import *  # noqa: F401,F403
