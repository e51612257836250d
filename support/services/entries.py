"""Every change of the support lists: blacklists, boosts, lifts, bulk uploads, privacy requests.

Rules kept here (and by the database wherever a constraint or trigger can say it):
- nothing is deleted or edited: an entry ends, lifted early with a reason or expired, and the
  history stays;
- every change first takes the change lock and its number (`_begin_change`): changes are serialised,
  conflict checks see every earlier change, and a serving list's cursor never skips a late commit;
- guard rails: a per-agent rate limit (HTTP 429), a typed count to confirm a large bulk blacklist,
  and conflicts (boosting a blacklisted ID, repeating an active entry) refused naming the entry;
- the serving lists' cache is invalidated after every commit (never before: a reader could rebuild
  from the old rows and keep them under the new generation).
"""

import csv
import hashlib
import io
import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerUnavailable

from mlops.errors import ApplicationError, Conflict, NotFound
from registry.models import RegisteredModel

from . import lists_cache
from .models import (
    ALL_SURFACES,
    BLACKLIST_REASONS,
    BOOST_REASONS,
    BulkUpload,
    EntryKind,
    EntryReason,
    EntrySurface,
    EraseState,
    ListEntry,
    ListState,
    PrivacyRequest,
    RowStatus,
    Surface,
)

__all__ = [
    "RateLimited", "surface_create", "surface_update", "blacklist_add", "boost_add", "entry_lift", "bulk_preview",
    "bulk_confirm", "privacy_request_create", "privacy_request_erase", "privacy_erasures_requeue",
    "entity_data_erase", "rate_limit_remaining", "boost_default_expiry",
]

log = logging.getLogger(__name__)

ID_PATTERN = re.compile(r"[^\s\x00-\x1f\x7f]{1,200}")
MAX_SURFACES_PER_ENTRY = 20
RATE_BUCKETS = 10
COLD_START_DAYS = 14


class RateLimited(ApplicationError):
    """An agent made too many changes in the window; `retry_after` is in seconds."""

    status_code = 429

    def __init__(self, message: str, *, retry_after: int):
        super().__init__(message)
        self.retry_after = retry_after


# --- the change lock ---------------------------------------------------------------------------------


def _begin_change() -> int:
    """Take the change lock and this change's number. Call first in every change's transaction.

    Cursor correctness. Serving systems poll `?since=<cursor>` and must never miss a change. If
    changes were numbered by an auto-increment id or a timestamp, a transaction could take number 10,
    commit after number 11 had committed and been read by a poller, and that poller, now past 11,
    would skip 10 for ever. Here every change starts by incrementing the one ListState row; the row
    lock is held until the change commits, so the next change cannot take its number until this one
    is visible: numbers become visible in order, without gaps. Readers take the number and the rows
    as of one instant (selectors._consistent), so a cursor means "every change up to N, nothing
    after". On SQLite the UPDATE takes the database's write lock, with the same effect. Changes are
    made by people, rate limited, so serialising them costs nothing that matters. The lock also makes
    conflict checks race-free: two agents cannot both add the same entry.
    """
    # First statement of the transaction, also for SQLite: a transaction that read before it writes
    # cannot wait for the write lock there ("database is locked"); one that writes first queues.
    connection = transaction.get_connection()
    if not connection.in_atomic_block:
        raise RuntimeError("_begin_change must run inside the change's transaction")
    # An upsert: the row is made by a migration, but a test database's flush removes it, and two
    # first changes must then not both try to create it.
    table = connection.ops.quote_name(ListState._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {table} (id, seq) VALUES (1, 1) "
                       f"ON CONFLICT (id) DO UPDATE SET seq = {table}.seq + 1 RETURNING seq")
        seq = cursor.fetchone()[0]
    transaction.on_commit(lists_cache.invalidate)
    return seq


# --- rate limit (Django cache: Redis in production) ------------------------------------------------------


