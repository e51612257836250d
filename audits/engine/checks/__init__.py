"""Checks: compare a batch's profile with the training reference under a suite, and say what is wrong
in findings a reviewer reads in seconds. Callers use `from audits.engine import checks` and
`checks.<name>(...)`; the modules below are where each check lives: `findings` (the Finding, the
verdict and the order of findings), `quality` (with `categories`, `timestamps` and `text`), `drift_skew` (drift
and training-serving skew), `target_correlation` (feature–label correlation) and `volume_schema`;
`noise` holds the sampling-noise tests the quality and volume checks share.

Pure Python; no Django. Profiles follow docs/audit-profile-format.md.
"""

from .drift_skew import *  # noqa: F401,F403
from .findings import *  # noqa: F401,F403
from .quality import *  # noqa: F401,F403
from .target_correlation import *  # noqa: F401,F403
from .text import *  # noqa: F401,F403
from .timestamps import *  # noqa: F401,F403
from .volume_schema import *  # noqa: F401,F403
