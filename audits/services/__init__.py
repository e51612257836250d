"""Every write of the audits app, by theme. Callers use `from audits import services` and
`services.<noun>_<verb>(...)`; the modules below are where each lives."""

from .alerts import *  # noqa: F401,F403
from .feeds import *  # noqa: F401,F403
from .jobs import *  # noqa: F401,F403
from .predictions import *  # noqa: F401,F403
from .references import *  # noqa: F401,F403
from .relabel import *  # noqa: F401,F403
from .relabel_card import *  # noqa: F401,F403
from .relabel_lead import *  # noqa: F401,F403
from .relabel_progress import *  # noqa: F401,F403
from .relabel_results import *  # noqa: F401,F403
from .relabel_schedules import *  # noqa: F401,F403
from .schedules import *  # noqa: F401,F403
from .suites import *  # noqa: F401,F403
