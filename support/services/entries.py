"""Blacklist or boost one ID, and lift an entry early. Entries are never deleted or edited: an entry
ends, lifted with a reason or expired, and its history stays."""

from collections.abc import Sequence
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from mlops.errors import ApplicationError, Conflict, NotFound

from ..models import BulkUpload, EntryKind, EntryReason, EntrySurface, ListEntry
from .changes import after_change, begin_change, rate_check
from .checks import (
    Scope,
    active_by_entity,
    check_boost,
    check_entity,
    check_expiry,
    check_reason,
    find_clash,
    refuse_clash,
    resolve_scope,
)

__all__ = ["blacklist_add", "boost_add", "entry_lift"]


def create_entries(
    *,
    kind: str,
    keys: Sequence[tuple[str, str]],
    reason: str,
    note: str,
    scope: Scope,
    weight: float | None,
    expires_at: datetime | None,
    actor,
    now: datetime,
    seq: int,
    bulk: BulkUpload | None = None,
) -> list[ListEntry]:
    made = ListEntry.objects.bulk_create(
        [
            ListEntry(
                kind=kind,
                entity_type=entity_type,
                entity_id=entity_id,
                reason=reason,
                note=note,
                all_surfaces=scope.all_surfaces,
                scope_key=scope.key,
                weight=weight,
                expires_at=expires_at,
                created_by=actor,
                created_at=now,
                created_seq=seq,
                bulk=bulk,
            )
            for entity_type, entity_id in keys
        ],
        batch_size=1000,
    )
    if scope.surfaces:
        if any(entry.pk is None for entry in made):  # a backend that does not return ids
            made = list(ListEntry.objects.filter(created_seq=seq, bulk=bulk).order_by("pk"))
        EntrySurface.objects.bulk_create(
            [EntrySurface(entry=entry, surface=surface) for entry in made for surface in scope.surfaces],
            batch_size=2000,
        )
    return made


@transaction.atomic
def blacklist_add(
    *,
    actor,
    entity_type: str,
    entity_id: str,
    reason: str,
    note: str = "",
    all_surfaces: bool = False,
    surfaces: Sequence[str] = (),
    expires_at: datetime | None = None,
) -> ListEntry:
    """Stop serving an ID on all surfaces or named ones, until `expires_at` (None: until lifted).
    Refused (409, naming the entry) if the ID is already blacklisted on exactly that scope."""
    return _add_one(
        EntryKind.BLACKLIST,
        lambda now: check_expiry(expires_at, now),
        actor=actor,
        entity_type=entity_type,
        entity_id=entity_id,
        reason=reason,
        note=note,
        all_surfaces=all_surfaces,
        surfaces=surfaces,
        weight=None,
        expires_at=expires_at,
    )


@transaction.atomic
def boost_add(
    *,
    actor,
    entity_type: str,
    entity_id: str,
    weight: float,
    expires_at: datetime,
    reason: str,
    note: str = "",
    all_surfaces: bool = False,
    surfaces: Sequence[str] = (),
) -> ListEntry:
    """Lift an ID in the rankings of all surfaces or named ones, for a while (boosts always expire).
    Refused (409, naming the entry) on a surface where the ID is blacklisted or already boosted."""
    return _add_one(
        EntryKind.BOOST,
        lambda now: check_boost(weight, expires_at, now),
        actor=actor,
        entity_type=entity_type,
        entity_id=entity_id,
        reason=reason,
        note=note,
        all_surfaces=all_surfaces,
        surfaces=surfaces,
        weight=weight,
        expires_at=expires_at,
    )


def _add_one(
    kind: str,
    check_terms,
    *,
    actor,
    entity_type: str,
    entity_id: str,
    reason: str,
    note: str,
    all_surfaces: bool,
    surfaces: Sequence[str],
    weight: float | None,
    expires_at: datetime | None,
) -> ListEntry:
    """One entry for one ID: checked (`check_terms(now)` checks the kind's weight and expiry), refused
    on a clash with an active entry, and written as one change of the lists."""
    now = timezone.now()
    entity_type, entity_id = check_entity(entity_type, entity_id)
    note = (note or "").strip()
    check_reason(kind, reason, note)
    check_terms(now)
    rate_check(actor, now)
    seq = begin_change()
    scope = resolve_scope(all_surfaces=all_surfaces, surfaces=surfaces)
    active = active_by_entity([(entity_type, entity_id)], now).get((entity_type, entity_id), [])
    refuse_clash(find_clash(kind, entity_type, entity_id, scope.key, active))
    [entry] = create_entries(
        kind=kind,
        keys=[(entity_type, entity_id)],
        reason=reason,
        note=note,
        scope=scope,
        weight=None if weight is None else float(weight),
        expires_at=expires_at,
        actor=actor,
        now=now,
        seq=seq,
    )
    after_change(actor, now)
    return entry


@transaction.atomic
def entry_lift(*, entry: ListEntry | int, actor, reason: str) -> ListEntry:
    """End an active entry early, saying why. The entry stays, with who lifted it, when and why."""
    now = timezone.now()
    reason = (reason or "").strip()
    if not reason:
        raise ApplicationError("Say why the entry is lifted early.", field="reason")
    pk = entry.pk if isinstance(entry, ListEntry) else int(entry)
    rate_check(actor, now)
    seq = begin_change()
    found = ListEntry.objects.select_related("lifted_by").filter(pk=pk).first()
    if found is None:
        raise NotFound(f"There is no list entry #{pk}.")
    if found.reason == EntryReason.PRIVACY:
        raise Conflict(f"Entry #{pk} keeps a customer who asked to be forgotten out everywhere; it is never lifted.")
    if found.lifted_at is not None:
        raise Conflict(
            f"Entry #{pk} was already lifted by {found.lifted_by.get_username()} on {found.lifted_at:%Y-%m-%d %H:%M}."
        )
    if found.expires_at is not None and found.expires_at <= now:
        raise Conflict(f"Entry #{pk} already expired on {found.expires_at:%Y-%m-%d %H:%M}.")
    ListEntry.objects.filter(pk=pk, lifted_at__isnull=True).update(
        lifted_at=now, lifted_by=actor, lift_reason=reason, lifted_seq=seq
    )
    after_change(actor, now)
    found.refresh_from_db()
    return found
