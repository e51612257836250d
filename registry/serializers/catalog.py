"""API v1 shapes: input serializers check the request's form, output serializers render rows.

Domain rules (append-only params, alias ownership, hash checks) live in services, not here.
"""

from django.core.validators import RegexValidator
from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from mlops.api import StrictSerializer
from mlops.openapi import NO_NUL, NOT_BLANK

from ..models import (
    AliasEvent,
    Experiment,
    LoggedModel,
    ModelVersion,
    PickleAllowance,
    RegisteredModel,
    RunArtifact,
    RunStatus,
    TaskType,
    TrainingRun,
)
from ..selectors import latest_metrics, latest_tags
from ..validators import (
    FEATURE_TYPES,
    validate_commit,
    validate_feature_schema,
    validate_hyperparameters,
    validate_metrics,
    validate_sha256,
    validate_string_map,
)

__all__ = [
    "ModelCreateIn",
    "ModelUpdateIn",
    "VersionCreateIn",
    "ArtifactUploadIn",
    "TagsIn",
    "AliasMoveIn",
    "ExperimentIn",
    "RunCreateIn",
    "KeyValueIn",
    "MetricValueField",
    "MetricIn",
    "RunLogIn",
    "RunStatusIn",
    "ModelOut",
    "VersionOut",
    "ExperimentOut",
    "RunOut",
    "MetricPointOut",
    "AliasEventOut",
    "AliasOut",
    "AliasUnmovedOut",
    "PickleDecisionIn",
    "PickleDecisionOut",
    "DiffOut",
    "DiffRowOut",
]


def _django_validator(func):
    """Run a Django validator inside DRF so its message lands on the right field."""

    def run(value):
        from django.core.exceptions import ValidationError

        try:
            func(value)
        except ValidationError as exc:
            raise serializers.ValidationError(exc.messages) from exc

    return run


# Django validators run as they are (DRF turns their errors into field errors), so the schema shows
# their pattern; blank is allowed where the field allows it.
BLANK_OR_SHA256 = RegexValidator(r"^([0-9a-f]{64})?$", validate_sha256.message)
BLANK_OR_COMMIT = RegexValidator(r"^([0-9a-f]{7,40})?$", validate_commit.message)

# JSON fields documented with the shape their validator checks.
_TEXT = {"type": "string", "pattern": NO_NUL}
_SCALAR = [_TEXT, {"type": "number"}, {"type": "boolean"}]
FEATURE = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "pattern": NOT_BLANK},
        "type": {"type": "string", "enum": list(FEATURE_TYPES)},
        "categorical": {"type": "boolean"},
        "description": _TEXT,
    },
    "required": ["name", "type"],
    "additionalProperties": False,
}


@extend_schema_field({"type": "array", "items": FEATURE, "description": "Features with distinct names."})
class FeatureSchemaField(serializers.JSONField):
    def __init__(self, **kwargs):
        super().__init__(validators=[_django_validator(validate_feature_schema)], **kwargs)


@extend_schema_field(
    {
        "type": "object",
        "propertyNames": {"pattern": NO_NUL},
        "additionalProperties": {"anyOf": [*_SCALAR, {"type": "null"}]},
    }
)
class HyperparametersField(serializers.JSONField):
    def __init__(self, **kwargs):
        super().__init__(validators=[_django_validator(validate_hyperparameters)], **kwargs)


@extend_schema_field(
    {"type": "object", "propertyNames": {"pattern": NO_NUL}, "additionalProperties": {"type": "number"}}
)
class MetricsField(serializers.JSONField):
    def __init__(self, **kwargs):
        super().__init__(validators=[_django_validator(validate_metrics)], **kwargs)


@extend_schema_field(
    {
        "type": "object",
        "propertyNames": {"minLength": 1, "maxLength": 250, "pattern": NOT_BLANK},
        "additionalProperties": _TEXT,
        "description": "Tags: name → text; a name has 1 to 250 characters, not all whitespace.",
    }
)
class StringMapField(serializers.JSONField):
    def __init__(self, **kwargs):
        super().__init__(validators=[_django_validator(validate_string_map)], **kwargs)


