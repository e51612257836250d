"""What relabelling produces, stored and acted on: a campaign's estimate is recomputed in the
background after answers and adjudications change (debounced: many answers in a burst recompute it
once) and when the campaign closes; each change of what is settled stores a snapshot per version,
and a snapshot whose accuracy interval lies below the policy's minimum opens an alert and sends the
signed `model.degraded` webhook once per crossing; a later snapshot back above resolves the alert."""

import logging

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerUnavailable

from mlops.errors import ApplicationError, Conflict
from mlops.roles import CREATE_RELABEL_CAMPAIGNS, LEAD_RELABELLING
from registry import selectors as registry_selectors
from registry.models import ModelVersion, NotificationEvent

from ..engine.relabel.degradation import below_minimum
from ..models import Alert, AlertState, CampaignState, RelabelCampaign, RelabelEstimate, Severity
from ..selectors.relabel_results import campaign_estimates_now

__all__ = [
    "DEGRADED_CHECK",
    "RELABEL_FEED",
    "campaign_close",
    "estimate_queue",
    "estimate_refresh",
    "estimate_refresh_on_labels",
]

log = logging.getLogger(__name__)

RELABEL_FEED = "relabelling"  # the feed of alerts that relabelling raises (see feeds.feed_describe)
DEGRADED_CHECK = "live_accuracy"


def _queued_key(campaign_id: int) -> str:
    return f"relabel:estimate-queued:{campaign_id}"


def _send(campaign_id: int) -> None:
    from ..tasks import refresh_relabel_estimate

    delay = settings.KEEL_RELABEL_ESTIMATE_DEBOUNCE_SECONDS
    # One queued refresh per campaign at a time: the refresh reads everything settled when it runs,
    # so answers arriving before it starts are in it. The key outlives the delay in case the worker
    # is slow; the task clears it when it starts.
    if not cache.add(_queued_key(campaign_id), 1, timeout=delay * 10 + 60):
        return
    try:
        refresh_relabel_estimate.apply_async((campaign_id,), countdown=delay)
    except BrokerUnavailable:
        cache.delete(_queued_key(campaign_id))
        log.warning("Broker unavailable: the estimate of campaign %s waits for the next answer", campaign_id)


def estimate_queue(campaign_id: int) -> None:
    """Recompute the campaign's estimate after the caller's transaction commits, coalesced."""
    transaction.on_commit(lambda: _send(campaign_id))


def _on_new_label(sender, instance, created, raw=False, **kwargs) -> None:
    if created and not raw:
        estimate_queue(instance.item.campaign_id)


def estimate_refresh_on_labels() -> None:
    """Queue a refresh whenever an answer or an adjudication is recorded, whichever service writes it
    (both are append-only: a row created is a change of what may be settled). Called once, at start."""
    from django.db.models.signals import post_save

    from ..models import RelabelAdjudication, RelabelAnswer

    for model in (RelabelAnswer, RelabelAdjudication):
        post_save.connect(_on_new_label, sender=model, dispatch_uid=f"relabel-estimate-{model.__name__}")


def _store(campaign: RelabelCampaign, version: ModelVersion | None, found: dict, minimum, now) -> RelabelEstimate:
    accuracy, error = found["accuracy"], found["error_rate"]
    return RelabelEstimate.objects.create(
        campaign=campaign,
        version=version,
        computed_at=now,
        fingerprint=found["fingerprint"],
        settled=found["settled"],
        wrong=found["wrong"],
        accuracy=accuracy["value"],
        accuracy_low=accuracy["low"],
        accuracy_high=accuracy["high"],
        error_rate=error["value"],
        error_rate_low=error["low"],
        error_rate_high=error["high"],
        method=accuracy["method"],
        per_class=found["per_class"],
        campaign_closed=campaign.state == CampaignState.CLOSED,
        minimum=None if minimum is None else minimum["value"],
        degraded=below_minimum(accuracy["high"], None if minimum is None else minimum["value"]),
    )


def estimate_refresh(*, campaign_id: int) -> list[RelabelEstimate]:
    """Store the campaign's estimate (whole, and per version when it covers several) if what is
    settled changed since the last snapshot; judge each new snapshot against the policy's minimum.
    Idempotent: run again with nothing new, it stores and sends nothing. Returns the new snapshots."""
    cache.delete(_queued_key(campaign_id))
    with transaction.atomic():
        campaign = (
            RelabelCampaign.objects.select_for_update(of=("self",))
            .select_related("model")
            .filter(pk=campaign_id)
            .first()
        )
        if campaign is None or campaign.state not in (CampaignState.OPEN, CampaignState.CLOSED):
            return []
        found = campaign_estimates_now(campaign)
        latest = {}
        for estimate in RelabelEstimate.objects.filter(campaign=campaign):
            latest.setdefault(estimate.version_id, estimate)
        versions = ModelVersion.objects.in_bulk([v for v in found if v is not None])
        minimum = registry_selectors.live_accuracy_minimum(campaign.model)
        now = timezone.now()
        stored = []
        for version_id, figures in found.items():
            previous = latest.get(version_id)
            closing = campaign.state == CampaignState.CLOSED and not (previous and previous.campaign_closed)
            if previous and previous.fingerprint == figures["fingerprint"] and not closing:
                continue
            estimate = _store(campaign, versions.get(version_id), figures, minimum, now)
            # A version is judged once: by its own snapshot when the campaign covers several, else
            # by the whole campaign's (which is that version's).
            covered = figures.get("versions", [version_id])
            if version_id is not None or len(covered) == 1:
                _judge(campaign, estimate, minimum, version_number=_number(versions, covered[0]))
            stored.append(estimate)
        return stored


