"""The audits app's pages, by feature: data audits, suites and schedules."""

from .audits import *  # noqa: F401,F403
