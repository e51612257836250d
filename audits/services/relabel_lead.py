"""What relabelling leads write: adjudications of items the labellers did not settle, and gold items
(predictions whose answer the lead knows) that every labeller gets once, mixed into their queue, so
each labeller's accuracy can be measured on them."""

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from mlops.errors import ApplicationError, Conflict
from mlops.roles import LEAD_RELABELLING

from ..models import (
    UNSURE,
    CampaignState,
    ErasedEntity,
    PredictionLog,
    RelabelAdjudication,
    RelabelAnswer,
    RelabelAssignment,
    RelabelCampaign,
    RelabelItem,
)

__all__ = ["GOLD_EVERY", "MAX_GOLD_PER_CALL", "gold_item_due", "gold_items_add", "item_adjudicate"]

# A labeller gets one gold item after each GOLD_EVERY items of the sample (and the gold items left
# once the sample has nothing more for them), so gold is spread through their work, not bunched.
GOLD_EVERY = 10
MAX_GOLD_PER_CALL = 500


def _lead_only(lead) -> None:
    if not lead.has_perm(LEAD_RELABELLING):
        raise PermissionDenied("Only relabelling leads (reviewers) may do this.")


def _decided_label(campaign: RelabelCampaign, label: str, field: str = "label") -> str:
    label = (label or "").strip()
    if label == UNSURE:
        raise ApplicationError('A lead decides: give a label, not "unsure".', field=field)
    if label not in campaign.label_set:
        choices = ", ".join(value for value in campaign.label_set if value != UNSURE)
        raise ApplicationError(f"{label!r} is not a label of this campaign: {choices}.", field=field)
    return label


@transaction.atomic
def item_adjudicate(*, lead, item: RelabelItem, label: str, note: str = "") -> RelabelAdjudication:
    """A lead's decision on an item whose answers are all in; it wins over every answer (a later
    decision supersedes an earlier one). Refused: a label outside the campaign's set or "unsure",
    a withdrawn or gold item, an item still waiting for answers, and a lead who answered the item
    themselves (four eyes: nobody settles a disagreement they are part of)."""
    _lead_only(lead)
    item = RelabelItem.objects.select_for_update(of=("self",)).select_related("campaign").get(pk=item.pk)
    label = _decided_label(item.campaign, label)
    note = (note or "").strip()
    if len(note) > 2000:
        raise ApplicationError("A note of at most 2000 characters.", field="note")
    if item.withdrawn_at is not None:
        raise Conflict("This item left the queue (its person's data was erased): there is nothing to decide.")
    if item.is_gold:
        raise Conflict("A gold item's answer is known already: it is not adjudicated.")
    if RelabelAnswer.objects.filter(item=item, labeller=lead).exists():
        raise ApplicationError(
            "You answered this item yourself: another lead decides it.", field="lead", status_code=403
        )
    if item.labels_count < item.required_labels:
        raise Conflict(
            f"This item has {item.labels_count} of its {item.required_labels} answers: decide once all are in."
        )
    return RelabelAdjudication.objects.create(item=item, lead=lead, label=label, note=note, created_at=timezone.now())


def _gold_prediction_errors(campaign, predictions: dict[int, PredictionLog], wanted: list[int]) -> list[str]:
    errors = []
    taken = set(
        RelabelItem.objects.filter(campaign=campaign, prediction_id__in=wanted).values_list("prediction_id", flat=True)
    )
    erased = set(
        ErasedEntity.objects.filter(entity_id__in=[p.entity_id for p in predictions.values()]).values_list(
            "entity_id", flat=True
        )
    )
    for pk in wanted:
        prediction = predictions.get(pk)
        if prediction is None or prediction.model_id != campaign.model_id:
            errors.append(f"Prediction {pk}: not a logged prediction of {campaign.model.name}.")
        elif prediction.erased_at is not None or prediction.entity_id in erased:
            errors.append(f"Prediction {pk}: its person's data was erased.")
        elif pk in taken:
            errors.append(f"Prediction {pk}: already an item of this campaign.")
    return errors


@transaction.atomic
def gold_items_add(*, lead, campaign: RelabelCampaign, items: list[tuple[int, str]]) -> list[RelabelItem]:
    """Seed an open campaign with gold items: logged predictions of its model (not already among its
    items) with the answer the lead knows. Every labeller gets each gold item once; gold items never
    count in the campaign's progress or estimates. All or nothing: every bad line is named."""
    _lead_only(lead)
    campaign = RelabelCampaign.objects.select_for_update().select_related("model").get(pk=campaign.pk)
    if campaign.state != CampaignState.OPEN:
        raise Conflict(f"The campaign is {campaign.get_state_display().lower()}: gold items go into open campaigns.")
    if not items:
        raise ApplicationError("Give at least one prediction and its label.", field="items")
    if len(items) > MAX_GOLD_PER_CALL:
        raise ApplicationError(f"At most {MAX_GOLD_PER_CALL} gold items at once.", field="items")
    errors, seen, wanted = [], set(), []
    for pk, label in items:
        if pk in seen:
            errors.append(f"Prediction {pk}: given twice.")
            continue
        seen.add(pk)
        wanted.append(pk)
        try:
            _decided_label(campaign, label)
        except ApplicationError as exc:
            errors.append(f"Prediction {pk}: {exc.message}")
    predictions = PredictionLog.objects.in_bulk(wanted)
    errors += _gold_prediction_errors(campaign, predictions, wanted)
    if errors:
        raise ApplicationError(f"No gold items were added: {errors[0]}", detail={"items": errors})
    labels = dict(items)
    return RelabelItem.objects.bulk_create(
        RelabelItem(
            campaign=campaign,
            prediction_id=pk,
            stratum="gold",
            # Gold items are not part of the sample: this probability is never used by an estimate.
            inclusion_probability=1.0,
            required_labels=1,
            is_gold=True,
            gold_label=labels[pk].strip(),
        )
        for pk in wanted
    )


def gold_item_due(*, labeller, campaign: RelabelCampaign, sample_left: bool) -> RelabelItem | None:
    """The gold item to give this labeller now, if one is due: after each GOLD_EVERY answers to the
    sample, or any time once the sample has nothing left for them. Each gold item goes to each
    labeller once; the row is locked like the queue's (the caller is inside item_next's transaction)."""
    gold = RelabelItem.objects.filter(campaign=campaign, is_gold=True, withdrawn_at__isnull=True)
    if not gold.exists():
        return None
    if sample_left:
        had = RelabelAssignment.objects.filter(labeller=labeller, item__campaign=campaign)
        answered = had.filter(answered_at__isnull=False)
        sample_done = answered.filter(item__is_gold=False).count()
        gold_had = had.filter(Q(item__is_gold=True)).count()
        if sample_done < (gold_had + 1) * GOLD_EVERY:
            return None
    return (
        gold.exclude(assignments__labeller=labeller)
        .order_by("pk")
        .select_for_update(skip_locked=True, of=("self",))
        .first()
    )
