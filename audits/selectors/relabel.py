"""Reads of relabelling campaigns: who may see which, how far each has come, and what each item's
label is once the labellers (or a lead) settled it."""

from dataclasses import asdict, dataclass

import numpy as np
from django.db.models import QuerySet

from mlops.errors import NotFound
from mlops.roles import CREATE_RELABEL_CAMPAIGNS, LEAD_RELABELLING

from ..engine import relabel as engine
from ..models import (
    UNSURE,
    CampaignState,
    RelabelAdjudication,
    RelabelAnswer,
    RelabelCampaign,
    RelabelItem,
    RelabelProgress,
)

__all__ = [
    "Resolution",
    "ResolutionSource",
    "campaign_estimate",
    "campaign_get",
    "campaign_progress",
    "campaign_resolutions",
    "campaigns_for",
    "relabel_item_get",
]


def campaigns_for(user) -> QuerySet[RelabelCampaign]:
    """Leads and those who create campaigns read every campaign; labellers those open for labelling."""
    campaigns = RelabelCampaign.objects.select_related("model", "created_by").prefetch_related("versions")
    if user.has_perm(LEAD_RELABELLING) or user.has_perm(CREATE_RELABEL_CAMPAIGNS):
        return campaigns
    return campaigns.filter(state=CampaignState.OPEN)


def campaign_get(pk: int, user) -> RelabelCampaign:
    campaign = campaigns_for(user).filter(pk=pk).first()
    if campaign is None:
        raise NotFound(f"No relabelling campaign {pk} that you may read.")
    return campaign


def relabel_item_get(pk: int) -> RelabelItem:
    item = RelabelItem.objects.select_related("campaign").filter(pk=pk).first()
    if item is None:
        raise NotFound(f"No relabelling item {pk}.")
    return item


def campaign_progress(campaign: RelabelCampaign) -> dict:
    """Items in the queue, items with all their labels, answers given and needed, per stratum too.
    Withdrawn items (their person erased) are counted apart and need nothing more; gold items (a
    lead's checks on labellers, not part of the sample) are not counted. Read from the counts kept
    beside the items (RelabelProgress), so it costs the same for ten items or a million."""
    keys = ("items", "done", "answers", "answers_needed", "withdrawn")
    strata = {
        row["stratum"]: {key: row[key] for key in keys}
        for row in RelabelProgress.objects.filter(campaign=campaign).order_by("stratum").values("stratum", *keys)
    }
    total = {key: sum(s[key] for s in strata.values()) for key in keys}
    total["share_done"] = total["answers"] / total["answers_needed"] if total["answers_needed"] else None
    return {**total, "strata": strata}


class ResolutionSource:
    """Where an item's settled label comes from, or why it has none yet."""

    ADJUDICATED = "adjudicated"  # a lead decided; wins over every answer
    AGREED = "agreed"  # every labeller who did not answer "unsure" gave the same label
    DISPUTED = "disputed"  # all answers are in, and they differ or are all "unsure": a lead decides
    PENDING = "pending"  # answers still missing


@dataclass(frozen=True)
class Resolution:
    item_id: int
    label: str | None  # None unless adjudicated or agreed
    source: str  # a ResolutionSource value
    answers: dict[int, str]  # labeller id -> that labeller's latest label

    @property
    def settled(self) -> bool:
        return self.label is not None


def _latest_answers(item_ids) -> dict[int, dict[int, str]]:
    latest: dict[int, dict[int, str]] = {}
    rows = RelabelAnswer.objects.filter(item_id__in=item_ids).order_by("pk")
    for item_id, labeller_id, label in rows.values_list("item_id", "labeller_id", "label").iterator():
        latest.setdefault(item_id, {})[labeller_id] = label
    return latest


def campaign_resolutions(campaign: RelabelCampaign, *, include_gold: bool = False) -> dict[int, Resolution]:
    """Every queued item's settled label, in one pass over answers and adjudications: the latest
    adjudication wins; otherwise, once an item has all its answers, the label every labeller who was
    not unsure agrees on; otherwise disputed (a lead decides) or pending. Withdrawn items are left out;
    gold items too unless asked for (they are checks on labellers, not part of the sample)."""
    items = RelabelItem.objects.filter(campaign=campaign, withdrawn_at__isnull=True)
    if not include_gold:
        items = items.filter(is_gold=False)
    required = dict(items.values_list("pk", "required_labels"))
    answers = _latest_answers(required.keys()) if required else {}
    decided: dict[int, str] = {}
    adjudications = RelabelAdjudication.objects.filter(item__campaign=campaign).order_by("pk")
    for item_id, label in adjudications.values_list("item_id", "label").iterator():
        decided[item_id] = label
    resolutions = {}
    for item_id, needed in required.items():
        given = answers.get(item_id, {})
        if item_id in decided:
            label, source = decided[item_id], ResolutionSource.ADJUDICATED
        elif len(given) < needed:
            label, source = None, ResolutionSource.PENDING
        else:
            sure = {value for value in given.values() if value != UNSURE}
            if len(sure) == 1:
                label, source = sure.pop(), ResolutionSource.AGREED
            else:
                label, source = None, ResolutionSource.DISPUTED
        resolutions[item_id] = Resolution(item_id=item_id, label=label, source=source, answers=given)
    return resolutions


def _estimate_dict(estimate: engine.Estimate) -> dict:
    return {
        key: (None if isinstance(value, float) and not np.isfinite(value) else value)
        for key, value in asdict(estimate).items()
    }


def campaign_estimate(campaign: RelabelCampaign) -> dict | None:
    """How often the model is wrong on the campaign's population, from the items settled so far,
    weighted by each item's inclusion probability the way the campaign's design needs: accuracy,
    error rate and per-class precision and recall, each with its 95% interval. None before any
    item is settled."""
    settled = {pk: r.label for pk, r in campaign_resolutions(campaign).items() if r.settled}
    if not settled or not campaign.population:
        return None
    rows = list(
        RelabelItem.objects.filter(pk__in=settled.keys())
        .order_by("pk")
        .values_list("pk", "prediction__label", "inclusion_probability", "stratum")
    )
    predicted = np.array([row[1] for row in rows], dtype=object)
    truth = np.array([settled[row[0]] for row in rows], dtype=object)
    options = {
        "population": campaign.population,
        "stratum": np.array([row[3] for row in rows], dtype=object),
        "design_kind": campaign.design.get("kind", "uniform"),
        "stratum_population": campaign.stratum_population or None,
    }
    probability = np.array([row[2] for row in rows], dtype=float)
    correct = predicted == truth
    return {
        "settled": len(rows),
        "wrong": int((~correct).sum()),
        "accuracy": _estimate_dict(engine.accuracy(correct, probability, **options)),
        "error_rate": _estimate_dict(engine.error_rate(correct, probability, **options)),
        "per_class": {
            label: {measure: _estimate_dict(value) for measure, value in measures.items()}
            for label, measures in engine.per_class(predicted, truth, probability, **options).items()
        },
    }
