"""Every write of the audits app, by theme. Callers use `from audits import services` and
`services.<noun>_<verb>(...)`; the modules below are where each lives."""

from .jobs import *  # noqa: F401,F403
from .jobs import _batch_path, _specs  # noqa: F401  (integration tests rebuild an audit in-process)
from .predictions import *  # noqa: F401,F403
from .schedules import *  # noqa: F401,F403
