"""The catalog: models, their versions, training runs (config and commit log), aliases.

Logs (params, metrics, tags, alias moves, artifact checks) are append-only: services only insert,
and database triggers (migration 0002) refuse UPDATE everywhere and DELETE on PostgreSQL.
"""

import os
import uuid

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.text import get_valid_filename

from mlops.modelkit import choice_constraint

from ..validators import (
    validate_commit,
    validate_feature_schema,
    validate_hyperparameters,
    validate_metrics,
    validate_run_id,
    validate_sha256,
)

__all__ = [
    "TaskType",
    "RegisteredModel",
    "Experiment",
    "RunStatus",
    "new_run_id",
    "TrainingRun",
    "RunParam",
    "RunMetric",
    "TagHistory",
    "RunTag",
    "RunArtifact",
    "artifact_upload_to",
    "ArtifactFormat",
    "ModelVersion",
    "ModelVersionTag",
    "RegisteredModelTag",
    "ArtifactCheck",
    "ModelAlias",
    "AliasEvent",
    "PickleAllowance",
]


class TaskType(models.TextChoices):
    BINARY = "binary_classification", "Binary classification"
    MULTICLASS = "multiclass_classification", "Multiclass classification"
    REGRESSION = "regression", "Regression"
    RANKING = "ranking", "Ranking"


class RegisteredModel(models.Model):
    name = models.SlugField(max_length=100, unique=True, help_text="Letters, digits, - and _.")
    description = models.TextField(blank=True)
    task_type = models.CharField(max_length=32, choices=TaskType.choices)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="owned_models")
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        permissions = [
            ("register_models", "Can register models and request promotions"),
            (
                "log_training",
                "Can register versions and runs, log their params, metrics and tags, upload artifacts and hold-outs",
            ),
            ("move_alias", "Can move model aliases"),
            ("allow_pickle_artifacts", "Can allow or revoke pickle artifacts for a model"),
        ]
        constraints = [
            choice_constraint("task_type", TaskType, "registry_model_task_type_valid"),
        ]

    def __str__(self) -> str:
        return self.name