def _number(versions: dict, version_id: int) -> int:
    version = versions.get(version_id) or ModelVersion.objects.get(pk=version_id)
    return version.version


def _judge(campaign: RelabelCampaign, estimate: RelabelEstimate, minimum: dict | None, *, version_number: int) -> None:
    """Open (and notify) or resolve the model's live-accuracy alert for the snapshot's version."""
    column = f"v{version_number}"
    alert = (
        Alert.objects.select_for_update(of=("self",))
        .filter(model=campaign.model, feed=RELABEL_FEED, check_name=DEGRADED_CHECK, column=column)
        .filter(state=AlertState.OPEN)
        .first()
    )
    if minimum is None:
        return
    which = column
    message = (
        f"Relabelling campaign {campaign.name!r} estimates {which} at accuracy {estimate.accuracy:.3f} "
        f"(95% interval {estimate.accuracy_low:.3f}–{estimate.accuracy_high:.3f}, {estimate.settled} items), "
        f"below the policy's minimum {minimum['value']:.3f}."
    )
    if not estimate.degraded:
        if alert is not None:
            alert.state, alert.resolved_at = AlertState.RESOLVED, estimate.computed_at
            alert.resolution_reason = (
                f"Campaign {campaign.name!r} estimates accuracy {estimate.accuracy:.3f} "
                f"(upper bound {estimate.accuracy_high:.3f}), no longer below the minimum {minimum['value']:.3f}."
            )
            alert.save(update_fields=["state", "resolved_at", "resolution_reason"])
        return
    if alert is not None:
        alert.occurrences += 1
        alert.last_seen_at, alert.message = estimate.computed_at, message
        alert.save(update_fields=["occurrences", "last_seen_at", "message"])
    else:
        Alert.objects.create(
            model=campaign.model,
            feed=RELABEL_FEED,
            check_name=DEGRADED_CHECK,
            column=column,
            severity=Severity.ERROR,
            message=message,
            opened_at=estimate.computed_at,
            last_seen_at=estimate.computed_at,
        )
    previous = (
        RelabelEstimate.objects.filter(campaign=campaign, version=estimate.version)
        .exclude(pk=estimate.pk)
        .order_by("-computed_at", "-pk")
        .first()
    )
    if previous is not None and previous.degraded:
        return  # still below: the crossing was announced already
    _notify(campaign, estimate, minimum, message, version_number)


def _notify(campaign: RelabelCampaign, estimate: RelabelEstimate, minimum: dict, message: str, version: int) -> None:
    from registry.services import notify

    notify(
        event=NotificationEvent.MODEL_DEGRADED,
        model=campaign.model,
        # One per crossing: the snapshot that crossed names it; a redelivered refresh stores nothing new.
        dedupe_key=f"model.degraded:campaign:{campaign.pk}:estimate:{estimate.pk}",
        payload={
            "title": f"{campaign.model.name}: live accuracy below the policy's minimum",
            "message": message,
            "campaign_id": campaign.pk,
            "campaign": campaign.name,
            "version": version,
            "settled": estimate.settled,
            "accuracy": {"value": estimate.accuracy, "low": estimate.accuracy_low, "high": estimate.accuracy_high},
            "error_rate": {
                "value": estimate.error_rate,
                "low": estimate.error_rate_low,
                "high": estimate.error_rate_high,
            },
            "method": estimate.method,
            "minimum": minimum["value"],
            "minimum_source": minimum["source"],
            "computed_at": estimate.computed_at,
            "url": f"/relabel/{campaign.pk}/",
            "estimate_url": f"/api/v1/relabel/campaigns/{campaign.pk}/estimate",
            "labels_url": f"/api/v1/relabel/campaigns/{campaign.pk}/labels?format=parquet",
        },
    )


@transaction.atomic
def campaign_close(*, campaign: RelabelCampaign, actor) -> RelabelCampaign:
    """Close an open campaign: it takes no more answers, and its final estimate is computed."""
    if not (actor.has_perm(LEAD_RELABELLING) or actor.has_perm(CREATE_RELABEL_CAMPAIGNS)):
        raise ApplicationError("Only leads and pipelines close campaigns.", status_code=403)
    locked = RelabelCampaign.objects.select_for_update().get(pk=campaign.pk)
    if locked.state != CampaignState.OPEN:
        raise Conflict(f"The campaign is {locked.get_state_display().lower()}: only an open campaign closes.")
    locked.state = CampaignState.CLOSED
    locked.save(update_fields=["state"])
    estimate_queue(locked.pk)
    return locked
