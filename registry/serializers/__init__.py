"""The registry API's request (…In) and response (…Out) shapes, by feature."""

from .catalog import *  # noqa: F401,F403
from .promotion import *  # noqa: F401,F403
