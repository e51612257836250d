"""REST API v1 of relabelling schedules: pipelines and leads schedule campaigns (a template run by
cron or every so many hours), edit, pause and delete them with a reason kept in their history."""

import django_filters
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.response import Response

from mlops.api import KeelAPIView
from mlops.openapi import list_schema
from mlops.roles import CREATE_RELABEL_CAMPAIGNS
from registry import selectors as registry_selectors

from .. import selectors, services
from .. import serializers as s
from ..models import RelabelSchedule
from .audits import schedule_changes, schedule_deletion_reason

__all__ = ["RelabelScheduleDetailApi", "RelabelScheduleListApi"]


class RelabelScheduleFilter(django_filters.FilterSet):
    model = django_filters.CharFilter(field_name="model__name")

    class Meta:
        model = RelabelSchedule
        fields = ["model"]


class RelabelScheduleListApi(KeelAPIView):
    """Relabelling schedules: each run creates a campaign from the template, named with the run's
    date, over the predictions of the `window_hours` before it, and draws it."""

    required_permissions = {"GET": CREATE_RELABEL_CAMPAIGNS, "POST": CREATE_RELABEL_CAMPAIGNS}

    @list_schema(s.RelabelScheduleOut, RelabelScheduleFilter)
    def get(self, request):
        return self.list_response(request, selectors.relabel_schedules(), s.RelabelScheduleOut, RelabelScheduleFilter)

    @extend_schema(request=s.RelabelScheduleIn, responses={201: s.RelabelScheduleDetailOut})
    def post(self, request):
        """Schedule campaigns; the template is checked exactly as a campaign is (400 naming the field)."""
        data = dict(self.validated(s.RelabelScheduleIn))
        model = registry_selectors.model_get(data.pop("model"))
        schedule = services.relabel_schedule_create(model=model, actor=request.user, **data)
        return Response(
            s.RelabelScheduleDetailOut(selectors.relabel_schedule_get(schedule.pk)).data,
            status=status.HTTP_201_CREATED,
        )


class RelabelScheduleDetailApi(KeelAPIView):
    """A relabelling schedule with its history (who changed what, when and why) and latest runs."""

    required_permissions = {
        "GET": CREATE_RELABEL_CAMPAIGNS,
        "PATCH": CREATE_RELABEL_CAMPAIGNS,
        "DELETE": CREATE_RELABEL_CAMPAIGNS,
    }

    @extend_schema(responses={200: s.RelabelScheduleDetailOut})
    def get(self, request, pk):
        return Response(s.RelabelScheduleDetailOut(selectors.relabel_schedule_get(pk)).data)

    @extend_schema(request=s.RelabelScheduleChangeIn, responses={200: s.RelabelScheduleDetailOut})
    def patch(self, request, pk):
        """Edit the timing or template (a reason required) or pause/resume (`enabled` alone)."""
        schedule = selectors.relabel_schedule_get(pk)
        data, reason = schedule_changes(self, request, s.RelabelScheduleChangeIn)
        services.relabel_schedule_update(schedule=schedule, actor=request.user, reason=reason, **data)
        return Response(s.RelabelScheduleDetailOut(selectors.relabel_schedule_get(pk)).data)

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "reason",
                str,
                required=True,
                pattern=r"\S",
                allow_blank=False,
                description="Why the schedule is deleted: kept in its history (a JSON body is read too).",
            )
        ],
        responses={200: s.RelabelScheduleDetailOut},
    )
    def delete(self, request, pk):
        """Delete a schedule with a reason: beat never runs it again; its history and campaigns stay."""
        schedule = selectors.relabel_schedule_get(pk)
        reason = schedule_deletion_reason(self, request)
        services.relabel_schedule_delete(schedule=schedule, actor=request.user, reason=reason)
        return Response(s.RelabelScheduleDetailOut(selectors.relabel_schedule_get(pk)).data)