# --- input --------------------------------------------------------------------------------------


class ModelCreateIn(StrictSerializer):
    name = serializers.SlugField(max_length=100)
    task_type = serializers.ChoiceField(choices=TaskType.choices)
    description = serializers.CharField(required=False, allow_blank=True, default="")


class ModelUpdateIn(StrictSerializer):
    description = serializers.CharField(allow_blank=True, required=False)


class VersionCreateIn(StrictSerializer):
    run_id = serializers.CharField(required=False, max_length=32)
    flavor = serializers.CharField(required=False, max_length=50, default="sklearn")
    description = serializers.CharField(required=False, allow_blank=True, default="")
    feature_schema = FeatureSchemaField(required=False)
    decision_threshold = serializers.FloatField(required=False, allow_null=True, min_value=0.0, max_value=1.0)
    train_window_start = serializers.DateField(required=False, allow_null=True)
    train_window_end = serializers.DateField(required=False, allow_null=True)
    dataset_uri = serializers.CharField(required=False, allow_blank=True, max_length=500, default="")
    dataset_sha256 = serializers.CharField(required=False, allow_blank=True, default="", validators=[BLANK_OR_SHA256])
    code_commit = serializers.CharField(required=False, allow_blank=True, default="", validators=[BLANK_OR_COMMIT])
    hyperparameters = HyperparametersField(required=False)
    metrics = MetricsField(required=False)
    tags = StringMapField(required=False)

    def validate(self, attrs):
        start, end = attrs.get("train_window_start"), attrs.get("train_window_end")
        if start and end and end < start:
            raise serializers.ValidationError({"train_window_end": ["The training window ends before it starts."]})
        return attrs


class ArtifactUploadIn(StrictSerializer):
    file = serializers.FileField(allow_empty_file=True)
    sha256 = serializers.CharField(
        validators=[RegexValidator(r"^[0-9a-fA-F]{64}$", "Send the artifact's sha256 as 64 hex characters.")]
    )


class TagsIn(StrictSerializer):
    tags = StringMapField()


class AliasMoveIn(StrictSerializer):
    version = serializers.IntegerField(
        allow_null=True, min_value=1, help_text="Version number to point at; null removes the alias."
    )
    reason = serializers.CharField(max_length=2000)


class ExperimentIn(StrictSerializer):
    name = serializers.CharField(max_length=200)


class RunCreateIn(StrictSerializer):
    experiment = serializers.CharField(max_length=200, help_text="Experiment name; created if new.")
    name = serializers.CharField(required=False, allow_blank=True, max_length=200, default="")
    code_commit = serializers.CharField(required=False, allow_blank=True, default="", validators=[BLANK_OR_COMMIT])
    started_at = serializers.DateTimeField(required=False)
    tags = StringMapField(required=False)


class KeyValueIn(StrictSerializer):
    key = serializers.CharField(max_length=250)
    value = serializers.CharField(allow_blank=True, max_length=6000, trim_whitespace=False)


class MetricValueField(serializers.FloatField):
    """A number, or "NaN" / "Infinity" / "-Infinity" as protobuf JSON (and so MLflow) spells them,
    since strict JSON has no literal for those values."""

    SPECIAL = {"NaN": float("nan"), "Infinity": float("inf"), "-Infinity": float("-inf")}

    def to_internal_value(self, data):
        if isinstance(data, str) and data in self.SPECIAL:
            return self.SPECIAL[data]
        if isinstance(data, bool):
            self.fail("invalid")
        return super().to_internal_value(data)


