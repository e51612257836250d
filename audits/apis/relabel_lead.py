"""REST API v1 of relabelling leads (reviewers): the disputed items and their decisions, gold items,
and each labeller's figures. Pipelines also read a campaign's agreement (a result, like its
estimate); labellers read none of it."""

from django.core.exceptions import PermissionDenied
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response

from mlops.api import KeelAPIView
from mlops.openapi import list_schema
from mlops.roles import CREATE_RELABEL_CAMPAIGNS, LEAD_RELABELLING, VIEW_RELABEL_CAMPAIGNS

from .. import selectors, services
from .. import serializers as s

__all__ = [
    "CampaignAgreementApi",
    "CampaignDisputesApi",
    "CampaignGoldApi",
    "CampaignLabellersApi",
    "ItemAdjudicateApi",
]


class CampaignDisputesApi(KeelAPIView):
    """The campaign's disputed items, oldest first: all their answers are in and they differ (or are
    all "unsure"). Each shows the model's prediction and every labeller's answer and note."""

    required_permissions = {"GET": LEAD_RELABELLING}

    @list_schema(s.DisputeOut)
    def get(self, request, pk):
        campaign = selectors.campaign_get(pk, request.user)
        return self.list_response(request, selectors.campaign_disputes(campaign), s.DisputeOut)


class ItemAdjudicateApi(KeelAPIView):
    """Decide an item's label (a label of the campaign, not "unsure"): it wins over every answer; a
    later decision supersedes an earlier one. Refused for an item still waiting for answers, a
    withdrawn or gold item, and a lead who answered the item."""

    required_permissions = {"POST": LEAD_RELABELLING}

    @extend_schema(request=s.AdjudicateIn, responses={201: s.AdjudicationOut})
    def post(self, request, pk):
        item = selectors.relabel_item_get(pk)
        decision = services.item_adjudicate(lead=request.user, item=item, **self.validated(s.AdjudicateIn))
        return Response(s.AdjudicationOut(decision).data, status=status.HTTP_201_CREATED)


class CampaignGoldApi(KeelAPIView):
    """Gold items: logged predictions of the campaign's model whose answer the lead knows. Every
    labeller gets each once, mixed into their queue; they never count in progress or estimates."""

    required_permissions = {"GET": LEAD_RELABELLING, "POST": LEAD_RELABELLING}

    @list_schema(s.GoldItemOut)
    def get(self, request, pk):
        campaign = selectors.campaign_get(pk, request.user)
        return self.list_response(request, selectors.campaign_gold_items(campaign), s.GoldItemOut)

    @extend_schema(request=s.GoldIn, responses={201: s.GoldItemOut(many=True)})
    def post(self, request, pk):
        """Add gold items to an open campaign, all or nothing (every bad line named)."""
        campaign = selectors.campaign_get(pk, request.user)
        lines = self.validated(s.GoldIn)["items"]
        added = services.gold_items_add(
            lead=request.user, campaign=campaign, items=[(line["prediction"], line["label"]) for line in lines]
        )
        added_ids = {item.pk for item in added}
        rows = [row for row in selectors.campaign_gold_items(campaign) if row["item"].pk in added_ids]
        return Response(s.GoldItemOut(rows, many=True).data, status=status.HTTP_201_CREATED)


class CampaignAgreementApi(KeelAPIView):
    """How well the campaign's labellers agree on its sample ("unsure" is no answer): Cohen's kappa
    (exactly two labellers), Fleiss' kappa (the same number of answers on every overlapped item),
    Krippendorff's alpha, and per label one-vs-rest. For leads and pipelines."""

    required_permissions = {"GET": VIEW_RELABEL_CAMPAIGNS}

    @extend_schema(responses={200: s.AgreementOut})
    def get(self, request, pk):
        if not (request.user.has_perm(LEAD_RELABELLING) or request.user.has_perm(CREATE_RELABEL_CAMPAIGNS)):
            raise PermissionDenied("Leads and pipelines read a campaign's agreement; labellers do not.")
        campaign = selectors.campaign_get(pk, request.user)
        return Response(s.AgreementOut(selectors.campaign_agreement(campaign)).data)


class CampaignLabellersApi(KeelAPIView):
    """Each labeller's figures on the campaign, for leads: items answered, median seconds per item,
    agreement with the others (share and kappa over pairs), with the model, with gold (accuracy and
    its Wilson interval) and the share of "unsure"."""

    required_permissions = {"GET": LEAD_RELABELLING}

    @list_schema(s.LabellerFiguresOut)
    def get(self, request, pk):
        campaign = selectors.campaign_get(pk, request.user)
        return self.list_response(request, selectors.campaign_labeller_figures(campaign), s.LabellerFiguresOut)
