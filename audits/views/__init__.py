"""The audits app's pages, by feature: data audits, suites and schedules."""

from .audits import *  # noqa: F401,F403
from .relabel_campaign import *  # noqa: F401,F403
