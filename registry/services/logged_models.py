"""MLflow 3 logged models: created by `log_model` before it uploads the files, finalized once they
are up, tagged with the versions registered from them, named as a run's outputs. The files are the
logged model's RunArtifact rows (registry.services.run_artifacts); nothing here opens them."""

import logging

from django.core.files import File
from django.db import transaction
from django.utils import timezone

from mlops.errors import ApplicationError, Conflict

from ..models import (
    Experiment,
    LoggedModel,
    LoggedModelInput,
    LoggedModelStatus,
    ModelVersion,
    RunArtifact,
    TrainingRun,
)
from .catalog import artifact_attach
from .run_artifacts import run_artifact_open

__all__ = [
    "logged_model_create",
    "logged_model_finalize",
    "logged_model_log_params",
    "logged_model_set_tags",
    "logged_model_delete_tag",
    "run_log_outputs",
    "run_log_inputs",
    "logged_model_delete",
    "version_attach_logged_model_file",
]

log = logging.getLogger(__name__)
# Where the sklearn flavor writes the model (MLmodel's `pickled_model`), skops first: the safe format.
MODEL_FILES = ("model.skops", "model.pkl")


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


@transaction.atomic
def run_log_inputs(*, run: TrainingRun, logged_models: list[LoggedModel]) -> int:
    """Record that `run` used these logged models (MLflow's runs/log-inputs `models`); a model named
    again adds nothing. Returns how many were new."""
    if run.deleted_at is not None:
        raise ApplicationError(f"The run {run.run_id} is deleted; restore it first.", field="run_id")
    rows = [LoggedModelInput(run=run, logged_model=logged) for logged in {m.pk: m for m in logged_models}.values()]
    known = set(LoggedModelInput.objects.filter(run=run).values_list("logged_model_id", flat=True))
    new = [row for row in rows if row.logged_model_id not in known]
    LoggedModelInput.objects.bulk_create(new, ignore_conflicts=True)
    return len(new)


@transaction.atomic
def logged_model_delete(*, logged_model: LoggedModel, actor) -> LoggedModel:
    """MLflow's delete_logged_model: the logged model is marked deleted (when, by whom) and hidden
    from the MLflow API's get and search; its row, files and metric links stay. Deleting it again
    changes nothing. Refused (Conflict) while a registered version was made from it: a version keeps
    what it was registered from (services.version_create takes the same lock and refuses a deleted one)."""
    logged = _locked(logged_model)
    if logged.deleted_at is not None:
        return logged
    versions = list(
        ModelVersion.objects.filter(logged_model=logged).select_related("model").order_by("model__name", "version")
    )
    if versions:
        named = ", ".join(f"'{v.model.name}' version {v.version}" for v in versions[:5])
        more = f" and {len(versions) - 5} more" if len(versions) > 5 else ""
        raise Conflict(
            f"Logged model {logged.model_id} was not deleted: model {named}{more} was registered from it, "
            "and a registered version keeps what it was registered from."
        )
    now = timezone.now()
    logged.deleted_at, logged.deleted_by, logged.updated_at = now, actor, now
    logged.save(update_fields=["deleted_at", "deleted_by", "updated_at"])
    log.info("%s deleted logged model %s", actor, logged.model_id)
    return logged


def version_attach_logged_model_file(*, version: ModelVersion, logged_model: LoggedModel) -> str:
    """Attach the logged model's sklearn file to the version it was registered as, through the same
    check as API v1's upload (artifact_attach: sha256, size, and artifact_format_check, which reads
    a skops file's type list and a pickle's opcodes without loading either). A skops file of trusted
    types, or a pickle where the model's owner allowed pickles, becomes the artifact the gate scores
    in its isolated scorer; anything else stays only stored, and the reason is returned (empty when
    attached). Never raises for the file: the registration stands either way."""
    if logged_model.status != LoggedModelStatus.READY:
        return f"the logged model {logged_model.model_id} is not READY"
    found = {a.path: a for a in RunArtifact.objects.filter(logged_model=logged_model, path__in=MODEL_FILES)}
    stored = next((found[name] for name in MODEL_FILES if name in found), None)
    if stored is None:
        return f"the logged model {logged_model.model_id} has no {' or '.join(MODEL_FILES)}"
    try:
        with run_artifact_open(stored) as handle, transaction.atomic():
            upload = File(handle, name=stored.path)
            upload.size = stored.size
            artifact_attach(version=version, uploaded=upload, sha256=stored.sha256)
    except (ApplicationError, Conflict) as exc:
        log.info("%s keeps its MLflow files only: %s", version, exc)
        return str(exc)
    return ""
