"""REST API v1 views of the audits app, by theme: `audits` (audit jobs, alerts, references, suites,
the prediction log, schedules), `relabel` (relabelling campaigns and the labelling queue) and
`relabel_lead` (disputes and decisions, gold items, agreement, each labeller's figures)."""

from .audits import *  # noqa: F401,F403
from .relabel import *  # noqa: F401,F403
from .relabel_lead import *  # noqa: F401,F403
from .relabel_results import *  # noqa: F401,F403
from .relabel_schedules import *  # noqa: F401,F403
