"""Every change of support: the lists (blacklists, boosts, lifts, bulk uploads, privacy requests,
surfaces) and the explanations.

Rules kept for the lists (and by the database wherever a constraint or trigger can say it):
- nothing is deleted or edited: an entry ends, lifted early with a reason or expired, and the
  history stays;
- every change first takes the change lock and its number (`changes.begin_change`): changes are
  serialised, conflict checks see every earlier change, and a serving list's cursor never skips a
  late commit;
- guard rails: a per-agent rate limit (HTTP 429), a typed count to confirm a large bulk blacklist,
  and conflicts (boosting a blacklisted ID, repeating an active entry) refused naming the entry;
- the serving lists' cache is invalidated after every commit (never before: a reader could rebuild
  from the old rows and keep them under the new generation).

One module per feature: `entries`, `bulk`, `privacy`, `surfaces`, `explanations`, `backgrounds`; `changes` (the
change lock and the rate limit) and `checks` (what a change may ask for) serve the lists' ones.
"""

from .backgrounds import explainer_background_from_reference, explainer_background_upload
from .bulk import bulk_confirm, bulk_needs_count, bulk_preview
from .changes import RateLimited, rate_limit_remaining
from .checks import ID_PATTERN, boost_default_expiry
from .entries import blacklist_add, boost_add, entry_lift
from .explanations import (
    explanation_compute,
    explanation_fail,
    explanation_request,
    explanations_erase,
    production_version,
)
from .privacy import (
    entity_data_erase,
    privacy_erasures_requeue,
    privacy_request_create,
    privacy_request_erase,
    privacy_request_erase_fail,
)
from .surfaces import surface_create, surface_update

__all__ = [
    "ID_PATTERN",
    "RateLimited",
    "blacklist_add",
    "boost_add",
    "boost_default_expiry",
    "bulk_confirm",
    "bulk_needs_count",
    "bulk_preview",
    "entity_data_erase",
    "entry_lift",
    "explainer_background_from_reference",
    "explainer_background_upload",
    "explanation_compute",
    "explanation_fail",
    "explanation_request",
    "explanations_erase",
    "privacy_erasures_requeue",
    "privacy_request_create",
    "privacy_request_erase",
    "privacy_request_erase_fail",
    "production_version",
    "rate_limit_remaining",
    "surface_create",
    "surface_update",
]
