"""Every read of the audits app, by theme. Callers use `from audits import selectors` and
`selectors.<name>(...)`; the modules below are where each lives: `audits` (jobs, alerts, predictions,
schedules: shared by pages, the API and the registry's promotion gate), `pages` (what only the pages
show), `references` (a version's training reference, for the explainer of the support app) and
`relabel` (relabelling campaigns and their progress)."""

from .audits import *  # noqa: F401,F403
from .pages import *  # noqa: F401,F403
from .references import *  # noqa: F401,F403
from .relabel import *  # noqa: F401,F403
from .relabel_schedules import *  # noqa: F401,F403
