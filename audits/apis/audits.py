"""REST API v1 for data audits: pipelines gate on these verdicts."""

import django_filters
from django.http import JsonResponse
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.response import Response

from mlops.api import DetailMixin, KeelAPIView
from mlops.errors import ApplicationError
from mlops.openapi import list_schema, upload_request
from mlops.roles import (
    EDIT_AUDIT_CHECKS,
    LOG_PREDICTIONS,
    RESOLVE_ALERTS,
    RUN_AUDITS,
    VIEW_AUDITS,
    VIEW_PREDICTIONS,
)
from registry import selectors as registry_selectors

from .. import selectors, services
from .. import serializers as s
from ..models import Alert, AlertState, AuditJob, AuditState, PredictionLog, Verdict


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
    feed = django_filters.CharFilter()

    class Meta:
        model = Alert
        fields = ["model", "state", "feed"]


class PredictionFilter(django_filters.FilterSet):
    model = django_filters.CharFilter(field_name="model__name")
    entity_id = django_filters.CharFilter()
    version = django_filters.NumberFilter(field_name="version__version")
    since = django_filters.IsoDateTimeFilter(field_name="predicted_at", lookup_expr="gte")
    until = django_filters.IsoDateTimeFilter(field_name="predicted_at", lookup_expr="lt")
    surface = django_filters.CharFilter()

    class Meta:
        model = PredictionLog
        fields = ["model", "entity_id", "version", "since", "until", "surface"]


class AuditListApi(KeelAPIView):
    required_permissions = {"GET": VIEW_AUDITS, "POST": RUN_AUDITS}
    parser_classes = [MultiPartParser, FormParser, JSONParser]

    @list_schema(s.AuditOut, AuditFilter)
    def get(self, request):
        return self.list_response(request, selectors.audit_jobs(), s.AuditOut, AuditFilter)

    @extend_schema(request=upload_request(s.AuditIn), responses={202: s.AuditOut})
    def post(self, request):
        data = self.validated(s.AuditIn)
        model = registry_selectors.model_get(data["model"])
        version = registry_selectors.version_get(model, data["version"]) if data["version"] else None
        job = services.audit_submit(
            model=model,
            actor=request.user,
            version=version,
            name=data["name"],
            purpose=data["purpose"],
            uploaded=data.get("file"),
            storage_path=data["storage_path"],
            format=data["format"],
            declared_sha256=data["sha256"],
            signature=data["signature"],
        )
        return Response(s.AuditOut(job).data, status=status.HTTP_202_ACCEPTED)


class AuditDetailApi(DetailMixin, KeelAPIView):
    required_permissions = {"GET": VIEW_AUDITS}
    serializer_class = s.AuditDetailOut
    get_object = staticmethod(selectors.audit_get)


class AuditReportApi(KeelAPIView):
    """The whole audit as one JSON document to keep beside the data."""

    required_permissions = {"GET": VIEW_AUDITS}

    @extend_schema(responses={200: dict})
    def get(self, request, pk):
        job = selectors.audit_get(pk)
        body = {**s.AuditDetailOut(job).data, "profile": job.profile}
        response = JsonResponse(body, json_dumps_params={"indent": 2, "allow_nan": False})
        response["Content-Disposition"] = f'attachment; filename="keel-audit-{job.pk}.json"'
        return response


class ReferenceApi(KeelAPIView):
    required_permissions = {"POST": RUN_AUDITS}
    parser_classes = [MultiPartParser, FormParser, JSONParser]

    @extend_schema(request=upload_request(s.ReferenceIn), responses={202: s.AuditOut})
    def post(self, request, name, version):
        model = registry_selectors.model_get(name)
        found = registry_selectors.version_get(model, version)
        data = dict(self.validated(s.ReferenceIn))
        job = services.reference_submit(version=found, actor=request.user, uploaded=data.pop("file", None), **data)
        return Response(s.AuditOut(job).data, status=status.HTTP_202_ACCEPTED)


class SuiteApi(KeelAPIView):
    required_permissions = {"GET": VIEW_AUDITS, "PUT": EDIT_AUDIT_CHECKS}

    @extend_schema(responses={200: dict})
    def get(self, request, name):
        model = registry_selectors.model_get(name)
        suite = getattr(model, "audit_suite", None)
        if suite is None:
            raise ApplicationError(
                f"'{name}' has no audit suite yet: build a training reference first.", status_code=404
            )
        return Response({"suite": suite.suite, "updated_at": suite.updated_at})

    @extend_schema(request=s.SuiteIn, responses={200: dict})
    def put(self, request, name):
        saved = services.suite_update(
            model=registry_selectors.model_get(name), actor=request.user, **self.validated(s.SuiteIn)
        )
        return Response({"suite": saved.suite, "updated_at": saved.updated_at})


class AlertListApi(KeelAPIView):
    required_permissions = {"GET": VIEW_AUDITS}

    @list_schema(s.AlertOut, AlertFilter)
    def get(self, request):
        return self.list_response(request, selectors.alerts(), s.AlertOut, AlertFilter)


class AlertResolveApi(KeelAPIView):
    """A reviewer resolves an open alert by hand, with a reason; the alert keeps who, when and why."""

    required_permissions = {"POST": RESOLVE_ALERTS}

    @extend_schema(request=s.AlertResolveIn, responses={200: s.AlertOut})
    def post(self, request, pk):
        alert = selectors.alert_get(pk)
        resolved = services.alert_resolve(alert=alert, actor=request.user, **self.validated(s.AlertResolveIn))
        return Response(s.AlertOut(selectors.alert_get(resolved.pk)).data)


