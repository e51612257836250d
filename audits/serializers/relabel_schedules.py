"""API v1 shapes of relabelling schedules: the campaign template, the timing, the history and runs."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from mlops.api import JSONObjectField, StrictSerializer, optional_whole_number

from ..models import CRON_HELP, RelabelSchedule, RelabelScheduleEvent, RelabelScheduleRun
from .relabel import DESIGN_HELP, segment_field, surfaces_field
from .schedules import ScheduleEventOut, cron_field

__all__ = [
    "RelabelScheduleChangeIn",
    "RelabelScheduleDetailOut",
    "RelabelScheduleIn",
    "RelabelScheduleOut",
]


class RelabelScheduleIn(StrictSerializer):
    model = serializers.SlugField()
    name = serializers.SlugField(max_length=100)
    cron = cron_field(
        required=False, allow_blank=True, default="", help_text=f"Either a cron or every_hours. {CRON_HELP}"
    )
    every_hours = optional_whole_number(min_value=1, help_text="Either every_hours or a cron.")
    design = JSONObjectField(help_text=DESIGN_HELP)
    versions = serializers.ListField(
        child=serializers.IntegerField(min_value=1), required=False, default=list, help_text="Default: all versions."
    )
    surfaces = surfaces_field()
    segment = segment_field()
    label_set = serializers.ListField(
        child=serializers.CharField(max_length=100),
        required=False,
        allow_null=True,
        default=None,
        max_length=50,
        help_text="Default: the classes logged in each run's window.",
    )
    overlap_share = serializers.FloatField(min_value=0, max_value=1, required=False, default=0.0)
    overlap_labels = serializers.IntegerField(min_value=2, max_value=20, required=False, default=2)
    window_hours = serializers.IntegerField(
        min_value=1,
        max_value=24 * 366,
        required=False,
        default=24 * 7,
        help_text="Each run samples the hours before it.",
    )


class RelabelScheduleChangeIn(RelabelScheduleIn):
    """An edit: any setting (checked as at creation) and why, or `enabled` alone to pause/resume."""

    model = None
    name = None
    enabled = serializers.BooleanField(required=False)
    reason = serializers.CharField(max_length=2000, required=False, allow_blank=True, help_text="Kept in the history.")


class RelabelScheduleOut(serializers.ModelSerializer):
    model = serializers.CharField(source="model.name")
    created_by = serializers.CharField(source="created_by.username")
    design = JSONObjectField()
    versions = serializers.ListField(child=serializers.IntegerField())
    label_set = serializers.ListField(child=serializers.CharField(), allow_null=True)
    surfaces = serializers.ListField(child=serializers.CharField())
    segment = JSONObjectField()
    filters = serializers.CharField(read_only=True, help_text='The template\'s filters in words ("" when none).')

    class Meta:
        model = RelabelSchedule
        fields = [
            "id",
            "model",
            "name",
            "cron",
            "every_hours",
            "design",
            "versions",
            "surfaces",
            "segment",
            "filters",
            "label_set",
            "overlap_share",
            "overlap_labels",
            "window_hours",
            "enabled",
            "last_run_at",
            "created_by",
            "created_at",
            "deleted_at",
        ]


class RelabelScheduleEventOut(ScheduleEventOut):
    class Meta(ScheduleEventOut.Meta):
        model = RelabelScheduleEvent


class RelabelScheduleRunOut(serializers.ModelSerializer):
    class Meta:
        model = RelabelScheduleRun
        fields = ["ran_at", "campaign", "error"]


class RelabelScheduleDetailOut(RelabelScheduleOut):
    history = RelabelScheduleEventOut(many=True, read_only=True)
    runs = serializers.SerializerMethodField()

    class Meta(RelabelScheduleOut.Meta):
        fields = [*RelabelScheduleOut.Meta.fields, "history", "runs"]

    @extend_schema_field(RelabelScheduleRunOut(many=True))
    def get_runs(self, schedule) -> list[dict]:
        """The 20 latest runs: the campaign each created, or why none."""
        return RelabelScheduleRunOut(schedule.runs.all()[:20], many=True).data