def _rate_bucket_seconds() -> int:
    return max(1, settings.KEEL_SUPPORT_RATE_LIMIT_SECONDS // RATE_BUCKETS)


def _rate_keys(actor_pk: int, now: datetime) -> list[tuple[int, str]]:
    size = _rate_bucket_seconds()
    current = int(now.timestamp()) // size
    return [(b, f"support:rate:{actor_pk}:{b}") for b in range(current - RATE_BUCKETS + 1, current + 1)]


def _rate_counts(actor_pk: int, now: datetime) -> list[tuple[int, int]]:
    keys = _rate_keys(actor_pk, now)
    found = cache.get_many([key for _, key in keys])
    return [(bucket, int(found.get(key) or 0)) for bucket, key in keys]


def rate_limit_remaining(*, actor, now: datetime | None = None) -> int:
    """How many changes the agent may still make in the current window (for pages to show)."""
    used = sum(count for _, count in _rate_counts(actor.pk, now or timezone.now()))
    return max(0, settings.KEEL_SUPPORT_RATE_LIMIT_CHANGES - used)


def _rate_check(actor, now: datetime) -> None:
    """Counts the agent's changes in the last window (ten buckets of a tenth of it: a sliding window
    to within a tenth, never more lenient than the setting)."""
    limit = settings.KEEL_SUPPORT_RATE_LIMIT_CHANGES
    counts = _rate_counts(actor.pk, now)
    used = sum(count for _, count in counts)
    if used < limit:
        return
    size = _rate_bucket_seconds()
    # Free again when enough of the oldest buckets have left the window.
    excess, retry_after = used - limit + 1, size
    for bucket, count in counts:
        excess -= count
        if excess <= 0:
            retry_after = max(1, int((bucket + RATE_BUCKETS) * size - now.timestamp()) + 1)
            break
    minutes = settings.KEEL_SUPPORT_RATE_LIMIT_SECONDS / 60
    raise RateLimited(f"You have made {used} changes in the last {minutes:g} minutes; the limit is {limit}. "
                      f"Try again in {retry_after} seconds.", retry_after=retry_after)


def _rate_record(actor_pk: int, now: datetime) -> None:
    size = _rate_bucket_seconds()
    key = f"support:rate:{actor_pk}:{int(now.timestamp()) // size}"
    cache.add(key, 0, timeout=settings.KEEL_SUPPORT_RATE_LIMIT_SECONDS + 2 * size)
    try:
        cache.incr(key)
    except ValueError:  # evicted in between: count this change anew
        cache.add(key, 1, timeout=settings.KEEL_SUPPORT_RATE_LIMIT_SECONDS + 2 * size)


def _after_change(actor, now: datetime) -> None:
    """A successful change counts against the agent's rate limit once it has committed."""
    actor_pk = actor.pk
    transaction.on_commit(lambda: _rate_record(actor_pk, now))


# --- validation -------------------------------------------------------------------------------------------


def _entity_problem(entity_type: str, entity_id: str) -> tuple[str, str] | None:
    """(field, message) for an unusable entity type or ID, else None."""
    types = settings.KEEL_SUPPORT_ENTITY_TYPES
    if entity_type not in types:
        return "entity_type", f"Unknown entity type '{entity_type}'; this deployment has: {', '.join(types)}."
    if not entity_id:
        return "entity_id", "The ID is empty."
    if not ID_PATTERN.fullmatch(entity_id):
        return "entity_id", "An ID is 1–200 characters without spaces or control characters."
    return None


def _check_entity(entity_type: str, entity_id: str) -> tuple[str, str]:
    entity_type, entity_id = (entity_type or "").strip(), (entity_id or "").strip()
    problem = _entity_problem(entity_type, entity_id)
    if problem:
        raise ApplicationError(problem[1], field=problem[0])
    return entity_type, entity_id


def _check_reason(kind: str, reason: str, note: str) -> None:
    if kind == EntryKind.BLACKLIST and reason == EntryReason.PRIVACY:
        raise ApplicationError("File a privacy request instead: it blacklists the customer everywhere and erases "
                               "their logged data.", field="reason")
    allowed = BLACKLIST_REASONS if kind == EntryKind.BLACKLIST else BOOST_REASONS
    if reason not in allowed:
        names = ", ".join(r.value for r in allowed if r != EntryReason.PRIVACY)
        raise ApplicationError(f"A {kind} reason is one of: {names}.", field="reason")
    if reason == EntryReason.OTHER and not note:
        raise ApplicationError("Say why in the note when the reason is 'other'.", field="note")


def _check_expiry(expires_at: datetime | None, now: datetime) -> None:
    if expires_at is None:
        return
    if timezone.is_naive(expires_at):
        raise ApplicationError("Give the expiry with its time zone (e.g. 2026-12-01T00:00:00Z).", field="expires_at")
    if expires_at <= now:
        raise ApplicationError("The expiry must be in the future.", field="expires_at")


def _check_boost(weight: float | None, expires_at: datetime | None, now: datetime) -> None:
    low, high = settings.KEEL_SUPPORT_BOOST_MIN_WEIGHT, settings.KEEL_SUPPORT_BOOST_MAX_WEIGHT
    if weight is None or not (low <= weight <= high) or weight <= 0:
        raise ApplicationError(f"A boost's weight is between {low:g} and {high:g}.", field="weight")
    if expires_at is None:
        raise ApplicationError("Boosts are temporary: give an expiry.", field="expires_at")
    _check_expiry(expires_at, now)
    longest = settings.KEEL_SUPPORT_BOOST_MAX_DAYS
    if expires_at > now + timedelta(days=longest):
        raise ApplicationError(f"A boost lasts at most {longest} days.", field="expires_at")


def boost_default_expiry(now: datetime | None = None) -> datetime:
    """When a cold-start boost made now ends (two weeks), within the longest boost allowed."""
    days = min(COLD_START_DAYS, settings.KEEL_SUPPORT_BOOST_MAX_DAYS)
    return (now or timezone.now()) + timedelta(days=days)


@dataclass(frozen=True)
class _Scope:
    all_surfaces: bool
    surfaces: list[Surface]
    key: str


def _resolve_scope(*, all_surfaces: bool, surfaces: Iterable[str]) -> _Scope:
    names = sorted({(name or "").strip() for name in surfaces or ()} - {""})
    if all_surfaces and names:
        raise ApplicationError("Choose all surfaces or named surfaces, not both.", field="surfaces")
    if all_surfaces:
        return _Scope(True, [], ALL_SURFACES)
    if not names:
        raise ApplicationError("Say where: all surfaces, or one or more named surfaces.", field="surfaces")
    if len(names) > MAX_SURFACES_PER_ENTRY:
        raise ApplicationError(f"Name at most {MAX_SURFACES_PER_ENTRY} surfaces, or choose all surfaces.",
                               field="surfaces")
    found = {surface.name: surface for surface in Surface.objects.filter(name__in=names)}
    missing = [name for name in names if name not in found]
    if missing:
        known = ", ".join(Surface.objects.values_list("name", flat=True)) or "none yet"
        raise ApplicationError(f"Unknown surfaces: {', '.join(missing)} (known: {known}).", field="surfaces")
    return _Scope(False, [found[name] for name in names], ",".join(names))


def _overlaps(key_a: str, key_b: str) -> bool:
    if ALL_SURFACES in (key_a, key_b):
        return True
    return bool(set(key_a.split(",")) & set(key_b.split(",")))


# --- conflicts -------------------------------------------------------------------------------------------


def _describe(entry: ListEntry) -> str:
    parts = [entry.get_reason_display()]
    if entry.kind == EntryKind.BOOST:
        parts.append(f"weight {entry.weight:g}")
    parts.append(f"by {entry.created_by.get_username()} on {entry.created_at:%Y-%m-%d %H:%M}")
    if entry.expires_at:
        parts.append(f"until {entry.expires_at:%Y-%m-%d %H:%M}")
    return f"entry #{entry.pk} ({', '.join(parts)})"


@dataclass(frozen=True)
class _Clash:
    status: str  # RowStatus.ALREADY_ACTIVE, or RowStatus.INVALID for a conflict
    entry: ListEntry
    message: str


def _clash(kind: str, entity_type: str, entity_id: str, scope_key: str, active: list[ListEntry]) -> _Clash | None:
    """Why a new entry may not join the active ones of its ID, if it may not."""
    who = f"{entity_type} {entity_id}"
    for entry in active:
        where = entry.scope_label
        if kind == EntryKind.BLACKLIST and entry.kind == EntryKind.BLACKLIST and entry.scope_key == scope_key:
            return _Clash(RowStatus.ALREADY_ACTIVE, entry,
                          f"{who} is already blacklisted on {where} by {_describe(entry)}. Lift it first to change it.")
        if kind == EntryKind.BOOST and entry.kind == EntryKind.BLACKLIST and _overlaps(entry.scope_key, scope_key):
            return _Clash(RowStatus.INVALID, entry,
                          f"{who} is blacklisted on {where} by {_describe(entry)}: a blacklisted ID cannot be "
                          "boosted there.")
    for entry in active:
        if kind == EntryKind.BOOST and entry.kind == EntryKind.BOOST:
            if entry.scope_key == scope_key:
                return _Clash(RowStatus.ALREADY_ACTIVE, entry,
                              f"{who} is already boosted on {entry.scope_label} by {_describe(entry)}. "
                              "Lift it first to change it.")
            if _overlaps(entry.scope_key, scope_key):
                return _Clash(RowStatus.INVALID, entry,
                              f"{who} is already boosted on {entry.scope_label} by {_describe(entry)}, which "
                              "overlaps this scope: one boost per ID and surface.")
    return None


def _active_by_entity(keys: Iterable[tuple[str, str]], now: datetime) -> dict[tuple[str, str], list[ListEntry]]:
    by_type: dict[str, list[str]] = {}
    for entity_type, entity_id in set(keys):
        by_type.setdefault(entity_type, []).append(entity_id)
    found: dict[tuple[str, str], list[ListEntry]] = {}
    for entity_type, ids in by_type.items():
        for start in range(0, len(ids), 500):
            rows = (ListEntry.objects.active(now).select_related("created_by")
                    .filter(entity_type=entity_type, entity_id__in=ids[start:start + 500]).order_by("created_seq"))
            for entry in rows:
                found.setdefault((entry.entity_type, entry.entity_id), []).append(entry)
    return found


def _refuse_clash(clash: _Clash | None) -> None:
    if clash is not None:
        raise Conflict(clash.message, field="entity_id", detail={"existing_entry": [str(clash.entry.pk)]})


# --- surfaces ----------------------------------------------------------------------------------------------


@transaction.atomic
def surface_create(*, name: str, description: str = "", model: RegisteredModel | None = None) -> Surface:
    name = (name or "").strip()
    if not re.fullmatch(r"[-a-zA-Z0-9_]{1,64}", name):
        raise ApplicationError("A surface name is a slug: letters, digits, - and _.", field="name")
    if Surface.objects.filter(name=name).exists():
        raise Conflict(f"There is already a surface '{name}'.", field="name")
    return Surface.objects.create(name=name, description=description, model=model)


_UNCHANGED = object()


@transaction.atomic
def surface_update(*, surface: Surface, description: str | None = None, model=_UNCHANGED) -> Surface:
    """Surfaces keep their name (entries name them); their description and model may change."""
    if description is not None:
        surface.description = description
    if model is not _UNCHANGED:
        surface.model = model
    surface.save(update_fields=["description", "model"])
    return surface


# --- entries -----------------------------------------------------------------------------------------------


def _create_entries(*, kind: str, keys: Sequence[tuple[str, str]], reason: str, note: str, scope: _Scope,
                    weight: float | None, expires_at: datetime | None, actor, now: datetime, seq: int,
                    bulk: BulkUpload | None = None) -> list[ListEntry]:
    made = ListEntry.objects.bulk_create([
        ListEntry(kind=kind, entity_type=entity_type, entity_id=entity_id, reason=reason, note=note,
                  all_surfaces=scope.all_surfaces, scope_key=scope.key, weight=weight, expires_at=expires_at,
                  created_by=actor, created_at=now, created_seq=seq, bulk=bulk)
        for entity_type, entity_id in keys
    ], batch_size=1000)
    if scope.surfaces:
        if any(entry.pk is None for entry in made):  # a backend that does not return ids
            made = list(ListEntry.objects.filter(created_seq=seq, bulk=bulk).order_by("pk"))
        EntrySurface.objects.bulk_create(
            [EntrySurface(entry=entry, surface=surface) for entry in made for surface in scope.surfaces],
            batch_size=2000)
    return made


@transaction.atomic
def blacklist_add(*, actor, entity_type: str, entity_id: str, reason: str, note: str = "",
                  all_surfaces: bool = False, surfaces: Sequence[str] = (),
                  expires_at: datetime | None = None) -> ListEntry:
    """Stop serving an ID on all surfaces or named ones, until `expires_at` (None: until lifted).
    Refused (409, naming the entry) if the ID is already blacklisted on exactly that scope."""
    now = timezone.now()
    entity_type, entity_id = _check_entity(entity_type, entity_id)
    note = (note or "").strip()
    _check_reason(EntryKind.BLACKLIST, reason, note)
    _check_expiry(expires_at, now)
    _rate_check(actor, now)
    seq = _begin_change()
    scope = _resolve_scope(all_surfaces=all_surfaces, surfaces=surfaces)
    active = _active_by_entity([(entity_type, entity_id)], now).get((entity_type, entity_id), [])
    _refuse_clash(_clash(EntryKind.BLACKLIST, entity_type, entity_id, scope.key, active))
    [entry] = _create_entries(kind=EntryKind.BLACKLIST, keys=[(entity_type, entity_id)], reason=reason, note=note,
                              scope=scope, weight=None, expires_at=expires_at, actor=actor, now=now, seq=seq)
    _after_change(actor, now)
    return entry


@transaction.atomic
def boost_add(*, actor, entity_type: str, entity_id: str, weight: float, expires_at: datetime, reason: str,
              note: str = "", all_surfaces: bool = False, surfaces: Sequence[str] = ()) -> ListEntry:
    """Lift an ID in the rankings of all surfaces or named ones, for a while (boosts always expire).
    Refused (409, naming the entry) on a surface where the ID is blacklisted or already boosted."""
    now = timezone.now()
    entity_type, entity_id = _check_entity(entity_type, entity_id)
    note = (note or "").strip()
    _check_reason(EntryKind.BOOST, reason, note)
    _check_boost(weight, expires_at, now)
    _rate_check(actor, now)
    seq = _begin_change()
    scope = _resolve_scope(all_surfaces=all_surfaces, surfaces=surfaces)
    active = _active_by_entity([(entity_type, entity_id)], now).get((entity_type, entity_id), [])
    _refuse_clash(_clash(EntryKind.BOOST, entity_type, entity_id, scope.key, active))
    [entry] = _create_entries(kind=EntryKind.BOOST, keys=[(entity_type, entity_id)], reason=reason, note=note,
                              scope=scope, weight=float(weight), expires_at=expires_at, actor=actor, now=now, seq=seq)
    _after_change(actor, now)
    return entry


@transaction.atomic
def entry_lift(*, entry: ListEntry | int, actor, reason: str) -> ListEntry:
    """End an active entry early, saying why. The entry stays, with who lifted it, when and why."""
    now = timezone.now()
    reason = (reason or "").strip()
    if not reason:
        raise ApplicationError("Say why the entry is lifted early.", field="reason")
    pk = entry.pk if isinstance(entry, ListEntry) else int(entry)
    _rate_check(actor, now)
    seq = _begin_change()
    found = ListEntry.objects.select_related("lifted_by").filter(pk=pk).first()
    if found is None:
        raise NotFound(f"There is no list entry #{pk}.")
    if found.reason == EntryReason.PRIVACY:
        raise Conflict(f"Entry #{pk} keeps a customer who asked to be forgotten out everywhere; it is never lifted.")
    if found.lifted_at is not None:
        raise Conflict(f"Entry #{pk} was already lifted by {found.lifted_by.get_username()} on "
                       f"{found.lifted_at:%Y-%m-%d %H:%M}.")
    if found.expires_at is not None and found.expires_at <= now:
        raise Conflict(f"Entry #{pk} already expired on {found.expires_at:%Y-%m-%d %H:%M}.")
    ListEntry.objects.filter(pk=pk, lifted_at__isnull=True).update(
        lifted_at=now, lifted_by=actor, lift_reason=reason, lifted_seq=seq)
    _after_change(actor, now)
    found.refresh_from_db()
    return found


# --- bulk uploads ------------------------------------------------------------------------------------------


@dataclass
class _Row:
    line: int
    entity_type: str
    entity_id: str
    problem: str = ""


def _read_upload(file, limit: int) -> bytes:
    if isinstance(file, bytes | bytearray):
        data = bytes(file)
    else:
        size = getattr(file, "size", None)
        if size is not None and size > limit:
            raise ApplicationError(f"The file is {size} bytes; the limit is {limit} bytes.", field="file",
                                   status_code=413)
        if hasattr(file, "seek"):
            file.seek(0)
        data = file.read(limit + 1)
        if isinstance(data, str):
            data = data.encode()
    if len(data) > limit:
        raise ApplicationError(f"The file is over the limit of {limit} bytes.", field="file", status_code=413)
    return data


def _parse_csv(data: bytes, default_type: str) -> list[_Row]:
    """One ID per line, or a header naming `entity_id` (and optionally `entity_type`) columns."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ApplicationError(f"The file is not UTF-8 text (first bad byte at offset {exc.start}).",
                               field="file") from None
    reader = csv.reader(io.StringIO(text, newline=""))
    rows: list[_Row] = []
    columns: dict[str, int] | None = None
    limit = settings.KEEL_SUPPORT_BULK_MAX_ROWS
    try:
        for cells in reader:
            cells = [cell.strip() for cell in cells]
            if not any(cells):
                continue
            if columns is None and not rows and "entity_id" in [c.lower() for c in cells]:
                names = [c.lower() for c in cells]
                unknown = sorted(set(names) - {"entity_id", "entity_type"})
                if unknown:
                    raise ApplicationError(f"Unknown columns: {', '.join(unknown)}. A bulk file has entity_id and "
                                           "optionally entity_type.", field="file")
                columns = {name: names.index(name) for name in ("entity_id", "entity_type") if name in names}
                continue
            if len(rows) >= limit:
                raise ApplicationError(f"The file has more than {limit} rows; split it.", field="file",
                                       status_code=413)
            line = reader.line_num
            if columns is None:
                if len(cells) != 1:
                    rows.append(_Row(line, default_type, ",".join(cells),
                                     "One ID per line, or a header row naming entity_id and entity_type."))
                    continue
                rows.append(_Row(line, default_type, cells[0]))
                continue
            if len(cells) != len(columns):
                rows.append(_Row(line, default_type, ",".join(cells),
                                 f"Expected {len(columns)} columns, found {len(cells)}."))
                continue
            entity_type = cells[columns["entity_type"]] if "entity_type" in columns else default_type
            rows.append(_Row(line, entity_type or default_type, cells[columns["entity_id"]]))
    except csv.Error as exc:
        raise ApplicationError(f"The file is not a readable CSV (line {reader.line_num}: {exc}).",
                               field="file") from None
    if not rows:
        raise ApplicationError("The file has no IDs.", field="file")
    return rows


def _classify(rows: list[_Row], *, kind: str, scope_key: str, now: datetime) -> list[dict]:
    """Each row's status: new, duplicate (of an earlier line), invalid (with why), already active."""
    for row in rows:
        if not row.problem:
            problem = _entity_problem(row.entity_type, row.entity_id)
            row.problem = problem[1] if problem else ""
    active = _active_by_entity([(r.entity_type, r.entity_id) for r in rows if not r.problem], now)
    first_line: dict[tuple[str, str], int] = {}
    out = []
    for row in rows:
        key = (row.entity_type, row.entity_id)
        result = {"line": row.line, "entity_type": row.entity_type, "entity_id": row.entity_id,
                  "status": RowStatus.NEW.value, "message": "", "existing_entry": None}
        if row.problem:
            result.update(status=RowStatus.INVALID.value, message=row.problem)
        elif key in first_line:
            result.update(status=RowStatus.DUPLICATE.value, message=f"Same ID as line {first_line[key]}.")
        else:
            first_line[key] = row.line
            clash = _clash(kind, row.entity_type, row.entity_id, scope_key, active.get(key, []))
            if clash is not None:
                result.update(status=clash.status.value, message=clash.message, existing_entry=clash.entry.pk)
        out.append(result)
    return out


@transaction.atomic
def bulk_preview(*, actor, kind: str, file, entity_type: str, reason: str, filename: str = "",
                 note: str = "", all_surfaces: bool = False, surfaces: Sequence[str] = (),
                 weight: float | None = None, expires_at: datetime | None = None) -> BulkUpload:
    """Read a CSV of IDs and record what confirming it would do, row by row. Writes no entry."""
    now = timezone.now()
    if kind not in EntryKind.values:
        raise ApplicationError("Say what to do: blacklist or boost.", field="kind")
    entity_type = (entity_type or "").strip()
    if entity_type not in settings.KEEL_SUPPORT_ENTITY_TYPES:
        raise ApplicationError(f"Unknown entity type '{entity_type}'; this deployment has: "
                               f"{', '.join(settings.KEEL_SUPPORT_ENTITY_TYPES)}.", field="entity_type")
    note = (note or "").strip()
    _check_reason(kind, reason, note)
    if kind == EntryKind.BOOST:
        _check_boost(weight, expires_at, now)
    else:
        weight = None
        _check_expiry(expires_at, now)
    scope = _resolve_scope(all_surfaces=all_surfaces, surfaces=surfaces)
    data = _read_upload(file, settings.KEEL_SUPPORT_BULK_MAX_BYTES)
    rows = _classify(_parse_csv(data, entity_type), kind=kind, scope_key=scope.key, now=now)
    counts = {status: 0 for status in RowStatus.values}
    for row in rows:
        counts[row["status"]] += 1
    return BulkUpload.objects.create(
        kind=kind, reason=reason, note=note, all_surfaces=scope.all_surfaces,
        surface_names=[s.name for s in scope.surfaces], weight=weight, expires_at=expires_at,
        default_entity_type=entity_type, filename=(filename or getattr(file, "name", "") or "")[:255],
        sha256=hashlib.sha256(data).hexdigest(), size_bytes=len(data), rows=rows, counts=counts, created_by=actor,
        created_at=now, preview_expires_at=now + timedelta(seconds=settings.KEEL_SUPPORT_BULK_PREVIEW_SECONDS))


def bulk_needs_count(bulk: BulkUpload) -> bool:
    """Whether confirming must repeat the number of IDs (a blacklist over the threshold)."""
    return bulk.kind == EntryKind.BLACKLIST and bulk.new_count > settings.KEEL_SUPPORT_BULK_CONFIRM_THRESHOLD


@transaction.atomic
def bulk_confirm(*, bulk: BulkUpload | int, actor, confirm_count: int | None = None) -> BulkUpload:
    """Apply exactly the previewed `new` rows, all or nothing, once. Confirming an applied upload
    again (a double-click, a retried request) changes nothing and returns it with
    `already_applied=True`. Refused if any row is invalid, the preview expired, the count was not
    typed for a large blacklist, or the lists changed since the preview so a new row no longer is."""
    now = timezone.now()
    pk = bulk.pk if isinstance(bulk, BulkUpload) else int(bulk)
    seq = _begin_change()  # a second click waits here until the first one has committed
    found = BulkUpload.objects.select_for_update().filter(pk=pk).first()
    if found is None:
        raise NotFound(f"There is no bulk upload #{pk}.")
    if found.created_by_id != actor.pk:
        raise ApplicationError("Only the agent who uploaded a file may confirm it.", status_code=403)
    if found.applied_at is not None:
        found.already_applied = True
        return found
    if now >= found.preview_expires_at:
        raise Conflict(f"This preview expired at {found.preview_expires_at:%Y-%m-%d %H:%M}; upload the file again.")
    if found.invalid_count:
        bad = [row for row in found.rows if row["status"] == RowStatus.INVALID]
        shown = "; ".join(f"line {row['line']}: {row['message']}" for row in bad[:3])
        more = f" and {len(bad) - 3} more" if len(bad) > 3 else ""
        raise ApplicationError(f"{len(bad)} rows are invalid ({shown}{more}). Nothing was written: fix the file "
                               "and upload it again.", field="file")
    new_rows = [row for row in found.rows if row["status"] == RowStatus.NEW]
    if not new_rows:
        raise ApplicationError("Nothing to apply: every row is a duplicate or already active.", field="file")
    if bulk_needs_count(found) and confirm_count != len(new_rows):
        raise ApplicationError(f"This blacklists {len(new_rows)} IDs. To confirm, type the number: "
                               f"confirm_count={len(new_rows)}.", field="confirm_count")
    _rate_check(actor, now)
    if found.expires_at is not None and found.expires_at <= now:
        raise Conflict("The expiry chosen for this upload has passed; upload the file again.", field="expires_at")
    scope = _resolve_scope(all_surfaces=found.all_surfaces, surfaces=found.surface_names)
    # The lists may have changed since the preview: the same rows must still be new, or nothing is written.
    again = _classify([_Row(r["line"], r["entity_type"], r["entity_id"]) for r in new_rows],
                      kind=found.kind, scope_key=scope.key, now=now)
    changed = [row for row in again if row["status"] != RowStatus.NEW]
    if changed:
        shown = "; ".join(f"line {row['line']}: {row['message']}" for row in changed[:3])
        raise Conflict(f"The lists changed since the preview ({shown}). Nothing was written: preview the file "
                       "again.", field="file")
    made = _create_entries(kind=found.kind, keys=[(r["entity_type"], r["entity_id"]) for r in new_rows],
                           reason=found.reason, note=found.note, scope=scope, weight=found.weight,
                           expires_at=found.expires_at, actor=actor, now=now, seq=seq, bulk=found)
    marked = BulkUpload.objects.filter(pk=pk, applied_at__isnull=True).update(
        applied_at=now, applied_by=actor, applied_count=len(made))
    if marked != 1:
        raise Conflict("This upload was applied meanwhile.")  # rolls back: it is applied once
    _after_change(actor, now)
    found.refresh_from_db()
    found.already_applied = False
    return found


# --- privacy requests --------------------------------------------------------------------------------------


def entity_data_erase(*, entity_id: str) -> dict:
    """Erase or anonymise an entity's logged features and predictions and exclude it from later
    sampling. The audits app owns that data; this returns its counts of what it anonymised."""
    from audits import services as audit_services

    counts = audit_services.entity_erase(entity_id=entity_id)
    # Cached explanations hold the customer's features too (support/explanations.py); counted when any.
    from .explanations import explanations_erase

    removed = explanations_erase(entity_id=entity_id)
    return {**counts, "explanations": removed} if removed else counts


def _queue_erase(request_id: int) -> None:
    from .tasks import erase_privacy_request

    try:
        erase_privacy_request.delay(request_id)
    except BrokerUnavailable:
        log.warning("Broker unavailable: privacy request %s waits for the sweep", request_id)


@transaction.atomic
def privacy_request_create(*, actor, entity_id: str, reference: str = "", note: str = "") -> PrivacyRequest:
    """A customer wants out: blacklisted everywhere for good (reason privacy), their boosts lifted,
    and their logged data erased in the background (the request records that it was done)."""
    now = timezone.now()
    entity_type, entity_id = _check_entity(settings.KEEL_SUPPORT_PRIVACY_ENTITY_TYPE, entity_id)
    reference, note = (reference or "").strip()[:200], (note or "").strip()
    _rate_check(actor, now)
    seq = _begin_change()
    entry = ListEntry.objects.filter(entity_type=entity_type, entity_id=entity_id, reason=EntryReason.PRIVACY,
                                     lifted_at__isnull=True).first()
    if entry is None:  # a repeated request erases again, under the same blacklist
        [entry] = _create_entries(kind=EntryKind.BLACKLIST, keys=[(entity_type, entity_id)],
                                  reason=EntryReason.PRIVACY, note=note,
                                  scope=_Scope(True, [], ALL_SURFACES), weight=None, expires_at=None,
                                  actor=actor, now=now, seq=seq)
    request = PrivacyRequest.objects.create(entity_type=entity_type, entity_id=entity_id, reference=reference,
                                            note=note, entry=entry, requested_by=actor, created_at=now)
    ListEntry.objects.active(now).filter(entity_type=entity_type, entity_id=entity_id, kind=EntryKind.BOOST).update(
        lifted_at=now, lifted_by=actor, lift_reason=f"Privacy request #{request.pk}", lifted_seq=seq)
    transaction.on_commit(lambda: _queue_erase(request.pk), robust=True)
    _after_change(actor, now)
    return request


def privacy_request_erase(*, request_id: int) -> PrivacyRequest:
    """Have the customer's logged data erased and record that it was (counts only). Idempotent: a
    request already erased is returned unchanged. A failure is recorded and raised, to be retried."""
    request = PrivacyRequest.objects.get(pk=request_id)
    if request.erase_state == EraseState.DONE:
        return request
    try:
        counts = entity_data_erase(entity_id=request.entity_id)
        counts = {str(name): int(count) for name, count in dict(counts or {}).items()}
    except Exception as exc:
        PrivacyRequest.objects.filter(pk=request_id, erase_state=EraseState.PENDING).update(
            erase_attempts=F("erase_attempts") + 1, erase_error=f"{type(exc).__name__}: {exc}"[:2000])
        raise
    PrivacyRequest.objects.filter(pk=request_id, erase_state=EraseState.PENDING).update(
        erase_state=EraseState.DONE, erase_counts=counts, erased_at=timezone.now(),
        erase_attempts=F("erase_attempts") + 1, erase_error="")
    request.refresh_from_db()
    return request


def privacy_erasures_requeue(*, older_than_seconds: int = 600) -> int:
    """Queue again the erasures still pending (broker down, retries exhausted). For celery beat."""
    cutoff = timezone.now() - timedelta(seconds=older_than_seconds)
    pending = list(PrivacyRequest.objects.filter(erase_state=EraseState.PENDING, created_at__lte=cutoff)
                   .values_list("pk", flat=True))
    for pk in pending:
        _queue_erase(pk)
    return len(pending)
