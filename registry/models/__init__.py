"""The registry's vocabulary, by theme: the catalog (models, versions, runs, aliases), promotion
governance (policies, hold-out data, requests and their history) and notifications."""

from .catalog import *  # noqa: F401,F403
from .catalog import TERMINAL_RUN_STATUSES  # noqa: F401
from .logged_models import *  # noqa: F401,F403
from .mlflow_import import *  # noqa: F401,F403
from .notifications import *  # noqa: F401,F403
from .promotion import *  # noqa: F401,F403
