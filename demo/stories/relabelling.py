"""The relabelling chapter: a campaign drawn from v1's serving log, open for labelling, where a
second labeller has already answered a few items and a third gave the overlapped ones their second
answer (one in disagreement, for the lead to adjudicate), so agreement shows from the first visit.
The demo's `labeller` has answered nothing: they sign in and label right away."""

from django.db import transaction

from audits import services as audit_services
from audits.models import CampaignState, PredictionLog, RelabelCampaign, RelabelItem
from demo.serving import STAYS_FREE, UPGRADES, decision

from . import soom

CAMPAIGN_NAME = "v1 serving week: did they upgrade?"
SAMPLE_SIZE = 120
OVERLAP_SHARE = 0.25
SECOND_LABELLER_ITEMS = 12  # answered by labeller2, in queue order


@transaction.atomic
def campaign(model, lead, second, third, *, say) -> RelabelCampaign | None:
    """The open campaign, drawn and partly answered once; kept as it is on later runs."""
    existing = RelabelCampaign.objects.filter(model=model, name=CAMPAIGN_NAME).first()
    if existing is not None:
        return existing
    v1 = model.versions.filter(version=1).first()
    if v1 is None or not PredictionLog.objects.filter(model=model, version=v1).exists():
        return None
    created = audit_services.campaign_create(
        actor=lead,
        model=model,
        name=CAMPAIGN_NAME,
        design={"kind": "uniform", "size": SAMPLE_SIZE},
        versions=[v1],
        label_set=[UPGRADES, STAYS_FREE],
        overlap_share=OVERLAP_SHARE,
        seed=soom.SEED,
        start=False,
    )
    drawn = audit_services.campaign_draw(campaign_id=created.pk)
    if drawn.state != CampaignState.OPEN:
        say(f"Relabelling campaign '{CAMPAIGN_NAME}' could not open: {drawn.error}")
        return drawn
    overlapped = _answer(second, drawn, SECOND_LABELLER_ITEMS, disagree_with=None, min_overlapped=2)
    # The third labeller gets exactly the overlapped items labeller2 answered (the queue's first items
    # with room), and disagrees on the first of them.
    _answer(third, drawn, len(overlapped), disagree_with=overlapped[:1])
    answered = drawn.items.filter(answers__labeller=second).count()
    say(
        f"Relabelling campaign #{drawn.pk} '{CAMPAIGN_NAME}': {drawn.items_total} items of v1's serving log, "
        f"{answered} answered by {second.username}, {len(overlapped)} of them also by "
        f"{third.username}. Label them: sign in as labeller and open /relabel/"
    )
    return drawn


def _answer(labeller, campaign, count: int, *, disagree_with, min_overlapped: int = 0) -> list[int]:
    """The labeller takes `count` items from the queue (more, until `min_overlapped` of them need
    several labellers) and answers each; returns the overlapped ones."""
    overlapped: list[int] = []
    step = 0
    while step < count or len(overlapped) < min_overlapped:
        assignment = audit_services.item_next(labeller=labeller, campaign=campaign)
        if assignment is None:
            break
        item: RelabelItem = assignment.item
        prediction = item.prediction
        label = prediction.label or decision(prediction.score, prediction.version.decision_threshold)
        # A labeller who reads the signup closely sometimes disagrees with the model (every fifth item).
        if step % 5 == 4:
            label = STAYS_FREE if label == UPGRADES else UPGRADES
        if disagree_with and item.pk in disagree_with:
            label = STAYS_FREE if _latest(item) == UPGRADES else UPGRADES
        audit_services.answer_submit(labeller=labeller, item=item, label=label, seconds=4.0 + step % 7)
        if item.required_labels > 1:
            overlapped.append(item.pk)
        step += 1
    return overlapped


def _latest(item: RelabelItem) -> str | None:
    return item.answers.order_by("-pk").values_list("label", flat=True).first()
