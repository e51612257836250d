"""The audits app's vocabulary, by theme: `audits.models.X` names every model and choice of the modules
below (`audits`: data audits and the prediction log; `schedules`: audit schedules and what every
schedule shares; `relabel`: human relabelling; `relabel_schedules`: relabelling campaigns on a schedule)."""

from .audits import *  # noqa: F401,F403
from .audits import batch_upload_to  # noqa: F401  (named by migration 0001)
from .relabel import *  # noqa: F401,F403
from .relabel_schedules import *  # noqa: F401,F403
from .schedules import *  # noqa: F401,F403
