"""REST API v1 for data audits: pipelines gate on these verdicts."""

import django_filters
from django.http import JsonResponse
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.response import Response

from mlops.api import KeelAPIView, filter_parameters
from mlops.errors import ApplicationError
from mlops.roles import RUN_AUDITS, USE_KEEL
from registry import selectors as registry_selectors

from . import selectors, serializers as s, services
from .models import Alert, AlertState, AuditJob, AuditState, Verdict


class AuditFilter(django_filters.FilterSet):
    model = django_filters.CharFilter(field_name="model__name")
    state = django_filters.ChoiceFilter(choices=AuditState.choices)
    verdict = django_filters.ChoiceFilter(choices=Verdict.choices)

    class Meta:
        model = AuditJob
        fields = ["model", "state", "verdict"]


class AlertFilter(django_filters.FilterSet):
    model = django_filters.CharFilter(field_name="model__name")
    state = django_filters.ChoiceFilter(choices=AlertState.choices)

    class Meta:
        model = Alert
        fields = ["model", "state"]


class AuditListApi(KeelAPIView):
    required_permissions = {"GET": USE_KEEL, "POST": RUN_AUDITS}
    parser_classes = [MultiPartParser, FormParser, JSONParser]

    @extend_schema(responses=s.AuditOut(many=True), parameters=filter_parameters(AuditFilter))
    def get(self, request):
        return self.list_response(request, selectors.audit_jobs(), s.AuditOut, AuditFilter)

    @extend_schema(request=s.AuditIn, responses={202: s.AuditOut})
    def post(self, request):
        data = self.validated(s.AuditIn)
        model = registry_selectors.model_get(data["model"])
        version = registry_selectors.version_get(model, data["version"]) if data["version"] else None
        job = services.audit_submit(
            model=model, actor=request.user, version=version, name=data["name"], purpose=data["purpose"],
            uploaded=data.get("file"), storage_path=data["storage_path"], format=data["format"],
            declared_sha256=data["sha256"], signature=data["signature"])
        return Response(s.AuditOut(job).data, status=status.HTTP_202_ACCEPTED)


class AuditDetailApi(KeelAPIView):
    required_permissions = {"GET": USE_KEEL}

    @extend_schema(responses=s.AuditDetailOut)
    def get(self, request, pk):
        return Response(s.AuditDetailOut(selectors.audit_get(pk)).data)


class AuditReportApi(KeelAPIView):
    """The whole audit as one JSON document to keep beside the data."""

    required_permissions = {"GET": USE_KEEL}

    @extend_schema(responses={200: dict})
    def get(self, request, pk):
        job = selectors.audit_get(pk)
        body = {**s.AuditDetailOut(job).data, "profile": job.profile}
        response = JsonResponse(body, json_dumps_params={"indent": 2})
        response["Content-Disposition"] = f'attachment; filename="keel-audit-{job.pk}.json"'
        return response


class ReferenceApi(KeelAPIView):
    required_permissions = {"POST": RUN_AUDITS}
    parser_classes = [MultiPartParser, FormParser, JSONParser]

    @extend_schema(request=s.ReferenceIn, responses={202: s.AuditOut})
    def post(self, request, name, version):
        model = registry_selectors.model_get(name)
        found = registry_selectors.version_get(model, version)
        data = dict(self.validated(s.ReferenceIn))
        job = services.reference_submit(version=found, actor=request.user, uploaded=data.pop("file", None), **data)
        return Response(s.AuditOut(job).data, status=status.HTTP_202_ACCEPTED)


class SuiteApi(KeelAPIView):
    required_permissions = {"GET": USE_KEEL, "PUT": RUN_AUDITS}

    @extend_schema(responses={200: dict})
    def get(self, request, name):
        model = registry_selectors.model_get(name)
        suite = getattr(model, "audit_suite", None)
        if suite is None:
            raise ApplicationError(f"'{name}' has no audit suite yet: build a training reference first.",
                                            status_code=404)
        return Response({"suite": suite.suite, "updated_at": suite.updated_at})

    @extend_schema(request=s.SuiteIn, responses={200: dict})
    def put(self, request, name):
        saved = services.suite_update(model=registry_selectors.model_get(name), actor=request.user,
                                      **self.validated(s.SuiteIn))
        return Response({"suite": saved.suite, "updated_at": saved.updated_at})


class AlertListApi(KeelAPIView):
    required_permissions = {"GET": USE_KEEL}

    @extend_schema(responses=s.AlertOut(many=True), parameters=filter_parameters(AlertFilter))
    def get(self, request):
        return self.list_response(request, Alert.objects.select_related("model"), s.AlertOut, AlertFilter)
