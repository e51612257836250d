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


def _latest_answers(answers) -> tuple[dict[int, dict[int, str]], dict[int, int]]:
    """Each item's latest answer per labeller, and the labels each answered item needs."""
    latest: dict[int, dict[int, str]] = {}
    required: dict[int, int] = {}
    rows = answers.order_by("pk").values_list("item_id", "labeller_id", "label", "item__required_labels")
    for item_id, labeller_id, label, needed in rows.iterator():
        latest.setdefault(item_id, {})[labeller_id] = label
        required[item_id] = needed
    return latest, required


def campaign_resolutions(campaign: RelabelCampaign, *, include_gold: bool = False) -> dict[int, Resolution]:
    """Every answered or decided item's settled label, in one pass over answers and adjudications:
    the latest adjudication wins; otherwise, once an item has all its answers, the label every labeller who was
    not unsure agrees on; otherwise disputed (a lead decides) or pending. Withdrawn items are left out;
    gold items too unless asked for (they are checks on labellers, not part of the sample)."""
    # Only items somebody answered or decided can be settled or disputed: the rest are pending and
    # left out, so the cost follows the answers given, not the size of the sample.
    live = {"item__campaign": campaign, "item__withdrawn_at__isnull": True}
    if not include_gold:
        live["item__is_gold"] = False
    answers, required = _latest_answers(RelabelAnswer.objects.filter(**live))
    decided: dict[int, str] = {}
    adjudications = RelabelAdjudication.objects.filter(**live).order_by("pk")
    for item_id, label in adjudications.values_list("item_id", "label").iterator():
        decided[item_id] = label
        required.setdefault(item_id, 1)
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
