"""REST API v1 of human relabelling: pipelines and leads create campaigns and read their progress;
labellers take the next item of a campaign and answer it, blind to other answers until they do."""

import django_filters
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response

from mlops.api import KeelAPIView
from mlops.openapi import list_schema
from mlops.roles import CREATE_RELABEL_CAMPAIGNS, LABEL_ITEMS, VIEW_RELABEL_CAMPAIGNS
from registry import selectors as registry_selectors

from .. import selectors, services
from .. import serializers as s
from ..models import CampaignState, RelabelCampaign

__all__ = ["CampaignCloseApi", "CampaignDetailApi", "CampaignListApi", "CampaignNextApi", "ItemAnswerApi"]


class CampaignFilter(django_filters.FilterSet):
    model = django_filters.CharFilter(field_name="model__name")
    state = django_filters.ChoiceFilter(choices=CampaignState.choices)

    class Meta:
        model = RelabelCampaign
        fields = ["model", "state"]


def _detail(campaign) -> dict:
    campaign.progress = selectors.campaign_progress(campaign)
    return s.CampaignDetailOut(campaign).data


class CampaignListApi(KeelAPIView):
    """Relabelling campaigns: a sample of a model's logged predictions for people to label again.
    Labellers see the campaigns open for labelling; leads and pipelines see all."""

    required_permissions = {"GET": VIEW_RELABEL_CAMPAIGNS, "POST": CREATE_RELABEL_CAMPAIGNS}

    @list_schema(s.CampaignOut, CampaignFilter)
    def get(self, request):
        return self.list_response(request, selectors.campaigns_for(request.user), s.CampaignOut, CampaignFilter)

    @extend_schema(request=s.CampaignIn, responses={202: s.CampaignDetailOut})
    def post(self, request):
        """Create a campaign; its sample is drawn in the background (state "drawing", then "open")."""
        data = dict(self.validated(s.CampaignIn))
        model = registry_selectors.model_get(data.pop("model"))
        data["versions"] = [registry_selectors.version_get(model, number) for number in data["versions"]]
        campaign = services.campaign_create(actor=request.user, model=model, **data)
        return Response(_detail(selectors.campaign_get(campaign.pk, request.user)), status=status.HTTP_202_ACCEPTED)


class CampaignDetailApi(KeelAPIView):
    """A campaign with its progress: items, items done, answers given and needed, per stratum."""

    required_permissions = {"GET": VIEW_RELABEL_CAMPAIGNS}

    @extend_schema(responses={200: s.CampaignDetailOut})
    def get(self, request, pk):
        return Response(_detail(selectors.campaign_get(pk, request.user)))


class CampaignCloseApi(KeelAPIView):
    """Close an open campaign: it takes no more answers, and its final estimate is computed in the
    background. Closing a campaign that is not open is a 409."""

    required_permissions = {"POST": CREATE_RELABEL_CAMPAIGNS}

    @extend_schema(request=None, responses={200: s.CampaignDetailOut})
    def post(self, request, pk):
        campaign = services.campaign_close(campaign=selectors.campaign_get(pk, request.user), actor=request.user)
        return Response(_detail(selectors.campaign_get(campaign.pk, request.user)))


class CampaignNextApi(KeelAPIView):
    """The labeller's next item of the campaign (the one they hold, else a new one held for them for
    KEEL_RELABEL_ASSIGNMENT_MINUTES): the prediction and its inputs, never another labeller's answer."""

    required_permissions = {"POST": LABEL_ITEMS}

    @extend_schema(request=None, responses={200: s.NextOut})
    def post(self, request, pk):
        campaign = selectors.campaign_get(pk, request.user)
        assignment = services.item_next(labeller=request.user, campaign=campaign)
        body = {
            "card": assignment,
            "label_set": campaign.label_set,
            "progress": selectors.campaign_progress(campaign),
        }
        return Response(s.NextOut(body).data)


class ItemAnswerApi(KeelAPIView):
    """Answer an item you hold with one of the campaign's labels ("unsure" included) and a note; the
    answer shows the consensus so far."""

    required_permissions = {"POST": LABEL_ITEMS}

    @extend_schema(request=s.AnswerIn, responses={201: s.AnswerOut})
    def post(self, request, pk):
        item = selectors.relabel_item_get(pk)
        data = self.validated(s.AnswerIn)
        answer, consensus = services.answer_submit(labeller=request.user, item=item, **data)
        body = {
            "item": item.pk,
            "label": answer.label,
            "note": answer.note,
            "created_at": answer.created_at,
            "consensus": consensus,
        }
        return Response(s.AnswerOut(body).data, status=status.HTTP_201_CREATED)
