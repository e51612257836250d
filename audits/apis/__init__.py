"""REST API v1 views of the audits app, by theme: `audits` (audit jobs, alerts, references, suites,
the prediction log, schedules)."""

from .audits import *  # noqa: F401,F403
