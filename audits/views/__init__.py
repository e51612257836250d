"""The audits app's pages, by feature: data audits, suites and schedules; relabelling for labellers."""

from .audits import *  # noqa: F401,F403
from .labelling import *  # noqa: F401,F403
