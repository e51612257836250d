"""Every read of the registry, by theme. Callers use `from registry import selectors` and
`selectors.<name>(...)`; the modules below are where each lives."""

from .artifacts import *  # noqa: F401,F403
from .catalog import *  # noqa: F401,F403
from .pickles import *  # noqa: F401,F403
from .promotion import *  # noqa: F401,F403
from .run_artifacts import *  # noqa: F401,F403
from .run_logs import *  # noqa: F401,F403
from .serving import *  # noqa: F401,F403
