"""The registry pages' forms, by feature."""

from .catalog import *  # noqa: F401,F403
from .promotion import *  # noqa: F401,F403
