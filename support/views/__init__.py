"""Support agents' pages: the lists (search, history, blacklist, boost, lift, bulk uploads, privacy
requests) and "Explain a decision"."""

from .entries import (
    blacklist_new,
    boost_new,
    bulk_confirm,
    bulk_detail,
    bulk_new,
    entry_lift,
    history,
    history_url,
    home,
    privacy_new,
    search,
)
from .explanations import (
    explain_form,
    explanation_detail,
    explanation_waterfall,
)

__all__ = [
    "blacklist_new",
    "boost_new",
    "bulk_confirm",
    "bulk_detail",
    "bulk_new",
    "entry_lift",
    "explain_form",
    "explanation_detail",
    "explanation_waterfall",
    "history",
    "history_url",
    "home",
    "privacy_new",
    "search",
]
