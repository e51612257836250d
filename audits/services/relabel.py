"""Human relabelling: campaigns drawn from the prediction log, the labelling queue (assignments that
expire, blind answers) and the withdrawal of items whose person was erased."""

import logging
import secrets
from datetime import datetime, timedelta

import numpy as np
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count, F, IntegerField, OuterRef, Q, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from mlops.errors import ApplicationError, Conflict, NotFound
from mlops.queueing import queue_or_wait
from registry.models import ModelVersion, RegisteredModel

from ..engine.relabel import design_from_dict, design_to_dict, draw
from ..models import (
    UNSURE,
    CampaignState,
    ErasedEntity,
    PredictionLog,
    RelabelAnswer,
    RelabelAssignment,
    RelabelCampaign,
    RelabelItem,
    WithdrawReason,
)
from .relabel_filters import filters_applied, filters_checked
from .relabel_lead import gold_item_due
from .relabel_progress import progress_count_answer, progress_recount
from .relabel_results import estimate_queue
from .relabel_sources import design_sources, population_chunks

__all__ = [
    "answer_submit",
    "assignments_release_expired",
    "campaign_create",
    "campaign_draw",
    "campaign_draw_fail",
    "item_next",
    "relabel_items_withdraw",
]

log = logging.getLogger(__name__)

MAX_LABELS = 50
# Drawn items are built and written this many at a time: a 1% draw of a 10,000,000-row log is 100,000
# items, and bulk_create holds every object it is given (~0.7 KiB each with its insert) until it is done.
ITEM_BATCH = 2_000


def _queue_draw(campaign_id: int) -> None:
    from ..tasks import draw_relabel_campaign

    queue_or_wait(draw_relabel_campaign, campaign_id, what="relabelling campaign", later="waits to be queued again")


def _population(campaign: RelabelCampaign):
    """The campaign's predictions: its model (and versions, window, surfaces, segment), never a row of
    an erased person. What the design draws from, so the population and inclusion probabilities it
    records are those of the filtered rows."""
    rows = PredictionLog.objects.filter(model_id=campaign.model_id, erased_at__isnull=True)
    versions = [v.pk for v in campaign.versions.all()]
    if versions:
        rows = rows.filter(version_id__in=versions)
    if campaign.window_start:
        rows = rows.filter(predicted_at__gte=campaign.window_start)
    if campaign.window_end:
        rows = rows.filter(predicted_at__lt=campaign.window_end)
    rows = filters_applied(rows, surfaces=campaign.surfaces, segment=campaign.segment)
    return rows.exclude(entity_id__in=ErasedEntity.objects.values("entity_id"))


def _label_set(labels, rows) -> list[str]:
    if labels is None:
        seen = rows.exclude(label="").order_by("label").values_list("label", flat=True).distinct()
        labels = list(seen[: MAX_LABELS + 1])
        if not labels:
            raise ApplicationError(
                "The log holds no predicted classes for these predictions: name the labels.", field="label_set"
            )
    cleaned = []
    for label in labels:
        label = str(label).strip()
        if not label or len(label) > 100:
            raise ApplicationError("Each label is 1 to 100 characters.", field="label_set")
        if label not in cleaned:
            cleaned.append(label)
    if UNSURE not in cleaned:
        cleaned.append(UNSURE)
    if len(cleaned) < 2:
        raise ApplicationError('Give at least one label besides "unsure".', field="label_set")
    if len(cleaned) > MAX_LABELS:
        raise ApplicationError(f"At most {MAX_LABELS} labels.", field="label_set")
    return cleaned