class MetricIn(StrictSerializer):
    key = serializers.CharField(max_length=250)
    value = MetricValueField()
    # Bounded to PostgreSQL's bigint so an absurd value is a 400, not a database error.
    step = serializers.IntegerField(required=False, default=0, min_value=-(2**63), max_value=2**63 - 1)
    timestamp = serializers.IntegerField(
        required=False, min_value=0, max_value=2**63 - 1, help_text="Milliseconds since the epoch; defaults to now."
    )


class RunLogIn(StrictSerializer):
    openapi_extra = {
        "anyOf": [{"required": [name], "properties": {name: {"minItems": 1}}} for name in ("params", "metrics", "tags")]
    }
    params = KeyValueIn(many=True, required=False, default=list)
    metrics = MetricIn(many=True, required=False, default=list)
    tags = KeyValueIn(many=True, required=False, default=list)

    def validate(self, attrs):
        if not (attrs["params"] or attrs["metrics"] or attrs["tags"]):
            raise serializers.ValidationError("Send at least one param, metric or tag.")
        if len(attrs["params"]) + len(attrs["metrics"]) + len(attrs["tags"]) > 1000:
            raise serializers.ValidationError("A batch holds at most 1000 entries, as in MLflow.")
        return attrs


class RunStatusIn(StrictSerializer):
    status = serializers.ChoiceField(choices=RunStatus.choices)
    ended_at = serializers.DateTimeField(required=False)


# --- output -------------------------------------------------------------------------------------


class ModelOut(serializers.ModelSerializer):
    owner = serializers.CharField(source="owner.username")
    aliases = serializers.SerializerMethodField()
    latest_version = serializers.SerializerMethodField()
    tags = serializers.SerializerMethodField()

    class Meta:
        model = RegisteredModel
        fields = [
            "name",
            "task_type",
            "description",
            "owner",
            "aliases",
            "latest_version",
            "tags",
            "created_at",
            "updated_at",
        ]

    def get_aliases(self, model) -> dict[str, int]:
        return {alias.name: alias.version.version for alias in model.aliases.all()}

    def get_latest_version(self, model) -> int | None:
        versions = [v.version for v in model.versions.all()]
        return max(versions, default=None)

    def get_tags(self, model) -> dict[str, str]:
        return latest_tags(model.tags.all())


class VersionOut(serializers.ModelSerializer):
    model = serializers.CharField(source="model.name")
    run_id = serializers.SerializerMethodField()
    logged_model_id = serializers.SerializerMethodField(help_text="The MLflow 3 logged model it was registered from.")
    created_by = serializers.CharField(source="created_by.username")
    artifact = serializers.SerializerMethodField()
    tags = serializers.SerializerMethodField()
    aliases = serializers.SerializerMethodField()

    class Meta:
        model = ModelVersion
        fields = [
            "model",
            "version",
            "description",
            "run_id",
            "logged_model_id",
            "flavor",
            "artifact",
            "feature_schema",
            "decision_threshold",
            "train_window_start",
            "train_window_end",
            "dataset_uri",
            "dataset_sha256",
            "code_commit",
            "source",
            "hyperparameters",
            "metrics",
            "tags",
            "aliases",
            "created_by",
            "created_at",
        ]

    def get_run_id(self, version) -> str | None:
        return version.run.run_id if version.run_id else None

    def get_logged_model_id(self, version) -> str | None:
        return version.logged_model.model_id if version.logged_model_id else None

    def get_artifact(self, version) -> dict | None:
        if not version.artifact:
            return None
        checks = list(version.artifact_checks.all())
        last = checks[0] if checks else None
        url = reverse("api:version-artifact", args=[version.model.name, version.version])
        request = self.context.get("request")
        return {
            "sha256": version.artifact_sha256,
            "size": version.artifact_size,
            "format": version.artifact_format,
            "download_url": request.build_absolute_uri(url) if request else url,
            "last_check": None if last is None else {"ok": last.ok, "checked_at": last.checked_at, "error": last.error},
        }

    def get_tags(self, version) -> dict[str, str]:
        return latest_tags(version.tags.all())

    def get_aliases(self, version) -> list[str]:
        return sorted(alias.name for alias in version.aliases.all())


