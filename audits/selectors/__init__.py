"""Every read of the audits app, by theme. Callers use `from audits import selectors` and
`selectors.<name>(...)`; the modules below are where each lives: `audits` (jobs, alerts, predictions,
schedules: shared by pages, the API and the registry's promotion gate), `pages` (what only the pages
show), `references` (a version's training reference, for the explainer of the support app),
`relabel` (relabelling campaigns, their progress, settled labels and live estimate), `labelling` (what
one labeller has done), `relabel_team` (what leads read: disputes, gold items, agreement, each
labeller's figures), `relabel_results` (stored estimates, their trend, error patterns) and
`relabel_exports` (corrected labels)."""

from .audits import *  # noqa: F401,F403
from .labelling import *  # noqa: F401,F403
from .pages import *  # noqa: F401,F403
from .references import *  # noqa: F401,F403
from .relabel import *  # noqa: F401,F403
from .relabel_exports import *  # noqa: F401,F403
from .relabel_results import *  # noqa: F401,F403
from .relabel_schedules import *  # noqa: F401,F403
from .relabel_team import *  # noqa: F401,F403