class PredictionListApi(KeelAPIView):
    """Serving logs: serving systems send predictions in bulk; people who explain decisions read them."""

    required_permissions = {"GET": VIEW_PREDICTIONS, "POST": LOG_PREDICTIONS}

    @list_schema(s.PredictionOut, PredictionFilter)
    def get(self, request):
        return self.list_response(request, selectors.predictions(), s.PredictionOut, PredictionFilter)

    @extend_schema(request=s.PredictionsIn, responses={201: dict})
    def post(self, request):
        data = self.validated(s.PredictionsIn)
        counts = services.predictions_log(model=registry_selectors.model_get(data["model"]), records=data["records"])
        return Response(counts, status=status.HTTP_201_CREATED)


class ServingAuditApi(KeelAPIView):
    """Audit a window of a version's serving log for training-serving skew and prediction drift."""

    required_permissions = {"POST": RUN_AUDITS}

    @extend_schema(request=s.ServingAuditIn, responses={202: s.AuditOut})
    def post(self, request, name):
        data = self.validated(s.ServingAuditIn)
        model = registry_selectors.model_get(name)
        version = registry_selectors.version_get(model, data["version"]) if data["version"] else None
        job = services.serving_audit_submit(
            model=model, actor=request.user, since=data["since"], until=data["until"], version=version
        )
        return Response(s.AuditOut(job).data, status=status.HTTP_202_ACCEPTED)


def schedule_changes(view: KeelAPIView, request, serializer_class) -> tuple[dict, str]:
    """The settings an edit of a schedule (audit or relabelling) sends, validated as a partial body,
    and its reason apart ("" when none was sent)."""
    if not request.body:
        raise ApplicationError("Send the settings to change as a JSON object, with a reason.")
    data = dict(view.validated(serializer_class, partial=True))
    reason = data.pop("reason", "")
    return data, reason


def schedule_deletion_reason(view: KeelAPIView, request) -> str:
    """The reason a schedule (audit or relabelling) is deleted: in the query, since DELETE bodies are
    dropped by some proxies and clients, or in a JSON body; a 400 on `reason` without one."""
    body = request.data if isinstance(request.data, dict) else {}
    reason = request.query_params.get("reason", body.get("reason"))
    return view.validated(s.ScheduleDeleteIn, data={} if reason is None else {"reason": reason})["reason"]


class ScheduleListApi(KeelAPIView):
    required_permissions = {"GET": VIEW_AUDITS, "POST": EDIT_AUDIT_CHECKS}

    @list_schema(s.ScheduleOut)
    def get(self, request, name):
        model = registry_selectors.model_get(name)
        return self.list_response(request, selectors.audit_schedules(model), s.ScheduleOut)

    @extend_schema(request=s.ScheduleIn, responses={201: s.ScheduleOut})
    def post(self, request, name):
        data = dict(self.validated(s.ScheduleIn))
        model = registry_selectors.model_get(name)
        number = data.pop("version")
        version = registry_selectors.version_get(model, number) if number else None
        schedule = services.schedule_create(model=model, actor=request.user, version=version, **data)
        return Response(s.ScheduleOut(schedule).data, status=status.HTTP_201_CREATED)


class ScheduleDetailApi(KeelAPIView):
    """An audit schedule with its history (newest first: who changed what, when and why). A deleted
    schedule still answers here, with `deleted_at`; it runs no more and changes no more."""

    required_permissions = {"GET": VIEW_AUDITS, "PATCH": EDIT_AUDIT_CHECKS, "DELETE": EDIT_AUDIT_CHECKS}

    def _schedule(self, name, schedule_name):
        return selectors.schedule_get(registry_selectors.model_get(name), schedule_name)

    @extend_schema(responses={200: s.ScheduleDetailOut})
    def get(self, request, name, schedule_name):
        return Response(s.ScheduleDetailOut(self._schedule(name, schedule_name)).data)

    @extend_schema(request=s.ScheduleChangeIn, responses={200: s.ScheduleDetailOut})
    def patch(self, request, name, schedule_name):
        """Edit a schedule (checked as at creation; a reason is required) or pause/resume it
        (`enabled` alone; a reason is optional). Beat runs the new settings from its next tick. Settings
        sent as they already are change nothing and are not recorded."""
        schedule = self._schedule(name, schedule_name)
        data, reason = schedule_changes(self, request, s.ScheduleChangeIn)
        if "version" in data:
            number = data["version"]
            data["version"] = registry_selectors.version_get(schedule.model, number) if number else None
        if set(data) - {"enabled"}:
            schedule = services.schedule_update(schedule=schedule, actor=request.user, reason=reason, **data)
        elif "enabled" in data:
            schedule = services.schedule_set_enabled(
                schedule=schedule, actor=request.user, enabled=data["enabled"], reason=reason
            )
        return Response(s.ScheduleDetailOut(schedule).data)

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "reason",
                str,
                required=True,
                pattern=r"\S",
                allow_blank=False,
                description="Why the schedule is deleted: kept in its history. (A JSON body "
                '`{"reason": …}` is read too, for clients that send one.)',
            )
        ],
        responses={200: s.ScheduleDetailOut},
    )
    def delete(self, request, name, schedule_name):
        """Delete a schedule, with a reason: beat never runs it again; its history stays readable here."""
        schedule = self._schedule(name, schedule_name)
        reason = schedule_deletion_reason(self, request)
        schedule = services.schedule_delete(schedule=schedule, actor=request.user, reason=reason)
        return Response(s.ScheduleDetailOut(schedule).data)