class ExperimentOut(serializers.ModelSerializer):
    experiment_id = serializers.CharField(source="pk")
    created_by = serializers.CharField(source="created_by.username")

    class Meta:
        model = Experiment
        fields = ["experiment_id", "name", "created_by", "created_at"]


class RunArtifactOut(serializers.ModelSerializer):
    """A file logged to the run (the MLflow artifact proxy): its path in the run, size and sha256."""

    class Meta:
        model = RunArtifact
        fields = ["path", "size", "sha256", "created_at"]


class LoggedModelOut(serializers.ModelSerializer):
    """An MLflow 3 logged model the run produced (`log_model`), with its files (kept when it is
    deleted through the MLflow API: `deleted_at` says when)."""

    artifacts = RunArtifactOut(many=True, read_only=True)

    class Meta:
        model = LoggedModel
        fields = ["model_id", "name", "model_type", "status", "params", "tags", "created_at", "deleted_at", "artifacts"]


class RunOut(serializers.ModelSerializer):
    experiment = serializers.CharField(source="experiment.name")
    created_by = serializers.CharField(source="created_by.username")
    params = serializers.SerializerMethodField()
    metrics = serializers.SerializerMethodField()
    tags = serializers.SerializerMethodField()
    artifacts = RunArtifactOut(many=True, read_only=True)
    logged_models = LoggedModelOut(many=True, read_only=True)

    class Meta:
        model = TrainingRun
        fields = [
            "run_id",
            "experiment",
            "name",
            "status",
            "code_commit",
            "started_at",
            "ended_at",
            "created_by",
            "params",
            "metrics",
            "tags",
            "artifacts",
            "logged_models",
        ]

    def get_params(self, run) -> dict[str, str]:
        return {p.key: p.value for p in run.params.all()}

    def get_metrics(self, run) -> dict[str, float | None]:
        return latest_metrics(run.metrics.all())

    def get_tags(self, run) -> dict[str, str]:
        return latest_tags(run.tags.all())


class MetricPointOut(serializers.Serializer):
    key = serializers.CharField()
    value = serializers.SerializerMethodField()
    step = serializers.IntegerField()
    timestamp = serializers.IntegerField()

    def get_value(self, point) -> float | None:
        return None if point.is_nan else point.value


class AliasEventOut(serializers.ModelSerializer):
    from_version = serializers.IntegerField(source="from_version.version", allow_null=True, default=None)
    to_version = serializers.IntegerField(source="to_version.version", allow_null=True, default=None)
    actor = serializers.CharField(source="actor.username")

    class Meta:
        model = AliasEvent
        fields = ["alias", "from_version", "to_version", "actor", "reason", "created_at"]


class AliasOut(serializers.Serializer):
    alias = serializers.CharField()
    version = serializers.IntegerField()


class AliasUnmovedOut(serializers.Serializer):
    message = serializers.CharField(help_text="The alias already pointed there.")
    detail = serializers.DictField(help_text="Empty.")


class PickleDecisionIn(StrictSerializer):
    allowed = serializers.BooleanField(help_text="true allows pickle artifacts for the model; false stops.")
    reason = serializers.CharField(max_length=2000, help_text="Why, for the record.")


class PickleDecisionOut(serializers.ModelSerializer):
    actor = serializers.CharField(source="actor.username")

    class Meta:
        model = PickleAllowance
        fields = ["allowed", "reason", "actor", "created_at"]


class DiffRowOut(serializers.Serializer):
    section = serializers.CharField()
    key = serializers.CharField()
    left = serializers.JSONField()
    right = serializers.JSONField()
    status = serializers.CharField()


class DiffOut(serializers.Serializer):
    left = serializers.IntegerField(help_text="The left version's number.")
    right = serializers.IntegerField(help_text="The right version's number.")
    rows = DiffRowOut(many=True)
