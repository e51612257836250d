"""Reads of support lists, shared by the API, the agents' pages and serving systems.

Page-friendly: querysets come with their users and surfaces loaded and a `current_state` annotation
(active / lifted / expired) to filter and show; an ID's history is a plain list of events.

Serving lists and their changes are computed here from the database; `support.lists.cache` keeps
them as pre-serialised bytes for the endpoint serving systems poll.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import chain

from django.conf import settings
from django.db.models import Case, CharField, Count, Max, Min, Q, QuerySet, Value, When
from django.utils import timezone

from mlops.errors import ApplicationError, NotFound

from ..models import (
    BulkUpload,
    EntryKind,
    EntryReason,
    EntryState,
    EraseState,
    ListEntry,
    ListState,
    PrivacyRequest,
    Surface,
)

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def entity_types() -> list[str]:
    """The kinds of ID this deployment blacklists and boosts (KEEL_SUPPORT_ENTITY_TYPES)."""
    return list(settings.KEEL_SUPPORT_ENTITY_TYPES)


# --- surfaces, entries, uploads, privacy requests -------------------------------------------------


def surfaces() -> QuerySet[Surface]:
    return Surface.objects.select_related("model")


def surface_get(name: str) -> Surface:
    try:
        return Surface.objects.select_related("model").get(name=name)
    except Surface.DoesNotExist:
        raise NotFound(f"There is no surface '{name}'.", field="surface") from None


def _with_state(queryset: QuerySet[ListEntry], now) -> QuerySet[ListEntry]:
    return queryset.annotate(
        current_state=Case(
            When(lifted_at__isnull=False, then=Value(EntryState.LIFTED)),
            When(expires_at__lte=now, then=Value(EntryState.EXPIRED)),
            default=Value(EntryState.ACTIVE),
            output_field=CharField(),
        )
    )


def entries(
    *,
    kind: str | None = None,
    entity_type: str | None = None,
    entity_id: str | None = None,
    state: str | None = None,
    surface: Surface | None = None,
    reason: str | None = None,
    now: datetime | None = None,
) -> QuerySet[ListEntry]:
    """Entries newest first, each with `current_state`; every filter optional. `surface` keeps the
    entries that apply there (for all surfaces, or naming it)."""
    now = now or timezone.now()
    queryset = ListEntry.objects.select_related("created_by", "lifted_by").prefetch_related("surfaces")
    if kind:
        queryset = queryset.filter(kind=kind)
    if entity_type:
        queryset = queryset.filter(entity_type=entity_type)
    if entity_id:
        queryset = queryset.filter(entity_id=entity_id)
    if reason:
        queryset = queryset.filter(reason=reason)
    if surface is not None:
        queryset = queryset.for_surface(surface)
    queryset = _with_state(queryset, now)
    if state:
        queryset = queryset.filter(current_state=state)
    return queryset


def entry_get(pk: int, *, now: datetime | None = None) -> ListEntry:
    try:
        return _with_state(
            ListEntry.objects.select_related("created_by", "lifted_by", "bulk").prefetch_related(
                "surfaces", "privacy_requests"
            ),
            now or timezone.now(),
        ).get(pk=pk)
    except ListEntry.DoesNotExist:
        raise NotFound(f"There is no list entry #{pk}.") from None


def entity_active_entries(*, entity_type: str, entity_id: str, now: datetime | None = None) -> list[ListEntry]:
    """What applies to an ID right now: its active blacklists and boosts."""
    return list(entries(entity_type=entity_type, entity_id=entity_id, state=EntryState.ACTIVE, now=now))


def bulk_uploads(*, created_by=None) -> QuerySet[BulkUpload]:
    queryset = BulkUpload.objects.select_related("created_by", "applied_by")
    return queryset.filter(created_by=created_by) if created_by is not None else queryset


def bulk_get(pk: int) -> BulkUpload:
    try:
        return BulkUpload.objects.select_related("created_by", "applied_by").get(pk=pk)
    except BulkUpload.DoesNotExist:
        raise NotFound(f"There is no bulk upload #{pk}.") from None


def privacy_requests(*, entity_type: str | None = None, entity_id: str | None = None) -> QuerySet[PrivacyRequest]:
    queryset = PrivacyRequest.objects.select_related("requested_by", "entry")
    if entity_type:
        queryset = queryset.filter(entity_type=entity_type)
    if entity_id:
        queryset = queryset.filter(entity_id=entity_id)
    return queryset


def privacy_request_get(pk: int) -> PrivacyRequest:
    try:
        return privacy_requests().get(pk=pk)
    except PrivacyRequest.DoesNotExist:
        raise NotFound(f"There is no privacy request #{pk}.") from None


def privacy_excluded_ids(*, entity_type: str | None = None) -> set[str]:
    """IDs whose owners asked to be forgotten: never sample, label or explain them again."""
    entity_type = entity_type or settings.KEEL_SUPPORT_PRIVACY_ENTITY_TYPE
    return set(PrivacyRequest.objects.filter(entity_type=entity_type).values_list("entity_id", flat=True))


# --- searching an ID and its history --------------------------------------------------------------


@dataclass(frozen=True)
class EntitySummary:
    entity_type: str
    entity_id: str
    active_blacklists: int
    active_boosts: int
    privacy_requested: bool
    last_change_at: datetime | None


def entity_search(
    *, query: str, entity_type: str | None = None, limit: int = 50, now: datetime | None = None
) -> list[EntitySummary]:
    """IDs with any support history that equal or start with `query` (exact matches first)."""
    now = now or timezone.now()
    query = (query or "").strip()
    if not query:
        return []
    match = Q(entity_id__istartswith=query)
    if entity_type:
        match &= Q(entity_type=entity_type)
    active = Q(lifted_at__isnull=True) & (Q(expires_at__isnull=True) | Q(expires_at__gt=now))
    rows = (
        ListEntry.objects.filter(match)
        .values("entity_type", "entity_id")
        .annotate(
            active_blacklists=Count("id", filter=active & Q(kind=EntryKind.BLACKLIST)),
            active_boosts=Count("id", filter=active & Q(kind=EntryKind.BOOST)),
            last_created=Max("created_at"),
            last_lifted=Max("lifted_at"),
        )
        .order_by("entity_type", "entity_id")[: limit * 2]
    )
    privacy = set(PrivacyRequest.objects.filter(match).values_list("entity_type", "entity_id")[: limit * 2])
    found: dict[tuple[str, str], EntitySummary] = {}
    for row in rows:
        key = (row["entity_type"], row["entity_id"])
        last = max(filter(None, [row["last_created"], row["last_lifted"]]), default=None)
        found[key] = EntitySummary(key[0], key[1], row["active_blacklists"], row["active_boosts"], key in privacy, last)
    for key in privacy - set(found):
        found[key] = EntitySummary(key[0], key[1], 0, 0, True, None)
    ordered = sorted(found.values(), key=lambda s: (s.entity_id != query, s.entity_type, s.entity_id))
    return ordered[:limit]


@dataclass(frozen=True)
class HistoryEvent:
    """One thing that happened to an ID. `actor` is None when Keel did it (an expiry, an erasure)."""

    at: datetime
    action: str  # blacklisted | boosted | lifted | expired | privacy_requested | data_erased
    actor: object | None
    reason: str
    note: str = ""
    entry: ListEntry | None = None
    privacy_request: PrivacyRequest | None = None

    @property
    def actor_name(self) -> str:
        return self.actor.get_username() if self.actor is not None else "Keel"


_ACTION_ORDER = {"privacy_requested": 0, "blacklisted": 1, "boosted": 1, "lifted": 2, "expired": 2, "data_erased": 3}


def entity_history(*, entity_type: str, entity_id: str, now: datetime | None = None) -> list[HistoryEvent]:
    """Every blacklist, boost, lift, expiry and privacy action on an ID: who, when, why. Newest first."""
    now = now or timezone.now()
    events: list[HistoryEvent] = []
    found = (
        ListEntry.objects.of_entity(entity_type, entity_id)
        .select_related("created_by", "lifted_by", "bulk")
        .prefetch_related("surfaces")
    )
    for entry in found:
        created = "blacklisted" if entry.kind == EntryKind.BLACKLIST else "boosted"
        events.append(
            HistoryEvent(
                entry.created_at, created, entry.created_by, entry.get_reason_display(), entry.note, entry=entry
            )
        )
        if entry.lifted_at is not None:
            events.append(HistoryEvent(entry.lifted_at, "lifted", entry.lifted_by, entry.lift_reason, entry=entry))
        elif entry.expires_at is not None and entry.expires_at <= now:
            events.append(HistoryEvent(entry.expires_at, "expired", None, "Reached its expiry", entry=entry))
    for request in privacy_requests(entity_type=entity_type, entity_id=entity_id):
        events.append(
            HistoryEvent(
                request.created_at,
                "privacy_requested",
                request.requested_by,
                EntryReason.PRIVACY.label,
                request.note,
                entry=request.entry,
                privacy_request=request,
            )
        )
        if request.erase_state == EraseState.DONE:
            counted = ", ".join(f"{name}: {count}" for name, count in sorted((request.erase_counts or {}).items()))
            events.append(
                HistoryEvent(
                    request.erased_at, "data_erased", None, "Logged data erased", counted, privacy_request=request
                )
            )
    events.sort(key=lambda e: (e.at, _ACTION_ORDER[e.action], e.entry.pk if e.entry else 0), reverse=True)
    return events


# --- serving lists --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Cursor:
    """Where a serving system is: the last change it has seen (`seq`) and the instant its copy was
    computed at (`at`, to find what expired since). Opaque to clients: "<seq>-<microseconds>"."""

    seq: int
    at: datetime

    def __str__(self) -> str:
        return f"{self.seq}-{(self.at - EPOCH) // timedelta(microseconds=1)}"

    @classmethod
    def parse(cls, text: str) -> "Cursor":
        seq, sep, micros = (text or "").strip().partition("-")
        if not (sep and seq.isdigit() and micros.isdigit() and len(seq) < 19 and len(micros) < 19):
            raise ApplicationError("Not a cursor: send back the `cursor` of an earlier response.", field="since")
        return cls(int(seq), EPOCH + timedelta(microseconds=int(micros)))


@dataclass(frozen=True)
class ServingList:
    surface: str
    cursor: Cursor
    next_expiry: datetime | None
    blacklist: list[tuple[str, str, datetime | None]]  # (entity_type, entity_id, expires_at), sorted
    boosts: list[tuple[str, str, float, datetime]]  # (entity_type, entity_id, weight, expires_at), sorted


@dataclass(frozen=True)
class ServingChanges:
    surface: str
    since: Cursor
    cursor: Cursor
    next_expiry: datetime | None
    added_blacklist: list[tuple[str, str, datetime | None]]  # added, or now ending at another time
    removed_blacklist: list[tuple[str, str]]
    added_boosts: list[tuple[str, str, float, datetime]]  # added, or with a new weight or expiry
    removed_boosts: list[tuple[str, str]]


def current_seq() -> int:
    """The number of the last committed change (0 before any)."""
    return ListState.objects.filter(pk=1).values_list("seq", flat=True).first() or 0


def _consistent(read):
    """Run `read` so that its queries all saw the same committed changes: each change bumps
    ListState.seq, so an unchanged seq before and after means no change committed in between (under
    READ COMMITTED each query sees a fresh snapshot). Returns (seq, result)."""
    for _ in range(20):
        before = current_seq()
        result = read()
        if current_seq() == before:
            return before, result
    raise ApplicationError("The lists are changing too fast to be read consistently; try again.", status_code=503)


_ROW = ("kind", "entity_type", "entity_id", "weight", "expires_at", "created_seq", "lifted_seq")


def _scoped(surface: Surface, queryset: QuerySet[ListEntry], fields: Iterable[str]):
    """Rows of entries that apply on a surface: two simple queries instead of one OR over a join."""
    fields = tuple(fields)
    return chain(
        queryset.filter(all_surfaces=True).values_list(*fields),
        queryset.filter(surface_links__surface=surface).values_list(*fields),
    )


def _applies(row, seq: int, at: datetime) -> bool:
    _, _, _, _, expires_at, created_seq, lifted_seq = row
    return created_seq <= seq and (lifted_seq is None or lifted_seq > seq) and (expires_at is None or expires_at > at)


def _combine(rows) -> tuple[dict, dict]:
    """Applying entries → the served lists: {(type, id): expires_at} blacklisted (None: for good, as
    long as any entry is open-ended) and {(type, id): (weight, expires_at)} boosted. A blacklist
    outranks a boost: an ID blacklisted on the surface is never served as boosted there."""
    blacklist: dict[tuple[str, str], datetime | None] = {}
    boosts: dict[tuple[str, str], tuple[int, float, datetime]] = {}
    for kind, entity_type, entity_id, weight, expires_at, created_seq, _ in rows:
        key = (entity_type, entity_id)
        if kind == EntryKind.BLACKLIST:
            if key not in blacklist:
                blacklist[key] = expires_at
            elif blacklist[key] is not None:
                blacklist[key] = None if expires_at is None else max(blacklist[key], expires_at)
        elif key not in boosts or created_seq > boosts[key][0]:  # the newest boost, should two overlap
            boosts[key] = (created_seq, weight, expires_at)
    return blacklist, {key: value[1:] for key, value in boosts.items() if key not in blacklist}


def _next_expiry(surface: Surface, now: datetime) -> datetime | None:
    upcoming = ListEntry.objects.active(now).filter(expires_at__isnull=False)
    found = [
        upcoming.filter(all_surfaces=True).aggregate(at=Min("expires_at"))["at"],
        upcoming.filter(surface_links__surface=surface).aggregate(at=Min("expires_at"))["at"],
    ]
    return min(filter(None, found), default=None)


def serving_list(*, surface: Surface, now: datetime | None = None) -> ServingList:
    """The blacklist and boosts a surface must apply at `now`: entries for all surfaces and those
    naming it, active (not lifted, not expired). `next_expiry` is when it next changes by itself."""
    now = now or timezone.now()

    def read():
        rows = list(_scoped(surface, ListEntry.objects.active(now), _ROW))
        return rows, _next_expiry(surface, now)

    seq, (rows, next_expiry) = _consistent(read)
    blacklist, boosts = _combine(rows)
    return ServingList(
        surface=surface.name,
        cursor=Cursor(seq, now),
        next_expiry=next_expiry,
        blacklist=sorted((t, i, exp) for (t, i), exp in blacklist.items()),
        boosts=sorted((t, i, weight, exp) for (t, i), (weight, exp) in boosts.items()),
    )


def serving_changes(*, surface: Surface, since: Cursor, now: datetime | None = None) -> ServingChanges:
    """What changed on a surface's lists between a cursor and `now`: IDs added (or whose expiry or
    weight changed) and IDs removed, whether lifted or expired.

    Exact, not approximate: the IDs touched since the cursor (an entry created or lifted by a later
    change, or expiring after the cursor's instant) are looked up with all their entries, and their
    served state at the cursor (changes ≤ seq, expiries ≤ at) is compared with their state now. A
    change never commits with a number lower than one already visible (see services._begin_change),
    so no late commit is skipped.
    """
    now = now or timezone.now()

    def read():
        touched = (
            Q(created_seq__gt=since.seq) | Q(lifted_seq__gt=since.seq) | Q(expires_at__gt=since.at, expires_at__lte=now)
        )
        keys = set(_scoped(surface, ListEntry.objects.filter(touched), ("entity_type", "entity_id")))
        by_type: dict[str, list[str]] = {}
        for entity_type, entity_id in keys:
            by_type.setdefault(entity_type, []).append(entity_id)
        rows = []
        for entity_type, ids in by_type.items():
            for start in range(0, len(ids), 500):
                chunk = ListEntry.objects.filter(entity_type=entity_type, entity_id__in=ids[start : start + 500])
                rows.extend(_scoped(surface, chunk, _ROW))
        return rows, _next_expiry(surface, now)

    seq, (rows, next_expiry) = _consistent(read)
    if since.seq > seq:
        raise ApplicationError(
            "That cursor is not from these lists' history; fetch the full list again.", field="since", status_code=410
        )
    then_blacklist, then_boosts = _combine(r for r in rows if _applies(r, since.seq, since.at))
    now_blacklist, now_boosts = _combine(r for r in rows if _applies(r, seq, now))
    missing = object()
    return ServingChanges(
        surface=surface.name,
        since=since,
        cursor=Cursor(seq, now),
        next_expiry=next_expiry,
        added_blacklist=sorted(
            (t, i, exp) for (t, i), exp in now_blacklist.items() if then_blacklist.get((t, i), missing) != exp
        ),
        removed_blacklist=sorted(key for key in then_blacklist if key not in now_blacklist),
        added_boosts=sorted(
            (t, i, weight, exp)
            for (t, i), (weight, exp) in now_boosts.items()
            if then_boosts.get((t, i), missing) != (weight, exp)
        ),
        removed_boosts=sorted(key for key in then_boosts if key not in now_boosts),
    )