@transaction.atomic
def campaign_create(
    *,
    actor,
    model: RegisteredModel,
    name: str,
    design: dict,
    versions: list[ModelVersion] | None = None,
    window_start: datetime | None = None,
    window_end: datetime | None = None,
    surfaces: list[str] | None = None,
    segment: dict[str, list] | None = None,
    label_set: list[str] | None = None,
    overlap_share: float = 0.0,
    overlap_labels: int = 2,
    seed: int | None = None,
    start: bool = True,
) -> RelabelCampaign:
    """A relabelling campaign, checked whole (every problem named by its field); with `start`, its
    sample is drawn in the background and the campaign opens once it is. `surfaces` and `segment`
    (feature column -> allowed values) narrow the predictions sampled (relabel_filters)."""
    errors: dict[str, list[str]] = {}
    name = (name or "").strip()
    if not name or len(name) > 200:
        errors["name"] = ["Name the campaign (at most 200 characters)."]
    versions = list(versions or [])
    if any(v.model_id != model.pk for v in versions):
        errors["versions"] = [f"Give versions of '{model.name}'."]
    if window_start and window_end and window_start >= window_end:
        errors["window_end"] = ["The window must end after it starts."]
    if not 0 <= overlap_share <= 1:
        errors["overlap_share"] = ["A share between 0 and 1."]
    if overlap_labels < 2:
        errors["overlap_labels"] = ["Overlapped items get at least 2 labellers."]
    try:
        parsed = design_from_dict(design)
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        errors["design"] = [str(exc)]
    if seed is not None and not 0 <= seed < 2**63:
        errors["seed"] = ["A whole number from 0 to 2^63 - 1."]
    surfaces, segment, problems = filters_checked(model=model, surfaces=surfaces, segment=segment)
    errors.update(problems)
    if errors:
        first = next(iter(errors.values()))[0]
        raise ApplicationError(f"The campaign cannot be created: {first}", detail=errors)
    # Where the design reads from (an audit, a batch, the versions compared), resolved and recorded.
    resolved, versions = design_sources(model=model, design=design_to_dict(parsed), versions=versions)
    parsed = design_from_dict(resolved)
    campaign = RelabelCampaign(
        model=model,
        name=name,
        window_start=window_start,
        window_end=window_end,
        surfaces=surfaces,
        segment=segment,
        overlap_share=overlap_share,
        overlap_labels=overlap_labels,
        design=design_to_dict(parsed),
        seed=secrets.randbelow(2**31) if seed is None else seed,
        state=CampaignState.DRAWING if start else CampaignState.DRAFT,
        created_by=actor,
    )
    campaign.save()
    campaign.versions.set(versions)
    campaign.label_set = _label_set(label_set, _population(campaign))
    campaign.save(update_fields=["label_set"])
    if start:
        transaction.on_commit(lambda: _queue_draw(campaign.pk))
    return campaign


def _overlap(ids: np.ndarray, share: float, seed: int) -> np.ndarray:
    """Which items (sorted ids) get several labellers: round(share × n) of them, chosen by the seed."""
    chosen = np.zeros(len(ids), dtype=bool)
    count = round(share * len(ids))
    if count:
        order = np.random.default_rng([seed, 1]).permutation(len(ids))
        chosen[order[:count]] = True
    return chosen


def campaign_draw(*, campaign_id: int) -> RelabelCampaign:
    """Draw a campaign's sample and open it. Idempotent: a drawn (or failed) campaign is left as it
    is; an interrupted draw leaves nothing, and running it again draws the same items (seeded)."""
    with transaction.atomic():
        campaign = RelabelCampaign.objects.select_for_update().filter(pk=campaign_id).first()
        if campaign is None:
            raise NotFound(f"No relabelling campaign {campaign_id}.")
        if campaign.state not in (CampaignState.DRAFT, CampaignState.DRAWING):
            return campaign
        try:
            chunks = population_chunks(campaign, _population(campaign))
            sample = draw(chunks, design_from_dict(campaign.design), seed=campaign.seed)
        except (ValueError, OSError) as exc:  # the design does not fit these rows: the draw says so and stops
            return _failed(campaign, f"The sample could not be drawn: {exc}")
        items = sample.items.sort_values("id")
        if items.empty:
            filters = f" and its {campaign.filters}" if campaign.filters else ""
            return _failed(
                campaign,
                f"The sample is empty: {sample.population} prediction(s) matched the campaign's model, "
                f"versions and window{filters}.",
            )
        ids = items["id"].to_numpy(dtype=np.int64)
        overlapped = _overlap(ids, campaign.overlap_share, campaign.seed)
        required = np.where(overlapped, campaign.overlap_labels, 1)
        strata = items["stratum"].to_numpy(dtype=object)
        probabilities = items["inclusion_probability"].to_numpy(dtype=np.float64)
        for start in range(0, len(ids), ITEM_BATCH):
            batch = slice(start, start + ITEM_BATCH)
            RelabelItem.objects.bulk_create(
                [
                    RelabelItem(
                        campaign=campaign,
                        prediction_id=int(pk),
                        stratum=str(stratum),
                        inclusion_probability=float(probability),
                        required_labels=int(k),
                    )
                    for pk, stratum, probability, k in zip(
                        ids[batch], strata[batch], probabilities[batch], required[batch], strict=True
                    )
                ]
            )
        # A person erased while the sample was drawn: their items leave the queue before it opens.
        RelabelItem.objects.filter(campaign=campaign, prediction__erased_at__isnull=False).update(
            withdrawn_at=timezone.now(), withdrawn_reason=WithdrawReason.PRIVACY
        )
        campaign.state = CampaignState.OPEN
        campaign.population = sample.population
        campaign.stratum_population = {str(k): int(v) for k, v in sample.stratum_population.items()}
        campaign.items_total = len(ids)
        campaign.labels_required = int(required.sum())
        campaign.drawn_at = timezone.now()
        campaign.save()
        progress_recount(campaign_id=campaign.pk)
        return campaign


