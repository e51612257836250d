"""The audits app's vocabulary, by theme: `audits.models.X` names every model and choice of the modules
below (`audits`: data audits and the prediction log; `relabel`: human relabelling)."""

from .audits import *  # noqa: F401,F403
from .audits import batch_upload_to  # noqa: F401  (named by migration 0001)
from .relabel import *  # noqa: F401,F403
from .relabel_schedules import *  # noqa: F401,F403
