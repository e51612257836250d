"""Every write to the registry, by theme (the promotion gate's run included). Callers use
`from registry import services` and `services.<noun>_<verb>(...)`; the modules below are where each
lives."""

from .artifact_formats import *  # noqa: F401,F403
from .catalog import *  # noqa: F401,F403
from .gate import *  # noqa: F401,F403
from .logged_model_metrics import *  # noqa: F401,F403
from .logged_models import *  # noqa: F401,F403
from .mlflow_import import *  # noqa: F401,F403
from .mlflow_reader import *  # noqa: F401,F403
from .model_lifecycle import *  # noqa: F401,F403
from .notifications import *  # noqa: F401,F403
from .promotion import *  # noqa: F401,F403
from .promotion_policy import *  # noqa: F401,F403
from .run_artifacts import *  # noqa: F401,F403
from .run_lifecycle import *  # noqa: F401,F403
