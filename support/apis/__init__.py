"""REST API v1 of support: the lists (agents change them, serving systems poll them) and the
explanations."""

from .explanations import (
    PLOT_MAX_AGE,
    ExplainerBackgroundApi,
    ExplanationDetailApi,
    ExplanationListApi,
    ExplanationWaterfallApi,
)
from .lists import (
    SURFACE_NAME,
    BlacklistApi,
    BoostApi,
    BulkConfirmApi,
    BulkDetailApi,
    BulkListApi,
    EntitySearchApi,
    EntryDetailApi,
    EntryFilterIn,
    EntryListApi,
    HistoryApi,
    LiftApi,
    ListsReadPermission,
    PrivacyRequestDetailApi,
    PrivacyRequestListApi,
    ServingListsApi,
    SupportAPIView,
    SurfaceListApi,
    fast_poll,
)

__all__ = [
    "PLOT_MAX_AGE", "SURFACE_NAME", "BlacklistApi", "BoostApi", "BulkConfirmApi", "BulkDetailApi",
    "BulkListApi", "EntitySearchApi", "EntryDetailApi", "EntryFilterIn", "EntryListApi",
    "ExplainerBackgroundApi", "ExplanationDetailApi", "ExplanationListApi", "ExplanationWaterfallApi",
    "HistoryApi", "LiftApi", "ListsReadPermission", "PrivacyRequestDetailApi", "PrivacyRequestListApi",
    "ServingListsApi", "SupportAPIView", "SurfaceListApi", "fast_poll",
]
