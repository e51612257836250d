"""API v1 shapes of support: the lists' entries, bulk uploads and privacy requests, and the
explanations."""

from .entries import (
    BlacklistIn,
    BoostIn,
    BulkConfirmIn,
    BulkIn,
    BulkOut,
    EntitySummaryOut,
    EntryOut,
    HistoryEventOut,
    LiftIn,
    PrivacyRequestIn,
    PrivacyRequestOut,
    SurfaceOut,
)
from .explanations import (
    ExplainerBackgroundIn,
    ExplainerBackgroundOut,
    ExplanationIn,
    ExplanationOut,
)

__all__ = [
    "BlacklistIn",
    "BoostIn",
    "BulkConfirmIn",
    "BulkIn",
    "BulkOut",
    "EntitySummaryOut",
    "EntryOut",
    "ExplainerBackgroundIn",
    "ExplainerBackgroundOut",
    "ExplanationIn",
    "ExplanationOut",
    "HistoryEventOut",
    "LiftIn",
    "PrivacyRequestIn",
    "PrivacyRequestOut",
    "SurfaceOut",
]
