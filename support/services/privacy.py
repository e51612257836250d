"""Privacy requests: a customer blacklisted everywhere for good, their boosts lifted and their
logged data erased in the background."""

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from mlops.clipping import MESSAGE_LIMIT, clip
from mlops.queueing import queue_each, queue_or_wait

from ..models import (
    ALL_SURFACES,
    EntryKind,
    EntryReason,
    EraseState,
    ListEntry,
    PrivacyRequest,
)
from .changes import after_change, begin_change, rate_check
from .checks import Scope, check_entity
from .entries import create_entries
from .explanations import explanations_erase

__all__ = [
    "entity_data_erase",
    "privacy_erasures_requeue",
    "privacy_request_create",
    "privacy_request_erase",
    "privacy_request_erase_fail",
]


def entity_data_erase(*, entity_id: str) -> dict:
    """Erase or anonymise an entity's logged features and predictions and exclude it from later
    sampling. The audits app owns that data; this returns its counts of what it anonymised."""
    from audits import services as audit_services

    counts = audit_services.entity_erase(entity_id=entity_id)
    # Cached explanations hold the customer's features too (support.services.explanations); counted when any.
    removed = explanations_erase(entity_id=entity_id)
    return {**counts, "explanations": removed} if removed else counts


def _queue_erase(request_id: int) -> None:
    from ..tasks import erase_privacy_request

    queue_or_wait(erase_privacy_request, request_id, what="privacy request")


@transaction.atomic
def privacy_request_create(*, actor, entity_id: str, reference: str = "", note: str = "") -> PrivacyRequest:
    """A customer wants out: blacklisted everywhere for good (reason privacy), their boosts lifted,
    and their logged data erased in the background (the request records that it was done)."""
    now = timezone.now()
    entity_type, entity_id = check_entity(settings.KEEL_SUPPORT_PRIVACY_ENTITY_TYPE, entity_id)
    reference, note = (reference or "").strip()[:200], (note or "").strip()
    rate_check(actor, now)
    seq = begin_change()
    entry = ListEntry.objects.filter(
        entity_type=entity_type, entity_id=entity_id, reason=EntryReason.PRIVACY, lifted_at__isnull=True
    ).first()
    if entry is None:  # a repeated request erases again, under the same blacklist
        [entry] = create_entries(
            kind=EntryKind.BLACKLIST,
            keys=[(entity_type, entity_id)],
            reason=EntryReason.PRIVACY,
            note=note,
            scope=Scope(True, [], ALL_SURFACES),
            weight=None,
            expires_at=None,
            actor=actor,
            now=now,
            seq=seq,
        )
    request = PrivacyRequest.objects.create(
        entity_type=entity_type,
        entity_id=entity_id,
        reference=reference,
        note=note,
        entry=entry,
        requested_by=actor,
        created_at=now,
    )
    ListEntry.objects.active(now).filter(entity_type=entity_type, entity_id=entity_id, kind=EntryKind.BOOST).update(
        lifted_at=now, lifted_by=actor, lift_reason=f"Privacy request #{request.pk}", lifted_seq=seq
    )
    transaction.on_commit(lambda: _queue_erase(request.pk), robust=True)
    after_change(actor, now)
    return request


def privacy_request_erase(*, request_id: int) -> PrivacyRequest:
    """Have the customer's logged data erased and record that it was (counts only). Idempotent: a
    request already erased, or whose erasure ended failed, is returned unchanged. A failed attempt is
    recorded and raised, to be retried."""
    request = PrivacyRequest.objects.get(pk=request_id)
    if request.erase_state != EraseState.PENDING:
        return request
    try:
        counts = entity_data_erase(entity_id=request.entity_id)
        counts = {str(name): int(count) for name, count in dict(counts or {}).items()}
    except Exception as exc:  # the attempt is counted; the task retries or ends it failed
        PrivacyRequest.objects.filter(pk=request_id, erase_state=EraseState.PENDING).update(
            erase_attempts=F("erase_attempts") + 1, erase_error=clip(f"{type(exc).__name__}: {exc}", MESSAGE_LIMIT)
        )
        raise
    PrivacyRequest.objects.filter(pk=request_id, erase_state=EraseState.PENDING).update(
        erase_state=EraseState.DONE,
        erase_counts=counts,
        erased_at=timezone.now(),
        erase_attempts=F("erase_attempts") + 1,
        erase_error="",
    )
    request.refresh_from_db()
    return request


def privacy_request_erase_fail(*, request_id: int, reason: str) -> PrivacyRequest:
    """End a pending erasure failed, with the reason (its job crashed on every retry, reached its time
    limit, or its worker kept dying). The sweep leaves it; filing the request again erases again."""
    PrivacyRequest.objects.filter(pk=request_id, erase_state=EraseState.PENDING).update(
        erase_state=EraseState.FAILED,
        erase_error=clip(reason, MESSAGE_LIMIT) or "The erasure failed.",
    )
    return PrivacyRequest.objects.get(pk=request_id)


def privacy_erasures_requeue(*, older_than_seconds: int = 600) -> int:
    """Queue again the erasures still pending (broker down, retries exhausted). For celery beat."""
    cutoff = timezone.now() - timedelta(seconds=older_than_seconds)
    pending = PrivacyRequest.objects.filter(erase_state=EraseState.PENDING, created_at__lte=cutoff)
    return queue_each(pending, _queue_erase)
