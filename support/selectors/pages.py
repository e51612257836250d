"""Reads only the agents' pages need (the shared ones are in support.selectors.lists).

Each is a handful of indexed, limited queries: the landing page must stay fast however long the
lists' history grows.
"""

from dataclasses import dataclass
from datetime import datetime

from django.conf import settings

from ..models import (
    BulkUpload,
    EntryKind,
    EntryReason,
    ListEntry,
    PrivacyRequest,
    RowStatus,
)

RECENT_CHANGES = 20


@dataclass(frozen=True)
class RecentChange:
    """One thing an agent did. A bulk upload is one change however many IDs it applied."""

    at: datetime
    action: str  # blacklisted | boosted | lifted | bulk_applied | privacy_requested
    actor: object
    entity_type: str = ""
    entity_id: str = ""
    what: str = ""  # the reason, scope, weight… in a few words
    entry: ListEntry | None = None
    bulk: BulkUpload | None = None
    privacy_request: PrivacyRequest | None = None

    @property
    def actor_name(self) -> str:
        return self.actor.get_username() if self.actor is not None else "Keel"


def _latest(queryset, actor_field: str, order: str, limit: int):
    """The `limit` latest rows by `order` (newest id first on a tie), with who did it."""
    return queryset.select_related(actor_field).order_by(order, "-id")[:limit]


def _entry_change(entry: ListEntry, at, action: str, actor, what: str) -> RecentChange:
    return RecentChange(at, action, actor, entry.entity_type, entry.entity_id, what, entry=entry)


def _entry_words(entry: ListEntry) -> str:
    words = [entry.get_reason_display(), f"on {entry.scope_label}"]
    if entry.kind == EntryKind.BOOST and entry.weight is not None:
        words.insert(1, f"weight {entry.weight:g}")
    return ", ".join(words)


def recent_changes(*, limit: int = RECENT_CHANGES) -> list[RecentChange]:
    """The last `limit` actions on the lists, newest first: blacklists and boosts added one by one,
    lifts, applied bulk uploads and privacy requests. Four queries of at most `limit` rows each,
    ordered by indexed change numbers (which follow commit order, hence time)."""
    changes: list[RecentChange] = []
    added = (
        ListEntry.objects.filter(bulk__isnull=True)
        .exclude(reason=EntryReason.PRIVACY)
        .select_related("created_by")
        .order_by("-created_seq", "-id")[:limit]
    )
    for entry in added:
        action = "blacklisted" if entry.kind == EntryKind.BLACKLIST else "boosted"
        changes.append(_entry_change(entry, entry.created_at, action, entry.created_by, _entry_words(entry)))
    lifted = _latest(ListEntry.objects.filter(lifted_seq__isnull=False), "lifted_by", "-lifted_seq", limit)
    for entry in lifted:
        what = f"{entry.get_kind_display().lower()} #{entry.pk}: {entry.lift_reason}"
        changes.append(_entry_change(entry, entry.lifted_at, "lifted", entry.lifted_by, what))
    applied = _latest(BulkUpload.objects.filter(applied_at__isnull=False), "applied_by", "-applied_at", limit)
    for bulk in applied:
        what = f"{bulk.applied_count} IDs, {bulk.get_reason_display()}, on {bulk.scope_label}"
        changes.append(RecentChange(bulk.applied_at, "bulk_applied", bulk.applied_by, what=what, bulk=bulk))
    requests = PrivacyRequest.objects.select_related("requested_by").order_by("-created_at", "-id")[:limit]
    for request in requests:
        changes.append(
            RecentChange(
                request.created_at,
                "privacy_requested",
                request.requested_by,
                request.entity_type,
                request.entity_id,
                request.reference or "no reference",
                privacy_request=request,
            )
        )
    changes.sort(key=lambda change: change.at, reverse=True)
    return changes[:limit]


def bulk_rows(bulk: BulkUpload, *, status: str | None = None, limit: int = 500) -> tuple[list[dict], int]:
    """A preview's rows to show (of one status, or all), at most `limit`, and how many there are.
    Problems first when showing all: they are what the agent must read."""
    rows = bulk.rows or []
    if status:
        chosen = [row for row in rows if row["status"] == status]
    else:
        order = {RowStatus.INVALID: 0, RowStatus.ALREADY_ACTIVE: 1, RowStatus.DUPLICATE: 2, RowStatus.NEW: 3}
        chosen = sorted(rows, key=lambda row: (order.get(row["status"], 9), row["line"]))
    return chosen[:limit], len(chosen)


def privacy_entity_type() -> str:
    return settings.KEEL_SUPPORT_PRIVACY_ENTITY_TYPE
