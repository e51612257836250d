"""The audits app's pages, by feature: data audits, suites and schedules; relabelling: the labeller's
list and card (`labelling`), the leads' pages (`relabel_lead`), a campaign's results (`relabel_campaign`)."""

from .audits import *  # noqa: F401,F403
from .labelling import *  # noqa: F401,F403
from .relabel_campaign import *  # noqa: F401,F403
from .relabel_lead import *  # noqa: F401,F403
