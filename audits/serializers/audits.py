"""API v1 shapes for data audits."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from mlops.api import JSONObjectField, StrictSerializer, optional_hex64, optional_whole_number
from mlops.openapi import NOT_BLANK

from ..models import (
    SURFACE_PATTERN,
    Alert,
    AuditJob,
    BatchPurpose,
    DataFormat,
    Finding,
    FindingStatus,
    PredictionLog,
)


class AuditIn(StrictSerializer):
    model = serializers.SlugField()
    name = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    # An empty file is accepted here so that its audit fails with the reason, like any unusable file.
    file = serializers.FileField(required=False, allow_empty_file=True)
    storage_path = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")
    format = serializers.ChoiceField(choices=DataFormat.choices, required=False, allow_blank=True, default="")
    purpose = serializers.ChoiceField(choices=BatchPurpose.choices, default=BatchPurpose.INCOMING)
    version = optional_whole_number(
        min_value=1, help_text="Whose training reference to compare with; default production."
    )
    sha256 = optional_hex64(help_text="The sha256 you computed before sending; a mismatch fails the audit.")
    signature = optional_hex64(help_text="HMAC-SHA256 of the bytes under the shared batch key.")


class ReferenceIn(StrictSerializer):
    file = serializers.FileField(required=False)
    storage_path = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")
    format = serializers.ChoiceField(choices=DataFormat.choices, required=False, allow_blank=True, default="")
    id_columns = serializers.ListField(child=serializers.CharField(max_length=200), required=False, default=list)
    timestamp_columns = serializers.ListField(child=serializers.CharField(max_length=200), required=False, default=list)
    text_columns = serializers.ListField(child=serializers.CharField(max_length=200), required=False, default=list)
    label_column = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    prediction_column = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")


class SuiteIn(StrictSerializer):
    suite = JSONObjectField(help_text="The suite's fields (audits.engine.suite.Suite).")


class FindingOut(serializers.ModelSerializer):
    check = serializers.CharField(source="check_name")

    class Meta:
        model = Finding
        fields = ["check", "column", "severity", "status", "message", "value", "threshold", "details"]


FEED_HELP = (
    "Where the batch came from: schedule:<id>, serving:v<N> (a serving-log audit started by hand), "
    "path:<path pattern> or upload:<sender>:<file name pattern>; digit runs are written #. Only a later "
    "audit of the same feed resolves the feed's alerts."
)


class AuditOut(serializers.ModelSerializer):
    model = serializers.CharField(source="model.name")
    version = serializers.IntegerField(source="version.version")
    feed = serializers.CharField(help_text=FEED_HELP)
    repeat_of = serializers.PrimaryKeyRelatedField(
        read_only=True,
        allow_null=True,
        help_text="The first audit of exactly these bytes (same sha256); a repeat neither opens nor resolves alerts.",
    )
    batch = serializers.SerializerMethodField()
    progress = serializers.FloatField(read_only=True, allow_null=True)
    created_by = serializers.CharField(source="created_by.username")

    class Meta:
        model = AuditJob
        fields = [
            "id",
            "kind",
            "model",
            "version",
            "batch",
            "state",
            "stage",
            "rows_done",
            "rows_total",
            "progress",
            "verdict",
            "error",
            "feed",
            "repeat_of",
            "created_by",
            "created_at",
            "started_at",
            "finished_at",
        ]

    def get_batch(self, job) -> dict:
        return {
            "name": job.batch.name,
            "format": job.batch.format,
            "sha256": job.batch.sha256,
            "size_bytes": job.batch.size_bytes,
        }


class AuditDetailOut(AuditOut):
    findings = FindingOut(many=True, read_only=True)
    counts = serializers.SerializerMethodField(
        help_text="Findings by status: pass, warn, fail, and not_checked (checks that did not run, and say why)."
    )

    class Meta(AuditOut.Meta):
        fields = AuditOut.Meta.fields + ["facts", "counts", "findings"]

    def get_counts(self, job) -> dict[str, int]:
        counts = dict.fromkeys(FindingStatus.values, 0)
        for finding in job.findings.all():
            counts[finding.status] = counts.get(finding.status, 0) + 1
        return counts


class AlertResolvedByOut(serializers.Serializer):
    audit = serializers.IntegerField(allow_null=True, help_text="The later audit of the same feed that passed.")
    user = serializers.CharField(allow_null=True, help_text="The reviewer who resolved it by hand.")
    reason = serializers.CharField(help_text="The reviewer's reason; empty when an audit resolved it.")


class AlertOut(serializers.ModelSerializer):
    model = serializers.CharField(source="model.name")
    check = serializers.CharField(source="check_name")
    feed = serializers.CharField(help_text=FEED_HELP)
    resolved_by = serializers.SerializerMethodField(help_text="Who or what resolved it; null while it is open.")

    class Meta:
        model = Alert
        fields = [
            "id",
            "model",
            "feed",
            "check",
            "column",
            "severity",
            "state",
            "message",
            "occurrences",
            "first_job",
            "last_job",
            "opened_at",
            "last_seen_at",
            "resolved_at",
            "resolved_by",
        ]

    @extend_schema_field(AlertResolvedByOut(allow_null=True))
    def get_resolved_by(self, alert) -> dict | None:
        if alert.state != "resolved":
            return None
        return {
            "audit": alert.resolved_by_job_id,
            "user": alert.resolved_by.get_username() if alert.resolved_by_id else None,
            "reason": alert.resolution_reason,
        }


class AlertResolveIn(StrictSerializer):
    reason = serializers.CharField(
        max_length=2000, help_text="Why the alert is resolved without a passing audit of its feed."
    )


class PredictionIn(StrictSerializer):
    # The score, the label (decision or class), or both.
    openapi_extra = {
        "anyOf": [
            {"required": ["score"], "properties": {"score": {"type": "number"}}},
            {"required": ["label"], "properties": {"label": {"pattern": NOT_BLANK}}},
        ]
    }
    request_id = serializers.CharField(
        max_length=100,
        help_text="Your id of the request; re-sent (version, id) pairs are skipped. A shadow or canary version's "
        "decision on the same request uses the same id with its own version.",
    )
    version = serializers.IntegerField(min_value=1)
    predicted_at = serializers.DateTimeField()
    entity_id = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    raw_features = serializers.DictField(required=False, default=dict, help_text="As received, before processing.")
    features = serializers.DictField(help_text="As the model saw them, after processing.")
    score = serializers.FloatField(required=False, allow_null=True, default=None)
    label = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    surface = serializers.RegexField(
        SURFACE_PATTERN,
        max_length=64,
        required=False,
        allow_blank=True,
        default="",
        help_text="Where the prediction was served (web, app, upsell-email): lower-case letters, digits, - and _.",
        error_messages={"invalid": "Not a surface name: lower-case letters, digits, - and _ (at most 64)."},
    )


class PredictionsIn(StrictSerializer):
    model = serializers.SlugField()
    records = PredictionIn(many=True, allow_empty=False)


class PredictionOut(serializers.ModelSerializer):
    model = serializers.CharField(source="model.name")
    version = serializers.IntegerField(source="version.version")

    class Meta:
        model = PredictionLog
        fields = [
            "id",
            "model",
            "version",
            "request_id",
            "entity_id",
            "predicted_at",
            "raw_features",
            "features",
            "score",
            "label",
            "surface",
            "received_at",
            "erased_at",
        ]


class ServingAuditIn(StrictSerializer):
    since = serializers.DateTimeField(required=False, allow_null=True, default=None)
    until = serializers.DateTimeField(required=False, allow_null=True, default=None)
    version = optional_whole_number(min_value=1, help_text="Whose serving log to audit; default production.")
