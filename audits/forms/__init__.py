"""The audits pages' forms, by feature."""

from .audits import *  # noqa: F401,F403
from .labelling import *  # noqa: F401,F403
from .relabel_lead import *  # noqa: F401,F403
