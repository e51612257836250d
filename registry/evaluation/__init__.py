"""Evidence for the promotion validation gate: metrics, baselines, thresholds, prediction diffs,
curves, feature importance, slices, robustness to perturbed rows and the policy checks that turn them into pass/fail.

Plain numpy/pandas/scikit-learn, no Django: the gate (registry/services/gate.py) loads the hold-out
rows and the two model versions, calls these functions and stores what they return as JSON. So
every number leaving this package is a plain Python float/int/str (never a numpy scalar) and an
undefined value is ``None`` (never NaN, which JSON cannot carry and reviewers cannot read).

Task types are the strings in ``TASK_TYPES``. Score conventions, shared by every function:

* binary_classification — ``scores`` is a 1-D array of P(positive); ``y_true`` is 0/1.
* multiclass_classification — ``scores`` is (n, k) probabilities, columns in the order of
  ``classes`` (default: the sorted labels of ``y_true``).
* regression — ``scores`` are the predicted values.
* ranking — ``scores`` are per-row scores, ``groups`` the query id of each row and ``y_true`` a
  relevance >= 0 (an item is "relevant" when its relevance is > 0).
"""

from .baselines_thresholds import *  # noqa: F401,F403
from .diffs import *  # noqa: F401,F403
from .importance import *  # noqa: F401,F403
from .metrics import *  # noqa: F401,F403
from .policy import *  # noqa: F401,F403
from .robustness import *  # noqa: F401,F403
from .slices import *  # noqa: F401,F403
