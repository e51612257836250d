"""The registry's REST API views, by feature; `urls/api.py` mounts them."""

from .catalog import *  # noqa: F401,F403
from .promotion import *  # noqa: F401,F403