def _failed(campaign: RelabelCampaign, reason: str) -> RelabelCampaign:
    campaign.state, campaign.error = CampaignState.FAILED, reason
    campaign.save(update_fields=["state", "error"])
    return campaign


def campaign_draw_fail(*, campaign_id: int, reason: str) -> None:
    """Record why a campaign's draw could not finish (a job out of time, a worker that kept dying)."""
    RelabelCampaign.objects.filter(pk=campaign_id, state__in=[CampaignState.DRAFT, CampaignState.DRAWING]).update(
        state=CampaignState.FAILED, error=reason or "The draw failed."
    )


# --- the queue ----------------------------------------------------------------------------------


def _active(now):
    """Assignments that still hold their item: unanswered and not expired."""
    return Q(answered_at__isnull=True, expires_at__gt=now)


def _held(now):
    """Per item (OuterRef), how many labellers hold it right now."""
    holding = (
        RelabelAssignment.objects.filter(_active(now), item=OuterRef("pk"))
        .order_by()
        .values("item")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(holding, output_field=IntegerField()), Value(0))


def _has_room(item: RelabelItem, now) -> bool:
    if item.is_gold:  # every labeller answers a gold item once: it never fills up
        return True
    held = RelabelAssignment.objects.filter(_active(now), item=item).count()
    return item.labels_count + held < item.required_labels


@transaction.atomic
def item_next(*, labeller, campaign: RelabelCampaign) -> RelabelAssignment | None:
    """The item the labeller works on next: the one they hold already, else a new assignment of an
    item they never had that still needs labels and that others do not already hold enough of (or a
    gold item, when one is due: relabel_lead.gold_item_due). None when nothing is left for them.
    Rows are locked with SKIP LOCKED on PostgreSQL, so two labellers asking at once take different
    items; SQLite's immediate transactions serialise the same way."""
    if campaign.state != CampaignState.OPEN:
        raise Conflict(f"The campaign is {campaign.get_state_display().lower()}: it has no items to label.")
    now = timezone.now()
    current = (
        RelabelAssignment.objects.filter(
            _active(now), labeller=labeller, item__campaign=campaign, item__withdrawn_at__isnull=True
        )
        .select_related("item__prediction__version")
        .order_by("assigned_at", "pk")
        .first()
    )
    if current is not None:
        return current
    candidates = (
        RelabelItem.objects.filter(
            campaign=campaign, is_gold=False, withdrawn_at__isnull=True, labels_count__lt=F("required_labels")
        )
        .exclude(assignments__labeller=labeller)
        .annotate(held=_held(now))
        .filter(held__lt=F("required_labels") - F("labels_count"))
        .order_by("pk")
    )
    skipped: list[int] = []
    while True:
        item = candidates.exclude(pk__in=skipped).select_for_update(skip_locked=True, of=("self",)).first()
        # Gold items (a lead's known answers) go to every labeller once, mixed in at a rate.
        gold = gold_item_due(labeller=labeller, campaign=campaign, sample_left=item is not None)
        if gold is not None:
            item = gold
        elif item is None:
            return None
        # Counted again now that the row is locked: a hold committed since the query began counts.
        elif not _has_room(item, now):
            skipped.append(item.pk)
            continue
        minutes = settings.KEEL_RELABEL_ASSIGNMENT_MINUTES
        try:
            with transaction.atomic():
                assignment = RelabelAssignment.objects.create(
                    item=item, labeller=labeller, assigned_at=now, expires_at=now + timedelta(minutes=minutes)
                )
        except IntegrityError:  # the same labeller asking twice at once: the other request took this item
            assignment = RelabelAssignment.objects.get(item=item, labeller=labeller)
        return RelabelAssignment.objects.select_related("item__prediction__version").get(pk=assignment.pk)