class Experiment(models.Model):
    """Groups training runs, as an MLflow experiment does (its MLflow id is str(pk))."""

    name = models.CharField(max_length=200, unique=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class RunStatus(models.TextChoices):
    # MLflow's RunStatus values, so the tracking API maps onto these rows directly.
    RUNNING = "RUNNING"
    SCHEDULED = "SCHEDULED"
    FINISHED = "FINISHED"
    FAILED = "FAILED"
    KILLED = "KILLED"


TERMINAL_RUN_STATUSES = (RunStatus.FINISHED, RunStatus.FAILED, RunStatus.KILLED)


def new_run_id() -> str:
    return uuid.uuid4().hex


class TrainingRun(models.Model):
    """The config and commit log of one training job."""

    run_id = models.CharField(
        max_length=32, unique=True, default=new_run_id, editable=False, validators=[validate_run_id]
    )
    experiment = models.ForeignKey(Experiment, on_delete=models.PROTECT, related_name="runs")
    name = models.CharField(max_length=200, blank=True)
    status = models.CharField(max_length=16, choices=RunStatus.choices, default=RunStatus.RUNNING)
    code_commit = models.CharField(max_length=40, blank=True, validators=[validate_commit])
    started_at = models.DateTimeField(default=timezone.now)
    ended_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    deleted_at = models.DateTimeField(
        null=True, blank=True, help_text="When it was deleted through the MLflow API (restorable; nothing is erased)."
    )

    class Meta:
        ordering = ["-started_at", "-id"]
        constraints = [
            choice_constraint("status", RunStatus, "registry_run_status_valid"),
            models.CheckConstraint(
                condition=Q(ended_at__isnull=True) | Q(ended_at__gte=F("started_at")),
                name="registry_run_ends_after_start",
            ),
            models.CheckConstraint(
                condition=~Q(status__in=TERMINAL_RUN_STATUSES) | Q(ended_at__isnull=False),
                name="registry_run_terminal_has_end",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name or 'run'} ({self.run_id[:8]})"


class RunParam(models.Model):
    run = models.ForeignKey(TrainingRun, on_delete=models.CASCADE, related_name="params")
    key = models.CharField(max_length=250)
    value = models.TextField()
    logged_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["key"]
        constraints = [models.UniqueConstraint(fields=["run", "key"], name="registry_param_once_per_run")]

    def __str__(self) -> str:
        return f"{self.key}={self.value}"


class RunMetric(models.Model):
    """One point of a metric's history. NaN is kept as a flag (as MLflow does) so SQL stays portable."""

    run = models.ForeignKey(TrainingRun, on_delete=models.CASCADE, related_name="metrics")
    key = models.CharField(max_length=250)
    value = models.FloatField()
    is_nan = models.BooleanField(default=False)
    step = models.BigIntegerField(default=0)
    timestamp = models.BigIntegerField(help_text="Milliseconds since the Unix epoch, as MLflow logs it.")

    class Meta:
        ordering = ["key", "step", "timestamp"]
        constraints = [
            # A retried batch inserts nothing twice.
            models.UniqueConstraint(
                fields=["run", "key", "step", "timestamp", "value", "is_nan"], name="registry_metric_point_once"
            ),
        ]
        indexes = [models.Index(fields=["run", "key", "step"], name="registry_metric_history")]

    def __str__(self) -> str:
        return f"{self.key}[{self.step}]={'NaN' if self.is_nan else self.value}"


class TagHistory(models.Model):
    """Tags never change in place: setting a tag appends a row, and the newest row is its value."""

    key = models.CharField(max_length=250)
    value = models.TextField(blank=True)
    set_at = models.DateTimeField(default=timezone.now, editable=False)
    set_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    # Nullable so adding it left the append-only tables (and their triggers) as they were.
    removed = models.BooleanField(
        null=True, blank=True, help_text="Set on a row that removes the tag (MLflow's delete-tag); earlier rows stay."
    )

    class Meta:
        abstract = True
        ordering = ["key", "-id"]

    def __str__(self) -> str:
        return f"{self.key}={self.value}"


class RunTag(TagHistory):
    run = models.ForeignKey(TrainingRun, on_delete=models.CASCADE, related_name="tags")

    class Meta(TagHistory.Meta):
        indexes = [models.Index(fields=["run", "key"], name="registry_runtag_key")]


class RunArtifact(models.Model):
    """A file logged to a training run, or to an MLflow 3 logged model (through the MLflow API's
    artifact proxy): exactly one owner. `path` is the client's name for it inside the owner's
    artifact root; the bytes are stored under a name Keel picks (`file`), never under the client's
    path, with their size and sha256."""

    run = models.ForeignKey(TrainingRun, on_delete=models.CASCADE, null=True, blank=True, related_name="artifacts")
    logged_model = models.ForeignKey(
        "registry.LoggedModel", on_delete=models.CASCADE, null=True, blank=True, related_name="artifacts"
    )
    path = models.CharField(max_length=1000)
    file = models.FileField(max_length=500)
    size = models.BigIntegerField(validators=[MinValueValidator(0)])
    sha256 = models.CharField(max_length=64, validators=[validate_sha256])
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["path"]
        constraints = [
            models.UniqueConstraint(fields=["run", "path"], name="registry_runartifact_unique_path"),
            models.UniqueConstraint(fields=["logged_model", "path"], name="registry_runartifact_unique_model_path"),
            models.CheckConstraint(
                condition=Q(run__isnull=True) ^ Q(logged_model__isnull=True), name="registry_runartifact_one_owner"
            ),
            models.CheckConstraint(condition=Q(size__gte=0), name="registry_runartifact_size_nonnegative"),
        ]

    def __str__(self) -> str:
        return f"{self.run or self.logged_model} {self.path}"


def artifact_upload_to(instance: "ModelVersion", filename: str) -> str:
    # The client's name is reduced to a safe base name; folders come only from the model's slug.
    safe = get_valid_filename(os.path.basename(filename or "")) or "artifact.bin"
    return f"artifacts/{instance.model.name}/v{instance.version}/{safe}"


class ArtifactFormat(models.TextChoices):
    # mlops.modelformats: skops files build only trusted types; anything else is a pickle, i.e. code.
    SKOPS = "skops", "skops"
    PICKLE = "pickle", "pickle (joblib)"


class ModelVersion(models.Model):
    model = models.ForeignKey(RegisteredModel, on_delete=models.PROTECT, related_name="versions")
    version = models.PositiveIntegerField(editable=False)
    description = models.TextField(blank=True)
    run = models.ForeignKey(TrainingRun, on_delete=models.PROTECT, null=True, blank=True, related_name="versions")
    flavor = models.CharField(max_length=50, default="sklearn", help_text="How the artifact is loaded.")
    artifact = models.FileField(upload_to=artifact_upload_to, max_length=500, blank=True)
    artifact_sha256 = models.CharField(max_length=64, blank=True, validators=[validate_sha256])
    artifact_size = models.BigIntegerField(null=True, blank=True)
    artifact_format = models.CharField(
        max_length=10, choices=ArtifactFormat.choices, blank=True, help_text="Read from the bytes at upload."
    )
    feature_schema = models.JSONField(default=list, blank=True, validators=[validate_feature_schema])
    decision_threshold = models.FloatField(
        null=True,
        blank=True,
        validators=[MinValueValidator(0.0), MaxValueValidator(1.0)],
        help_text="Score at or above which a classifier says yes.",
    )
    train_window_start = models.DateField(null=True, blank=True)
    train_window_end = models.DateField(null=True, blank=True)
    dataset_uri = models.CharField(max_length=500, blank=True)
    source = models.CharField(
        max_length=500,
        blank=True,
        help_text="Where the model's files are, as MLflow names them (runs:/…, mlflow-artifacts:/…); "
        "Keel checks only the bytes of an attached artifact.",
    )
    logged_model = models.ForeignKey(
        "registry.LoggedModel",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="versions",
        help_text="The MLflow 3 logged model it was registered from (`models:/<model id>`).",
    )
    dataset_sha256 = models.CharField(max_length=64, blank=True, validators=[validate_sha256])
    code_commit = models.CharField(max_length=40, blank=True, validators=[validate_commit])
    hyperparameters = models.JSONField(default=dict, blank=True, validators=[validate_hyperparameters])
    metrics = models.JSONField(default=dict, blank=True, validators=[validate_metrics])
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["model", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["model", "version"], name="registry_version_unique_per_model"),
            models.CheckConstraint(condition=Q(version__gte=1), name="registry_version_positive"),
            models.CheckConstraint(
                condition=Q(decision_threshold__isnull=True)
                | (Q(decision_threshold__gte=0) & Q(decision_threshold__lte=1)),
                name="registry_version_threshold_in_unit_interval",
            ),
            models.CheckConstraint(
                condition=Q(train_window_start__isnull=True)
                | Q(train_window_end__isnull=True)
                | Q(train_window_end__gte=F("train_window_start")),
                name="registry_version_window_ordered",
            ),
            models.CheckConstraint(
                condition=(Q(artifact="") & Q(artifact_sha256="") & Q(artifact_size__isnull=True))
                | (~Q(artifact="") & ~Q(artifact_sha256="") & Q(artifact_size__gte=0)),
                name="registry_version_artifact_complete",
            ),
            models.CheckConstraint(
                condition=(Q(artifact="") & Q(artifact_format=""))
                | (~Q(artifact="") & Q(artifact_format__in=ArtifactFormat.values)),
                name="registry_version_artifact_format_known",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.model.name} v{self.version}"

    @property
    def has_artifact(self) -> bool:
        return bool(self.artifact)


class ModelVersionTag(TagHistory):
    version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="tags")

    class Meta(TagHistory.Meta):
        indexes = [models.Index(fields=["version", "key"], name="registry_versiontag_key")]


class RegisteredModelTag(TagHistory):
    """A registered model's tags (MLflow's registered-model tags), kept as history like every tag."""

    model = models.ForeignKey(RegisteredModel, on_delete=models.CASCADE, related_name="tags")

    class Meta(TagHistory.Meta):
        indexes = [models.Index(fields=["model", "key"], name="registry_modeltag_key")]


class ArtifactCheck(models.Model):
    """One integrity check of a stored artifact: its bytes re-hashed against the registered sha256."""

    check_key = models.UUIDField(
        unique=True, default=uuid.uuid4, editable=False, help_text="Makes a retried check job record its result once."
    )
    version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="artifact_checks")
    ok = models.BooleanField()
    computed_sha256 = models.CharField(max_length=64, blank=True)
    error = models.TextField(blank=True)
    checked_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-checked_at", "-id"]

    def __str__(self) -> str:
        return f"{self.version} artifact {'ok' if self.ok else 'MISMATCH'} at {self.checked_at:%Y-%m-%d %H:%M %Z}"


