"""REST API v1 views of the audits app, by theme: `audits` (audit jobs, alerts, references, suites,
the prediction log, schedules) and `relabel` (relabelling campaigns and the labelling queue)."""

from .audits import *  # noqa: F401,F403
from .relabel import *  # noqa: F401,F403
from .relabel_schedules import *  # noqa: F401,F403