def consensus(item: RelabelItem) -> dict:
    """The answers so far (each labeller's latest): counts per label, the leading label and its share."""
    latest: dict[int, str] = {}
    for labeller_id, label in item.answers.order_by("pk").values_list("labeller_id", "label"):
        latest[labeller_id] = label
    counts: dict[str, int] = {}
    for label in latest.values():
        counts[label] = counts.get(label, 0) + 1
    leading = max(counts, key=lambda label: (counts[label], label != UNSURE)) if counts else None
    return {
        "answers": len(latest),
        "required": item.required_labels,
        "counts": dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))),
        "leading": leading,
        "agreement": counts[leading] / len(latest) if leading else None,
    }


@transaction.atomic
def answer_submit(
    *, labeller, item: RelabelItem, label: str, note: str = "", seconds: float | None = None
) -> tuple[RelabelAnswer, dict]:
    """Record a labeller's answer to an item they hold (or held, if nobody else took it since), and
    return the consensus so far: only now may the labeller see what others answered."""
    # Only the item is locked: answers to other items of the campaign go on at the same time.
    item = RelabelItem.objects.select_for_update(of=("self",)).select_related("campaign").get(pk=item.pk)
    campaign = item.campaign
    label = (label or "").strip()
    if label not in campaign.label_set:
        raise ApplicationError(
            f"{label!r} is not a label of this campaign: {', '.join(campaign.label_set)}.", field="label"
        )
    if seconds is not None and seconds < 0:
        raise ApplicationError("Seconds cannot be negative.", field="seconds")
    if item.withdrawn_at is not None:
        raise Conflict("This item left the queue (its person's data was erased); take the next item.")
    if campaign.state != CampaignState.OPEN:
        raise Conflict(f"The campaign is {campaign.get_state_display().lower()}: it takes no answers.")
    assignment = RelabelAssignment.objects.filter(item=item, labeller=labeller).first()
    if assignment is None:
        raise Conflict("You do not hold this item: ask for the next item.")
    now = timezone.now()
    first = assignment.answered_at is None
    if first and assignment.expires_at <= now and not _has_room(item, now):
        raise Conflict("Your hold on this item expired and another labeller took it; take the next item.")
    answer = RelabelAnswer.objects.create(
        item=item, labeller=labeller, label=label, note=(note or "").strip(), seconds=seconds, created_at=now
    )
    if first:
        RelabelAssignment.objects.filter(pk=assignment.pk).update(answered_at=now)
        RelabelItem.objects.filter(pk=item.pk).update(labels_count=F("labels_count") + 1)
        progress_count_answer(item, labels_before=item.labels_count)
        item.refresh_from_db(fields=["labels_count"])
    return answer, consensus(item)


def assignments_release_expired() -> int:
    """Mark assignments abandoned past their expiry (their items are free for others already, since
    the queue counts only unexpired holds); the labeller still never gets that item again."""
    now = timezone.now()
    return RelabelAssignment.objects.filter(
        answered_at__isnull=True, expires_at__lte=now, released_at__isnull=True
    ).update(released_at=now)


def relabel_items_withdraw(*, entity_id: str, reason: str = WithdrawReason.PRIVACY) -> int:
    """Take a person's items out of every queue (before their logged rows are emptied, while they
    still name the person); their answers stay, and count no more."""
    items = RelabelItem.objects.filter(prediction__entity_id=entity_id, withdrawn_at__isnull=True)
    campaigns = set(items.values_list("campaign_id", flat=True))
    withdrawn = items.update(withdrawn_at=timezone.now(), withdrawn_reason=reason)
    for campaign_id in sorted(campaigns):
        progress_recount(campaign_id=campaign_id)
        estimate_queue(campaign_id)  # the person's answers count no more in the estimate either
    return withdrawn
