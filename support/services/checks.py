"""What a change may ask for: a usable ID, a reason for its kind, an expiry, a boost's weight and
length, a scope of surfaces, and no conflict with the ID's active entries (refused naming the entry)."""

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from mlops.errors import ApplicationError, Conflict

from ..models import (
    ALL_SURFACES,
    BLACKLIST_REASONS,
    BOOST_REASONS,
    EntryKind,
    EntryReason,
    ListEntry,
    RowStatus,
    Surface,
)

__all__ = ["ID_PATTERN", "boost_default_expiry"]

ID_PATTERN = re.compile(r"[^\s\x00-\x1f\x7f]{1,200}")
MAX_SURFACES_PER_ENTRY = 20
COLD_START_DAYS = 14


# --- validation -------------------------------------------------------------------------------------------


def entity_problem(entity_type: str, entity_id: str) -> tuple[str, str] | None:
    """(field, message) for an unusable entity type or ID, else None."""
    types = settings.KEEL_SUPPORT_ENTITY_TYPES
    if entity_type not in types:
        return "entity_type", f"Unknown entity type '{entity_type}'; this deployment has: {', '.join(types)}."
    if not entity_id:
        return "entity_id", "The ID is empty."
    if not ID_PATTERN.fullmatch(entity_id):
        return "entity_id", "An ID is 1–200 characters without spaces or control characters."
    return None


def check_entity(entity_type: str, entity_id: str) -> tuple[str, str]:
    entity_type, entity_id = (entity_type or "").strip(), (entity_id or "").strip()
    problem = entity_problem(entity_type, entity_id)
    if problem:
        raise ApplicationError(problem[1], field=problem[0])
    return entity_type, entity_id


def check_reason(kind: str, reason: str, note: str) -> None:
    if kind == EntryKind.BLACKLIST and reason == EntryReason.PRIVACY:
        raise ApplicationError(
            "File a privacy request instead: it blacklists the customer everywhere and erases their logged data.",
            field="reason",
        )
    allowed = BLACKLIST_REASONS if kind == EntryKind.BLACKLIST else BOOST_REASONS
    if reason not in allowed:
        names = ", ".join(r.value for r in allowed if r != EntryReason.PRIVACY)
        raise ApplicationError(f"A {kind} reason is one of: {names}.", field="reason")
    if reason == EntryReason.OTHER and not note:
        raise ApplicationError("Say why in the note when the reason is 'other'.", field="note")


def check_expiry(expires_at: datetime | None, now: datetime) -> None:
    if expires_at is None:
        return
    if timezone.is_naive(expires_at):
        raise ApplicationError("Give the expiry with its time zone (e.g. 2026-12-01T00:00:00Z).", field="expires_at")
    if expires_at <= now:
        raise ApplicationError("The expiry must be in the future.", field="expires_at")


def check_boost(weight: float | None, expires_at: datetime | None, now: datetime) -> None:
    low, high = settings.KEEL_SUPPORT_BOOST_MIN_WEIGHT, settings.KEEL_SUPPORT_BOOST_MAX_WEIGHT
    if weight is None or not (low <= weight <= high) or weight <= 0:
        raise ApplicationError(f"A boost's weight is between {low:g} and {high:g}.", field="weight")
    if expires_at is None:
        raise ApplicationError("Boosts are temporary: give an expiry.", field="expires_at")
    check_expiry(expires_at, now)
    longest = settings.KEEL_SUPPORT_BOOST_MAX_DAYS
    if expires_at > now + timedelta(days=longest):
        raise ApplicationError(f"A boost lasts at most {longest} days.", field="expires_at")


def boost_default_expiry(now: datetime | None = None) -> datetime:
    """When a cold-start boost made now ends (two weeks), within the longest boost allowed."""
    days = min(COLD_START_DAYS, settings.KEEL_SUPPORT_BOOST_MAX_DAYS)
    return (now or timezone.now()) + timedelta(days=days)


