"""API v1 shapes for data audits."""

from rest_framework import serializers

from mlops.api import StrictSerializer

from .models import Alert, AuditJob, BatchPurpose, DataFormat, Finding


class AuditIn(StrictSerializer):
    model = serializers.SlugField()
    name = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    # An empty file is accepted here so that its audit fails with the reason, like any unusable file.
    file = serializers.FileField(required=False, allow_empty_file=True)
    storage_path = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")
    format = serializers.ChoiceField(choices=DataFormat.choices, required=False, allow_blank=True, default="")
    purpose = serializers.ChoiceField(choices=BatchPurpose.choices, default=BatchPurpose.INCOMING)
    version = serializers.IntegerField(required=False, allow_null=True, default=None, min_value=1,
                                       help_text="Whose training reference to compare with; default production.")
    sha256 = serializers.RegexField(r"^[0-9a-fA-F]{64}$", required=False, allow_blank=True, default="",
                                    help_text="The sha256 you computed before sending; a mismatch fails the audit.")
    signature = serializers.RegexField(r"^[0-9a-fA-F]{64}$", required=False, allow_blank=True, default="",
                                       help_text="HMAC-SHA256 of the bytes under the shared batch key.")


class ReferenceIn(StrictSerializer):
    file = serializers.FileField(required=False)
    storage_path = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")
    format = serializers.ChoiceField(choices=DataFormat.choices, required=False, allow_blank=True, default="")
    id_columns = serializers.ListField(child=serializers.CharField(max_length=200), required=False, default=list)
    timestamp_columns = serializers.ListField(child=serializers.CharField(max_length=200), required=False,
                                              default=list)
    text_columns = serializers.ListField(child=serializers.CharField(max_length=200), required=False, default=list)
    label_column = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    prediction_column = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")


class SuiteIn(StrictSerializer):
    suite = serializers.JSONField()


class FindingOut(serializers.ModelSerializer):
    check = serializers.CharField(source="check_name")

    class Meta:
        model = Finding
        fields = ["check", "column", "severity", "status", "message", "value", "threshold", "details"]


class AuditOut(serializers.ModelSerializer):
    model = serializers.CharField(source="model.name")
    version = serializers.IntegerField(source="version.version")
    batch = serializers.SerializerMethodField()
    progress = serializers.FloatField(read_only=True)
    created_by = serializers.CharField(source="created_by.username")

    class Meta:
        model = AuditJob
        fields = ["id", "kind", "model", "version", "batch", "state", "stage", "rows_done", "rows_total", "progress",
                  "verdict", "error", "created_by", "created_at", "started_at", "finished_at"]

    def get_batch(self, job) -> dict:
        return {"name": job.batch.name, "format": job.batch.format, "sha256": job.batch.sha256,
                "size_bytes": job.batch.size_bytes}


class AuditDetailOut(AuditOut):
    findings = FindingOut(many=True, read_only=True)

    class Meta(AuditOut.Meta):
        fields = AuditOut.Meta.fields + ["facts", "findings"]


class AlertOut(serializers.ModelSerializer):
    model = serializers.CharField(source="model.name")
    check = serializers.CharField(source="check_name")

    class Meta:
        model = Alert
        fields = ["id", "model", "check", "column", "severity", "state", "message", "occurrences", "first_job",
                  "last_job", "opened_at", "last_seen_at", "resolved_at"]
