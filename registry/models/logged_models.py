"""MLflow 3 logged models: what `mlflow.<flavor>.log_model` creates before it uploads the model's
files. A logged model belongs to an experiment and (usually) to the run that logged it; its files
are RunArtifact rows owned by it (the same storage and path rule as a run's artifacts), and a
registered version made from it points back to it (ModelVersion.logged_model).

Keel stores the files only: nothing in the web process opens them as a model."""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from mlops.modelkit import choice_constraint

from .catalog import Experiment, RunMetric, TrainingRun

__all__ = [
    "LoggedModelStatus",
    "new_logged_model_id",
    "LoggedModel",
    "LoggedModelMetric",
    "LoggedModelInput",
    "artifact_owner",
    "artifact_owner_id",
    "DATASET_NAME_MAX",
    "DATASET_DIGEST_MAX",
]

# MLflow's column sizes for a metric's dataset.
DATASET_NAME_MAX, DATASET_DIGEST_MAX = 500, 36


class LoggedModelStatus(models.TextChoices):
    # MLflow's LoggedModelStatus without its LOGGED_MODEL_ prefix.
    PENDING = "PENDING", "pending (files uploading)"
    READY = "READY", "ready"
    UPLOAD_FAILED = "UPLOAD_FAILED", "upload failed"


def new_logged_model_id() -> str:
    # MLflow's form, `m-<32 hex>`: never a run id, so the two share one storage folder scheme.
    return f"m-{uuid.uuid4().hex}"


class LoggedModel(models.Model):
    model_id = models.CharField(max_length=34, unique=True, default=new_logged_model_id, editable=False)
    experiment = models.ForeignKey(Experiment, on_delete=models.PROTECT, related_name="logged_models")
    run = models.ForeignKey(TrainingRun, on_delete=models.PROTECT, null=True, blank=True, related_name="logged_models")
    name = models.CharField(max_length=250)
    model_type = models.CharField(max_length=250, blank=True)
    status = models.CharField(max_length=16, choices=LoggedModelStatus.choices, default=LoggedModelStatus.PENDING)
    status_message = models.TextField(blank=True)
    # Params are set once (as a run's): a key logged again with another value is refused.
    params = models.JSONField(default=dict, blank=True)
    tags = models.JSONField(default=dict, blank=True)
    # The step the run recorded it at (runs/outputs); null until the run names it as an output.
    output_step = models.BigIntegerField(null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now)
    # MLflow's delete is a lifecycle change, not an erasure: the row, its files and its metric links
    # stay; who deleted it and when are kept (services.logged_model_delete, once, never undone).
    deleted_at = models.DateTimeField(
        null=True, blank=True, help_text="When it was deleted through the MLflow API (hidden; nothing is erased)."
    )
    deleted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            choice_constraint("status", LoggedModelStatus, "registry_loggedmodel_status_valid"),
            models.CheckConstraint(condition=Q(model_id__startswith="m-"), name="registry_loggedmodel_id_form"),
            models.CheckConstraint(
                condition=Q(deleted_at__isnull=True, deleted_by__isnull=True)
                | Q(deleted_at__isnull=False, deleted_by__isnull=False),
                name="registry_loggedmodel_deleted_by_whom",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.model_id[:10]})"


class LoggedModelMetric(models.Model):
    """A run's metric point logged for a logged model (MLflow's Metric.model_id), on a dataset or
    none. The value is the run's RunMetric row: one record, linked to the model, never copied.
    Append-only (a trigger refuses changes), as the metric log itself."""

    logged_model = models.ForeignKey(LoggedModel, on_delete=models.PROTECT, related_name="metric_links")
    point = models.ForeignKey(RunMetric, on_delete=models.PROTECT, related_name="logged_model_links")
    dataset_name = models.CharField(max_length=DATASET_NAME_MAX, blank=True)
    dataset_digest = models.CharField(max_length=DATASET_DIGEST_MAX, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            # A retried batch links nothing twice.
            models.UniqueConstraint(
                fields=["logged_model", "point", "dataset_name", "dataset_digest"],
                name="registry_loggedmodelmetric_once",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.logged_model_id}: {self.point}"


class LoggedModelInput(models.Model):
    """A logged model a run used (MLflow's runs/log-inputs `models`: e.g. a run evaluating it)."""

    run = models.ForeignKey(TrainingRun, on_delete=models.PROTECT, related_name="model_inputs")
    logged_model = models.ForeignKey(LoggedModel, on_delete=models.PROTECT, related_name="run_inputs")
    logged_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["run", "logged_model"], name="registry_loggedmodelinput_once")]

    def __str__(self) -> str:
        return f"{self.run_id} <- {self.logged_model_id}"


def artifact_owner(owner: "TrainingRun | LoggedModel") -> dict:
    """The RunArtifact field naming `owner`, for filters and new rows: a run's files or a logged model's."""
    if isinstance(owner, LoggedModel):
        return {"logged_model": owner}
    return {"run": owner}


def artifact_owner_id(owner: "TrainingRun | LoggedModel") -> str:
    """The owner's public id (a run id, or a logged model's `m-…`): its storage folder's name."""
    return owner.model_id if isinstance(owner, LoggedModel) else owner.run_id
