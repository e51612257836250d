"""Reads of relabelling campaigns: who may see which, and how far each has come."""

from django.db.models import Count, F, Q, QuerySet, Sum
from django.db.models.functions import Least

from mlops.errors import NotFound
from mlops.roles import CREATE_RELABEL_CAMPAIGNS, LEAD_RELABELLING

from ..models import CampaignState, RelabelCampaign, RelabelItem

__all__ = ["campaign_get", "campaign_progress", "campaigns_for", "relabel_item_get"]


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
    Withdrawn items (their person erased) are counted apart and need nothing more."""
    rows = (
        RelabelItem.objects.filter(campaign=campaign)
        .order_by()
        .values("stratum")
        .annotate(
            items=Count("pk", filter=Q(withdrawn_at__isnull=True)),
            done=Count("pk", filter=Q(withdrawn_at__isnull=True, labels_count__gte=F("required_labels"))),
            answers=Sum(Least("labels_count", "required_labels"), filter=Q(withdrawn_at__isnull=True)),
            needed=Sum("required_labels", filter=Q(withdrawn_at__isnull=True)),
            withdrawn=Count("pk", filter=Q(withdrawn_at__isnull=False)),
        )
        .order_by("stratum")
    )
    strata = {
        row["stratum"]: {
            "items": row["items"],
            "done": row["done"],
            "answers": row["answers"] or 0,
            "answers_needed": row["needed"] or 0,
            "withdrawn": row["withdrawn"],
        }
        for row in rows
    }
    keys = ("items", "done", "answers", "answers_needed", "withdrawn")
    total = {key: sum(s[key] for s in strata.values()) for key in keys}
    total["share_done"] = total["answers"] / total["answers_needed"] if total["answers_needed"] else None
    return {**total, "strata": strata}
