"""REST API v1 for promotion governance. Thin: check the form, call one service, render."""

import json

import django_filters
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.response import Response

from mlops.api import DetailMixin, KeelAPIView
from mlops.errors import NotFound
from mlops.etags import etag_for, etag_matches
from mlops.openapi import list_schema, upload_request
from mlops.roles import APPROVE_PROMOTION, LOG_TRAINING, REGISTER_MODELS, USE_KEEL, VIEW_PROMOTIONS

from .. import selectors, services
from .. import serializers as s
from ..models import PromotionRequest, PromotionState

__all__ = [
    "PromotionFilter",
    "HoldoutListApi",
    "PolicyApi",
    "PromotionListApi",
    "PromotionDetailApi",
    "PromotionApproveApi",
    "PromotionRejectApi",
    "PromotionCancelApi",
    "RollbackApi",
    "ServingConfigApi",
]


class PromotionFilter(django_filters.FilterSet):
    model = django_filters.CharFilter(field_name="model__name")
    state = django_filters.ChoiceFilter(choices=PromotionState.choices)
    target_alias = django_filters.CharFilter()

    class Meta:
        model = PromotionRequest
        fields = ["model", "state", "target_alias"]


class HoldoutListApi(KeelAPIView):
    required_permissions = {"GET": VIEW_PROMOTIONS, "POST": LOG_TRAINING}
    parser_classes = [MultiPartParser, FormParser, JSONParser]

    @list_schema(s.HoldoutOut)
    def get(self, request, name):
        model = selectors.model_get(name)
        return self.list_response(request, model.holdouts.select_related("created_by"), s.HoldoutOut)

    @extend_schema(request=upload_request(s.HoldoutIn), responses={201: s.HoldoutOut})
    def post(self, request, name):
        data = dict(self.validated(s.HoldoutIn))
        holdout = services.holdout_register(
            model=selectors.model_get(name), actor=request.user, uploaded=data.pop("file", None), **data
        )
        return Response(s.HoldoutOut(holdout).data, status=status.HTTP_201_CREATED)


class PolicyApi(KeelAPIView):
    required_permissions = {"GET": VIEW_PROMOTIONS, "PUT": APPROVE_PROMOTION}

    @extend_schema(responses=s.PolicyOut)
    def get(self, request, name):
        return Response(s.PolicyOut(selectors.policy_for(selectors.model_get(name))).data)

    @extend_schema(request=s.PolicyIn, responses=s.PolicyOut)
    def put(self, request, name):
        policy = services.policy_update(
            model=selectors.model_get(name), actor=request.user, **self.validated(s.PolicyIn)
        )
        return Response(s.PolicyOut(policy).data)


class PromotionListApi(KeelAPIView):
    required_permissions = {"GET": VIEW_PROMOTIONS, "POST": REGISTER_MODELS}

    @list_schema(s.PromotionSummaryOut, PromotionFilter)
    def get(self, request):
        return self.list_response(request, selectors.promotion_requests(), s.PromotionSummaryOut, PromotionFilter)

    @extend_schema(request=s.PromotionIn, responses={201: s.PromotionOut})
    def post(self, request):
        data = self.validated(s.PromotionIn)
        model = selectors.model_get(data["model"])
        holdout = None
        if data["holdout"] is not None:
            holdout = model.holdouts.filter(pk=data["holdout"]).first()
            if holdout is None:
                raise NotFound(f"Model '{model.name}' has no hold-out dataset {data['holdout']}.", field="holdout")
        created = services.promotion_request_create(
            version=selectors.version_get(model, data["version"]),
            actor=request.user,
            reason=data["reason"],
            target_alias=data["target_alias"],
            holdout=holdout,
            action=data["action"],
            canary_percent=data["canary_percent"],
        )
        return Response(s.PromotionOut(selectors.promotion_get(created.pk)).data, status=status.HTTP_201_CREATED)


class PromotionDetailApi(DetailMixin, KeelAPIView):
    required_permissions = {"GET": VIEW_PROMOTIONS}
    serializer_class = s.PromotionOut
    get_object = staticmethod(selectors.promotion_get)


def _decided(request, pk, decide, data) -> Response:
    """Apply a reviewer's decision (approve, reject, cancel) and answer with the request as it now is."""
    decide(promotion=selectors.promotion_get(pk), actor=request.user, **data)
    return Response(s.PromotionOut(selectors.promotion_get(pk)).data)


class PromotionApproveApi(KeelAPIView):
    required_permissions = {"POST": APPROVE_PROMOTION}

    @extend_schema(request=s.DecisionIn, responses=s.PromotionOut)
    def post(self, request, pk):
        return _decided(request, pk, services.promotion_approve, self.validated(s.DecisionIn))


class PromotionRejectApi(KeelAPIView):
    required_permissions = {"POST": APPROVE_PROMOTION}

    @extend_schema(request=s.RejectIn, responses=s.PromotionOut)
    def post(self, request, pk):
        return _decided(request, pk, services.promotion_reject, self.validated(s.RejectIn))


class PromotionCancelApi(KeelAPIView):
    required_permissions = {"POST": REGISTER_MODELS}

    @extend_schema(request=s.CancelIn, responses=s.PromotionOut)
    def post(self, request, pk):
        return _decided(request, pk, services.promotion_cancel, self.validated(s.CancelIn))


class RollbackApi(KeelAPIView):
    """GET: the versions production can be rolled back to, with their history (those rolled back
    since their approval only with ?include_rolled_back=true). POST: roll back."""

    required_permissions = {"GET": VIEW_PROMOTIONS, "POST": APPROVE_PROMOTION}

    @extend_schema(parameters=[s.RollbackTargetsQuery], responses=s.RollbackTargetOut(many=True))
    def get(self, request, name):
        query = self.validated(s.RollbackTargetsQuery, request.query_params.dict())
        model = selectors.model_get(name)
        targets = selectors.rollback_targets(model, include_rolled_back=query["include_rolled_back"])
        return Response(s.RollbackTargetOut(targets, many=True).data)

    @extend_schema(request=s.RollbackIn, responses={200: dict})
    def post(self, request, name):
        model = selectors.model_get(name)
        data = self.validated(s.RollbackIn)
        services.promotion_rollback(
            model=model,
            to_version=selectors.version_get(model, data["version"]),
            actor=request.user,
            reason=data["reason"],
            confirm_rolled_back=data["confirm_rolled_back"],
        )
        return Response(_serving_body(request, model))


def _serving_body(request, model) -> dict:
    config = selectors.serving_config(model)
    for key in ("production", "fallback", "shadow", "canary"):
        if config[key]:
            config[key]["artifact_url"] = request.build_absolute_uri(config[key]["artifact_url"])
    return config


class ServingConfigApi(KeelAPIView):
    """Polled by serving systems: cheap to ask again, answering 304 while nothing changed."""

    required_permissions = {"GET": USE_KEEL}

    @extend_schema(responses={200: dict, 304: None})
    def get(self, request, name):
        body = _serving_body(request, selectors.model_get(name))
        etag = etag_for(json.dumps(body, sort_keys=True, default=str).encode())
        if etag_matches(request.headers.get("If-None-Match"), etag):
            return Response(status=status.HTTP_304_NOT_MODIFIED, headers={"ETag": etag})
        return Response(body, headers={"ETag": etag, "Cache-Control": "no-cache"})
