"""The registry's pages, by feature: the catalog (models, versions, diffs) and promotion governance.
Both render the model page through `model_page`."""

from .catalog import *  # noqa: F401,F403
from .model_page import *  # noqa: F401,F403
from .promotion import *  # noqa: F401,F403
