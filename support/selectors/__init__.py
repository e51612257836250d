"""Reads of support: the lists (entries, surfaces, bulk uploads, privacy requests, an ID's history,
serving lists and their changes), what only the agents' pages need, and the explanations."""

from .explanations import (
    MAX_CHOICES,
    PNG_CACHE_SECONDS,
    cached_for_entity,
    explainable_models,
    explanation_get,
    explanations,
    feature_inputs,
    waterfall_png,
)
from .lists import (
    EPOCH,
    Cursor,
    EntitySummary,
    HistoryEvent,
    ServingChanges,
    ServingList,
    bulk_get,
    bulk_uploads,
    current_seq,
    entity_active_entries,
    entity_history,
    entity_search,
    entity_types,
    entries,
    entry_get,
    privacy_excluded_ids,
    privacy_request_get,
    privacy_requests,
    serving_changes,
    serving_list,
    surface_get,
    surfaces,
)
from .pages import (
    RECENT_CHANGES,
    RecentChange,
    bulk_rows,
    privacy_entity_type,
    recent_changes,
)

__all__ = [
    "EPOCH", "MAX_CHOICES", "PNG_CACHE_SECONDS", "RECENT_CHANGES", "Cursor", "EntitySummary", "HistoryEvent",
    "RecentChange", "ServingChanges", "ServingList", "bulk_get", "bulk_rows", "bulk_uploads",
    "cached_for_entity", "current_seq", "entity_active_entries", "entity_history", "entity_search",
    "entity_types", "entries", "entry_get", "explainable_models", "explanation_get", "explanations",
    "feature_inputs", "privacy_entity_type", "privacy_excluded_ids", "privacy_request_get", "privacy_requests",
    "recent_changes", "serving_changes", "serving_list", "surface_get", "surfaces", "waterfall_png",
]