class ModelAlias(models.Model):
    """A named pointer (production, shadow, challenger, …) to one version of a model."""

    model = models.ForeignKey(RegisteredModel, on_delete=models.CASCADE, related_name="aliases")
    name = models.SlugField(max_length=64)
    version = models.ForeignKey(ModelVersion, on_delete=models.PROTECT, related_name="aliases")
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["model", "name"]
        constraints = [models.UniqueConstraint(fields=["model", "name"], name="registry_alias_unique_per_model")]

    def __str__(self) -> str:
        return f"{self.model.name}@{self.name} → v{self.version.version}"


class AliasEvent(models.Model):
    """Append-only history of alias moves: who, when, from which version to which, and why."""

    model = models.ForeignKey(RegisteredModel, on_delete=models.CASCADE, related_name="alias_events")
    alias = models.SlugField(max_length=64)
    from_version = models.ForeignKey(ModelVersion, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    to_version = models.ForeignKey(ModelVersion, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    reason = models.TextField()
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(from_version__isnull=False) | Q(to_version__isnull=False),
                name="registry_alias_event_moves_something",
            ),
        ]

    def __str__(self) -> str:
        def label(v):
            return f"v{v.version}" if v else "—"

        return f"{self.model.name}@{self.alias}: {label(self.from_version)} → {label(self.to_version)}"


class PickleAllowance(models.Model):
    """Append-only: a reviewer's decision, with a reason, to allow (or stop allowing) pickle artifacts
    for one model. The newest row is the model's current policy; no row means pickles are refused."""

    model = models.ForeignKey(RegisteredModel, on_delete=models.PROTECT, related_name="pickle_allowances")
    allowed = models.BooleanField()
    reason = models.TextField()
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [models.CheckConstraint(condition=~Q(reason=""), name="registry_pickle_allowance_has_reason")]

    def __str__(self) -> str:
        return f"{self.model.name}: pickles {'allowed' if self.allowed else 'refused'} by {self.actor}"
