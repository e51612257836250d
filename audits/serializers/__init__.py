"""API v1 shapes of the audits app, by theme: `audits`, `schedules`, `relabel`, `relabel_lead`,
`relabel_results` and `relabel_schedules`."""

from .audits import *  # noqa: F401,F403
from .relabel import *  # noqa: F401,F403
from .relabel_lead import *  # noqa: F401,F403
from .relabel_results import *  # noqa: F401,F403
from .relabel_schedules import *  # noqa: F401,F403
from .schedules import *  # noqa: F401,F403
