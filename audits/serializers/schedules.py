"""API v1 shapes of audit schedules, and what relabelling schedules' shapes share with them (the cron
field, the deletion's reason, the history)."""

from rest_framework import serializers

from mlops.api import JSONObjectField, StrictSerializer, optional_whole_number
from mlops.openapi import NOT_BLANK

from ..models import CRON_HELP, CRON_PATTERN, AuditSchedule, AuditScheduleEvent, DataFormat, ScheduleSource

__all__ = [
    "ScheduleChangeIn",
    "ScheduleDeleteIn",
    "ScheduleDetailOut",
    "ScheduleEventOut",
    "ScheduleIn",
    "ScheduleOut",
]


def cron_field(**kwargs) -> serializers.RegexField:
    """A cron Keel runs (CRON_PATTERN); a 400 that says what Keel accepts otherwise."""
    return serializers.RegexField(
        CRON_PATTERN,
        max_length=100,
        trim_whitespace=False,
        error_messages={"invalid": f"Not a schedule Keel runs. {CRON_HELP}"},
        **kwargs,
    )


class ScheduleIn(StrictSerializer):
    # A file schedule says where its file arrives; a serving-log schedule needs no path.
    openapi_extra = {
        "anyOf": [
            {"title": "Audit the serving log", "properties": {"source": {"const": ScheduleSource.SERVING_LOG.value}}},
            {
                "title": "Audit a file dropped under the data root",
                "required": ["storage_path"],
                "properties": {"storage_path": {"pattern": NOT_BLANK}},
            },
        ]
    }
    name = serializers.SlugField(max_length=100)
    source = serializers.ChoiceField(choices=ScheduleSource.choices)
    cron = cron_field(help_text=CRON_HELP)
    storage_path = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")
    format = serializers.ChoiceField(choices=DataFormat.choices, required=False, allow_blank=True, default="")
    window_hours = serializers.IntegerField(min_value=1, max_value=24 * 31, required=False, default=24)
    version = optional_whole_number(min_value=1)


class ScheduleChangeIn(ScheduleIn):
    """An edit: any of the settings a schedule was created with (checked the same way), `enabled`,
    and why. A reason is required for every change but a pause or resume."""

    openapi_extra = {}  # an edit may send a cron alone: the creation's path rule reads the saved source
    name = None  # the schedule's address; it does not change
    enabled = serializers.BooleanField(required=False)
    reason = serializers.CharField(
        max_length=2000, required=False, allow_blank=True, help_text="Why: kept in the schedule's history."
    )


class ScheduleDeleteIn(StrictSerializer):
    reason = serializers.CharField(max_length=2000, help_text="Why: kept in the schedule's history.")


class ScheduleEventOut(serializers.ModelSerializer):
    actor = serializers.CharField(source="actor.username")
    changes = JSONObjectField(help_text='Each changed setting: {"before": …, "after": …}.')

    class Meta:
        model = AuditScheduleEvent
        fields = ["action", "changes", "actor", "reason", "created_at"]


class ScheduleOut(serializers.ModelSerializer):
    model = serializers.CharField(source="model.name")
    version = serializers.IntegerField(source="version.version", allow_null=True, default=None)
    created_by = serializers.CharField(source="created_by.username")

    class Meta:
        model = AuditSchedule
        fields = [
            "id",
            "model",
            "name",
            "source",
            "cron",
            "storage_path",
            "format",
            "window_hours",
            "version",
            "enabled",
            "last_run_at",
            "created_by",
            "created_at",
            "deleted_at",
        ]


class ScheduleDetailOut(ScheduleOut):
    history = ScheduleEventOut(many=True, read_only=True, help_text="Newest first: who changed what, when and why.")

    class Meta(ScheduleOut.Meta):
        fields = [*ScheduleOut.Meta.fields, "history"]