@dataclass(frozen=True)
class Scope:
    all_surfaces: bool
    surfaces: list[Surface]
    key: str


def resolve_scope(*, all_surfaces: bool, surfaces: Iterable[str]) -> Scope:
    names = sorted({(name or "").strip() for name in surfaces or ()} - {""})
    if all_surfaces and names:
        raise ApplicationError("Choose all surfaces or named surfaces, not both.", field="surfaces")
    if all_surfaces:
        return Scope(True, [], ALL_SURFACES)
    if not names:
        raise ApplicationError("Say where: all surfaces, or one or more named surfaces.", field="surfaces")
    if len(names) > MAX_SURFACES_PER_ENTRY:
        raise ApplicationError(
            f"Name at most {MAX_SURFACES_PER_ENTRY} surfaces, or choose all surfaces.", field="surfaces"
        )
    found = {surface.name: surface for surface in Surface.objects.filter(name__in=names)}
    missing = [name for name in names if name not in found]
    if missing:
        known = ", ".join(Surface.objects.values_list("name", flat=True)) or "none yet"
        raise ApplicationError(f"Unknown surfaces: {', '.join(missing)} (known: {known}).", field="surfaces")
    return Scope(False, [found[name] for name in names], ",".join(names))


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
class Clash:
    status: str  # RowStatus.ALREADY_ACTIVE, or RowStatus.INVALID for a conflict
    entry: ListEntry
    message: str


def find_clash(kind: str, entity_type: str, entity_id: str, scope_key: str, active: list[ListEntry]) -> Clash | None:
    """Why a new entry may not join the active ones of its ID, if it may not."""
    who = f"{entity_type} {entity_id}"
    for entry in active:
        where = entry.scope_label
        if kind == EntryKind.BLACKLIST and entry.kind == EntryKind.BLACKLIST and entry.scope_key == scope_key:
            return Clash(
                RowStatus.ALREADY_ACTIVE,
                entry,
                f"{who} is already blacklisted on {where} by {_describe(entry)}. Lift it first to change it.",
            )
        if kind == EntryKind.BOOST and entry.kind == EntryKind.BLACKLIST and _overlaps(entry.scope_key, scope_key):
            return Clash(
                RowStatus.INVALID,
                entry,
                f"{who} is blacklisted on {where} by {_describe(entry)}: a blacklisted ID cannot be boosted there.",
            )
    for entry in active:
        if kind == EntryKind.BOOST and entry.kind == EntryKind.BOOST:
            if entry.scope_key == scope_key:
                return Clash(
                    RowStatus.ALREADY_ACTIVE,
                    entry,
                    f"{who} is already boosted on {entry.scope_label} by {_describe(entry)}. "
                    "Lift it first to change it.",
                )
            if _overlaps(entry.scope_key, scope_key):
                return Clash(
                    RowStatus.INVALID,
                    entry,
                    f"{who} is already boosted on {entry.scope_label} by {_describe(entry)}, which "
                    "overlaps this scope: one boost per ID and surface.",
                )
    return None


def active_by_entity(keys: Iterable[tuple[str, str]], now: datetime) -> dict[tuple[str, str], list[ListEntry]]:
    by_type: dict[str, list[str]] = {}
    for entity_type, entity_id in set(keys):
        by_type.setdefault(entity_type, []).append(entity_id)
    found: dict[tuple[str, str], list[ListEntry]] = {}
    for entity_type, ids in by_type.items():
        for start in range(0, len(ids), 500):
            rows = (
                ListEntry.objects.active(now)
                .select_related("created_by")
                .filter(entity_type=entity_type, entity_id__in=ids[start : start + 500])
                .order_by("created_seq")
            )
            for entry in rows:
                found.setdefault((entry.entity_type, entry.entity_id), []).append(entry)
    return found


def refuse_clash(clash: Clash | None) -> None:
    if clash is not None:
        raise Conflict(clash.message, field="entity_id", detail={"existing_entry": [str(clash.entry.pk)]})
