"""Where imported records came from: one row per MLflow object `manage.py import_mlflow` copied (or
adopted) into Keel, written in the same transaction as the copy. It makes the import idempotent (a
second run finds the row and adds nothing) and resumable (a run killed mid-way left whole objects
with their rows, and nothing of the one it was copying)."""

from django.conf import settings
from django.db import models
from django.utils import timezone

from mlops.modelkit import choice_constraint

from .catalog import Experiment, ModelVersion, RegisteredModel, TrainingRun
from .logged_models import LoggedModel

__all__ = ["MlflowImportKind", "MlflowImport"]


class MlflowImportKind(models.TextChoices):
    EXPERIMENT = "experiment"
    RUN = "run"
    LOGGED_MODEL = "logged_model"
    MODEL = "model"
    VERSION = "version"
    # An alias as it pointed when imported (`<alias>=<MLflow version>`): a free one set, a governed one noted.
    ALIAS = "alias"


class MlflowImport(models.Model):
    source_uri = models.CharField(max_length=500, help_text="The MLflow tracking URI, without credentials.")
    kind = models.CharField(max_length=16, choices=MlflowImportKind.choices)
    source_id = models.CharField(
        max_length=600, help_text="MLflow's id: an experiment or run id, a model name, `name/version`, `name@alias=v`."
    )
    experiment = models.ForeignKey(Experiment, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    run = models.ForeignKey(TrainingRun, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    logged_model = models.ForeignKey(LoggedModel, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    model = models.ForeignKey(RegisteredModel, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    version = models.ForeignKey(ModelVersion, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    note = models.TextField(blank=True, help_text="What differs from MLflow (a new id, an existing record adopted).")
    imported_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    imported_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["imported_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["source_uri", "kind", "source_id"], name="registry_mlflow_import_once"),
            choice_constraint("kind", MlflowImportKind, "registry_mlflow_import_kind_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.source_id} from {self.source_uri}"
