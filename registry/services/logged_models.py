"""MLflow 3 logged models: created by `log_model` before it uploads the files, finalized once they
are up, tagged with the versions registered from them, named as a run's outputs. The files are the
logged model's RunArtifact rows (registry.services.run_artifacts); nothing here opens them."""

from django.db import transaction
from django.utils import timezone

from mlops.errors import ApplicationError

from ..models import Experiment, LoggedModel, LoggedModelStatus, TrainingRun

__all__ = [
    "logged_model_create",
    "logged_model_finalize",
    "logged_model_log_params",
    "logged_model_set_tags",
    "logged_model_delete_tag",
    "run_log_outputs",
]


def _merge_params(current: dict, new: dict[str, str]) -> dict:
    # A logged model's params are set once, as a run's are: the same value again is fine.
    for key, value in new.items():
        if key in current and current[key] != value:
            raise ApplicationError(
                f"The param '{key}' is already '{current[key]}' on this logged model; params cannot be changed.",
                field="params",
            )
    return {**current, **new}


@transaction.atomic
def logged_model_create(
    *,
    experiment: Experiment,
    actor,
    run: TrainingRun | None = None,
    name: str = "",
    model_type: str = "",
    params: dict[str, str] | None = None,
    tags: dict[str, str] | None = None,
) -> LoggedModel:
    if run is not None:
        if run.experiment_id != experiment.pk:
            raise ApplicationError(
                f"The run {run.run_id} belongs to another experiment than {experiment.pk}.", field="source_run_id"
            )
        if run.deleted_at is not None:
            raise ApplicationError(f"The run {run.run_id} is deleted; restore it first.", field="source_run_id")
    logged = LoggedModel(
        experiment=experiment,
        run=run,
        name=name or "model",
        model_type=model_type,
        params=_merge_params({}, params or {}),
        tags=dict(tags or {}),
        created_by=actor,
    )
    logged.full_clean()
    logged.save()
    return logged


def _locked(logged_model: LoggedModel) -> LoggedModel:
    return LoggedModel.objects.select_for_update().get(pk=logged_model.pk)


@transaction.atomic
def logged_model_finalize(*, logged_model: LoggedModel, status: str) -> LoggedModel:
    """READY once the files are up, or UPLOAD_FAILED; a READY model stays READY (its files are what
    a registered version points at)."""
    logged = _locked(logged_model)
    if status not in (LoggedModelStatus.READY, LoggedModelStatus.UPLOAD_FAILED):
        raise ApplicationError("A logged model is finalized as READY or UPLOAD_FAILED.", field="status")
    if logged.status == LoggedModelStatus.READY and status != LoggedModelStatus.READY:
        raise ApplicationError(f"The logged model {logged.model_id} is already READY.", field="status")
    logged.status, logged.updated_at = status, timezone.now()
    logged.save(update_fields=["status", "updated_at"])
    return logged


@transaction.atomic
def logged_model_log_params(*, logged_model: LoggedModel, params: dict[str, str]) -> LoggedModel:
    logged = _locked(logged_model)
    logged.params, logged.updated_at = _merge_params(logged.params, params), timezone.now()
    logged.save(update_fields=["params", "updated_at"])
    return logged


@transaction.atomic
def logged_model_set_tags(*, logged_model: LoggedModel, tags: dict[str, str]) -> LoggedModel:
    logged = _locked(logged_model)
    logged.tags, logged.updated_at = {**logged.tags, **tags}, timezone.now()
    logged.save(update_fields=["tags", "updated_at"])
    return logged


@transaction.atomic
def logged_model_delete_tag(*, logged_model: LoggedModel, key: str) -> LoggedModel:
    logged = _locked(logged_model)
    if key not in logged.tags:
        raise ApplicationError(f"The logged model {logged.model_id} has no tag '{key[:250]}'.", field="key")
    del logged.tags[key]
    logged.updated_at = timezone.now()
    logged.save(update_fields=["tags", "updated_at"])
    return logged


@transaction.atomic
def run_log_outputs(*, run: TrainingRun, outputs: list[tuple[LoggedModel, int]]) -> None:
    """Record that `run` produced these logged models (at these steps): MLflow's run outputs."""
    if run.deleted_at is not None:
        raise ApplicationError(f"The run {run.run_id} is deleted; restore it first.", field="run_id")
    for logged_model, step in outputs:
        logged = _locked(logged_model)
        if logged.run_id is not None and logged.run_id != run.pk:
            raise ApplicationError(f"The logged model {logged.model_id} was logged by another run.", field="models")
        logged.run, logged.output_step, logged.updated_at = run, step, timezone.now()
        logged.save(update_fields=["run", "output_step", "updated_at"])
