"""API v1 shapes of the audits app, by theme: `audits`, `relabel` and `relabel_lead`."""

from .audits import *  # noqa: F401,F403
from .relabel import *  # noqa: F401,F403
from .relabel_lead import *  # noqa: F401,F403
from .relabel_results import *  # noqa: F401,F403
from .relabel_schedules import *  # noqa: F401,F403
