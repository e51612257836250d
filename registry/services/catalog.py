"""Every write to the registry. Views, the API, the admin, tasks and the demo call these and only these.

Each function is keyword-only, runs in one transaction and leaves nothing half-written: a refused
batch logs nothing, a refused upload stores no bytes.
"""

import math
import time
import uuid
from collections.abc import Iterable
from datetime import date, datetime

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.text import slugify

from mlops.datafiles.storage import bounded_file_name, refuse_oversized
from mlops.errors import ApplicationError, Conflict, NotFound
from mlops.hashing import sha256_stream

from ..models import (
    GOVERNED_ALIASES,
    TERMINAL_RUN_STATUSES,
    AliasEvent,
    ArtifactCheck,
    Experiment,
    LoggedModel,
    ModelAlias,
    ModelVersion,
    ModelVersionTag,
    RegisteredModel,
    RunMetric,
    RunParam,
    RunStatus,
    RunTag,
    TrainingRun,
)
from ..selectors import latest_metrics, latest_tags
from ..validators import MAX_PARAM_VALUE_LENGTH, SHA256_RE
from .artifact_formats import artifact_format_check

__all__ = [
    "model_create",
    "model_update_description",
    "experiment_get_or_create",
    "experiment_create",
    "run_create",
    "run_log",
    "run_set_status",
    "version_create",
    "version_set_tags",
    "artifact_attach",
    "artifact_verify",
    "alias_move",
]


def _clean(instance, *, exclude: Iterable[str] = ()) -> None:
    """Run model validation so admin, API and services share one set of field rules."""
    instance.full_clean(exclude=list(exclude), validate_constraints=False)


# --- models -------------------------------------------------------------------------------------


@transaction.atomic
def model_create(*, name: str, task_type: str, owner, description: str = "") -> RegisteredModel:
    if RegisteredModel.objects.filter(name=name).exists():
        raise Conflict(f"A model named '{name}' already exists.", field="name")
    model = RegisteredModel(name=name, task_type=task_type, owner=owner, description=description)
    _clean(model)
    model.save()
    return model


@transaction.atomic
def model_update_description(*, model: RegisteredModel, description: str) -> RegisteredModel:
    # The description is documentation, not a log entry, so it is the one thing edited in place.
    model.description = description
    model.save(update_fields=["description", "updated_at"])
    return model


# --- training runs ------------------------------------------------------------------------------


@transaction.atomic
def experiment_get_or_create(*, name: str, actor) -> Experiment:
    name = (name or "").strip()
    if not name:
        raise ApplicationError("An experiment needs a name.", field="experiment")
    experiment, _ = Experiment.objects.get_or_create(name=name, defaults={"created_by": actor})
    return experiment


@transaction.atomic
def experiment_create(*, name: str, actor) -> Experiment:
    """A new experiment; a name already taken is a Conflict (MLflow's create refuses it too)."""
    name = (name or "").strip()
    if not name:
        raise ApplicationError("An experiment needs a name.", field="name")
    if Experiment.objects.filter(name=name).exists():
        raise Conflict(f"An experiment named '{name}' already exists.", field="name")
    experiment = Experiment(name=name, created_by=actor)
    _clean(experiment, exclude=["created_by"])
    try:
        with transaction.atomic():
            experiment.save()
    except IntegrityError:
        # Created by a concurrent call between the check and the insert.
        raise Conflict(f"An experiment named '{name}' already exists.", field="name") from None
    return experiment


@transaction.atomic
def run_create(
    *,
    experiment: Experiment,
    actor,
    name: str = "",
    code_commit: str = "",
    started_at: datetime | None = None,
    tags: dict[str, str] | None = None,
) -> TrainingRun:
    run = TrainingRun(
        experiment=experiment,
        name=name,
        code_commit=code_commit,
        created_by=actor,
        started_at=started_at or timezone.now(),
    )
    _clean(run, exclude=["experiment", "created_by"])
    run.save()
    if tags:
        # A new run has no tags yet: nothing to lock or read first (run_log does both).
        RunTag.objects.bulk_create(_new_tag_rows(run, actor, tags.items(), current={}))
    return run


def _finite_metric(key: str, value) -> tuple[float, bool]:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ApplicationError(f"Metric '{key}' must be a number.", field="metrics")
    value = float(value)
    if math.isnan(value):
        return 0.0, True
    if math.isinf(value):
        # As MLflow does: infinities are stored as the largest finite double of the same sign.
        return math.copysign(1.7976931348623157e308, value), False
    return value, False


def _check_key(key, field: str) -> str:
    if not isinstance(key, str) or not key.strip() or len(key) > 250:
        raise ApplicationError(f"Each {field[:-1]} needs a key of 1 to 250 characters.", field=field)
    return key


@transaction.atomic
def run_log(
    *,
    run: TrainingRun,
    actor,
    params: Iterable[tuple[str, object]] = (),
    metrics: Iterable[dict] = (),
    tags: Iterable[tuple[str, str]] = (),
) -> dict[str, int]:
    """Log a batch of params, metrics and tags to a run, all or nothing.

    Params are write-once: logging the same value again is a no-op, a different value refuses the
    whole batch naming the key. Metrics append to their history (an exact repeat is ignored, so a
    retried batch is harmless). Tags append a new value; re-setting the current value is a no-op.
    """
    run = TrainingRun.objects.select_for_update().get(pk=run.pk)

    wanted_params: dict[str, str] = {}
    for key, value in params:
        _check_key(key, "params")
        text = value if isinstance(value, str) else ("" if value is None else str(value))
        if len(text) > MAX_PARAM_VALUE_LENGTH:
            raise ApplicationError(f"Param '{key}' is longer than {MAX_PARAM_VALUE_LENGTH} characters.", field="params")
        if key in wanted_params and wanted_params[key] != text:
            raise ApplicationError(f"Param '{key}' appears twice in the batch with different values.", field="params")
        wanted_params[key] = text

    existing = dict(run.params.filter(key__in=wanted_params).values_list("key", "value")) if wanted_params else {}
    for key, text in wanted_params.items():
        if key in existing and existing[key] != text:
            raise ApplicationError(
                f"Param '{key}' was already logged as '{existing[key]}'; logged params cannot change "
                f"(got '{text}'). Start a new run for a new configuration.",
                field="params",
                status_code=409,
            )
    new_params = [RunParam(run=run, key=k, value=v) for k, v in wanted_params.items() if k not in existing]

    now_ms = int(time.time() * 1000)
    metric_rows = []
    for item in metrics:
        if not isinstance(item, dict):
            raise ApplicationError("Each metric must be an object with key and value.", field="metrics")
        key = _check_key(item.get("key"), "metrics")
        value, is_nan = _finite_metric(key, item.get("value"))
        step, timestamp = item.get("step", 0) or 0, item.get("timestamp") or now_ms
        if not all(isinstance(n, int) and not isinstance(n, bool) for n in (step, timestamp)):
            raise ApplicationError(f"Metric '{key}': step and timestamp must be whole numbers.", field="metrics")
        metric_rows.append(RunMetric(run=run, key=key, value=value, is_nan=is_nan, step=step, timestamp=timestamp))

    tags = list(tags)
    new_tags = _new_tag_rows(run, actor, tags, current=latest_tags(run.tags.all()) if tags else {})

    RunParam.objects.bulk_create(new_params)
    RunMetric.objects.bulk_create(metric_rows, ignore_conflicts=True)
    RunTag.objects.bulk_create(new_tags)
    return {"params": len(new_params), "metrics": len(metric_rows), "tags": len(new_tags)}


def _new_tag_rows(run: TrainingRun, actor, tags: Iterable[tuple[str, str]], *, current: dict) -> list[RunTag]:
    """The rows that set these tags on a run whose current tags are `current` (updated in place);
    re-setting a tag's current value adds nothing."""
    rows = []
    for key, value in tags:
        _check_key(key, "tags")
        if not isinstance(value, str):
            raise ApplicationError(f"Tag '{key}' must be text.", field="tags")
        if current.get(key) != value:
            current[key] = value
            rows.append(RunTag(run=run, key=key, value=value, set_by=actor))
    return rows


def run_set_status(*, run: TrainingRun, status: str, ended_at: datetime | None = None) -> TrainingRun:
    """Move a run to a new status. Ended runs stay ended: their record is history.

    One conditional UPDATE, atomic by itself: it changes only a run that has not ended (and does not
    end before it started), so two callers racing cannot both end it. The MLflow client ends every
    run this way, so the usual case costs no transaction nor lock; when nothing changed, the locked
    read below says why (or that the run already has this status)."""
    if status not in RunStatus.values:
        raise ApplicationError(f"Unknown status '{status}'; use one of {', '.join(RunStatus.values)}.", field="status")
    changes: dict = {"status": status}
    still_open = TrainingRun.objects.filter(pk=run.pk).exclude(status__in=TERMINAL_RUN_STATUSES)
    if status in TERMINAL_RUN_STATUSES:
        changes["ended_at"] = ended_at = ended_at or timezone.now()
        still_open = still_open.filter(started_at__lte=ended_at)
    if still_open.update(**changes):
        for name, value in changes.items():
            setattr(run, name, value)
        return run
    return _run_set_status_locked(run=run, status=status, ended_at=ended_at)


@transaction.atomic
def _run_set_status_locked(*, run: TrainingRun, status: str, ended_at: datetime | None) -> TrainingRun:
    # Who started it comes along (the MLflow answer names them); only the run's row is locked.
    run = TrainingRun.objects.select_for_update(of=("self",)).select_related("created_by").get(pk=run.pk)
    if run.status == status:
        return run
    if run.status in TERMINAL_RUN_STATUSES:
        raise Conflict(f"Run {run.run_id} already ended as {run.status}; it cannot become {status}.", field="status")
    run.status = status
    if status in TERMINAL_RUN_STATUSES:
        run.ended_at = ended_at or timezone.now()
        if run.ended_at < run.started_at:
            raise ApplicationError("A run cannot end before it started.", field="ended_at", status_code=409)
    run.save(update_fields=["status", "ended_at"])
    return run


# --- versions -----------------------------------------------------------------------------------


@transaction.atomic
def version_create(
    *,
    model: RegisteredModel,
    actor,
    run: TrainingRun | None = None,
    flavor: str = "sklearn",
    description: str = "",
    feature_schema: list | None = None,
    decision_threshold: float | None = None,
    train_window_start: date | None = None,
    train_window_end: date | None = None,
    dataset_uri: str = "",
    dataset_sha256: str = "",
    code_commit: str = "",
    source: str = "",
    hyperparameters: dict | None = None,
    metrics: dict | None = None,
    tags: dict[str, str] | None = None,
    logged_model=None,
) -> ModelVersion:
    """Register the next version of a model with its full config (`logged_model`: the MLflow 3
    logged model it is registered from, whose run it is made from when no run is named).

    A version made from a run inherits what it does not state: the run's params as hyperparameters,
    the run's latest metric values, and its commit.
    """
    # Locking the model row serialises concurrent registrations, so version numbers never collide.
    model = RegisteredModel.objects.select_for_update().get(pk=model.pk)
    if logged_model is not None:
        # Locked as logged_model_delete locks it: a logged model is not deleted while a version is
        # being registered from it, nor registered from once deleted.
        logged_model = LoggedModel.objects.select_for_update().get(pk=logged_model.pk)
        if logged_model.deleted_at is not None:
            raise NotFound(f"Logged model with id '{logged_model.model_id}' not found (it was deleted).")
    if logged_model is not None and run is None:
        run = logged_model.run
    if run is not None:
        if hyperparameters is None:
            hyperparameters = dict(run.params.values_list("key", "value"))
        if metrics is None:
            metrics = {k: v for k, v in latest_metrics(run.metrics.all()).items() if v is not None}
        code_commit = code_commit or run.code_commit

    last = model.versions.order_by("-version").values_list("version", flat=True).first() or 0
    version = ModelVersion(
        model=model,
        version=last + 1,
        run=run,
        logged_model=logged_model,
        flavor=flavor,
        description=description,
        feature_schema=feature_schema or [],
        decision_threshold=decision_threshold,
        train_window_start=train_window_start,
        train_window_end=train_window_end,
        dataset_uri=dataset_uri,
        dataset_sha256=dataset_sha256,
        code_commit=code_commit,
        source=source,
        hyperparameters=hyperparameters or {},
        metrics=metrics or {},
        created_by=actor,
    )
    _clean(version, exclude=["model", "run", "created_by", "artifact"])
    if train_window_start and train_window_end and train_window_end < train_window_start:
        raise ApplicationError("The training window ends before it starts.", field="train_window_end")
    version.save()
    if tags:
        version_set_tags(version=version, actor=actor, tags=tags)
    return version


@transaction.atomic
def version_set_tags(*, version: ModelVersion, actor, tags: dict[str, str]) -> int:
    current = latest_tags(version.tags.all())
    rows = []
    for key, value in tags.items():
        _check_key(key, "tags")
        if not isinstance(value, str):
            raise ApplicationError(f"Tag '{key}' must be text.", field="tags")
        if current.get(key) != value:
            rows.append(ModelVersionTag(version=version, key=key, value=value, set_by=actor))
    ModelVersionTag.objects.bulk_create(rows)
    return len(rows)


def _hash_upload(uploaded: UploadedFile) -> str:
    uploaded.seek(0)
    return sha256_stream(uploaded)[0]


def artifact_attach(*, version: ModelVersion, uploaded: UploadedFile, sha256: str) -> ModelVersion:
    """Store a version's artifact after checking its size, that its bytes hash to `sha256`, and its
    format (a skops file building only trusted types, or a pickle for a model that allows pickles).

    Refusals (bad hash, mismatch, too large, already attached, untrusted format) store nothing. If the database write
    fails after the bytes reached storage, the stored file is removed again.
    """
    sha256 = (sha256 or "").strip().lower()
    if not SHA256_RE.match(sha256):
        raise ApplicationError("Send the artifact's sha256 as 64 hex characters.", field="sha256")
    refuse_oversized(uploaded, settings.KEEL_MAX_ARTIFACT_BYTES, what="artifact")
    if uploaded.size == 0:
        raise ApplicationError("The artifact file is empty.", field="file")
    computed = _hash_upload(uploaded)
    if computed != sha256:
        raise ApplicationError(
            f"The uploaded bytes hash to {computed}, not the sha256 you sent ({sha256}); nothing was stored.",
            field="sha256",
        )

    stored_name = None
    try:
        with transaction.atomic():
            locked = ModelVersion.objects.select_for_update().select_related("model").get(pk=version.pk)
            if locked.artifact:
                raise Conflict(
                    f"{locked} already has its artifact; artifacts are attached once. "
                    "Register a new version for new bytes.",
                    field="file",
                )
            uploaded.seek(0)
            artifact_format = artifact_format_check(model=locked.model, raw=uploaded.read(), name=uploaded.name)
            locked.artifact.save(bounded_file_name(uploaded.name), uploaded, save=False)
            stored_name = locked.artifact.name
            locked.artifact_sha256 = computed
            locked.artifact_size = uploaded.size
            locked.artifact_format = artifact_format
            locked.save(update_fields=["artifact", "artifact_sha256", "artifact_size", "artifact_format"])
            check_key = uuid.uuid4()
            transaction.on_commit(lambda: _queue_artifact_check(locked.pk, check_key))
    except Exception:
        if stored_name:
            version.artifact.storage.delete(stored_name)
        raise
    return locked


def _queue_artifact_check(version_id: int, check_key: uuid.UUID) -> None:
    from ..tasks import verify_artifact

    verify_artifact.delay(version_id, str(check_key))


def artifact_verify(*, version_id: int, check_key: str) -> ArtifactCheck:
    """Re-hash a stored artifact and record the result once per check_key (safe to retry)."""
    existing = ArtifactCheck.objects.filter(check_key=check_key).first()
    if existing:
        return existing
    version = ModelVersion.objects.get(pk=version_id)
    computed, error = "", ""
    if not version.artifact:
        error = "No artifact is attached to this version."
    else:
        try:
            with version.artifact.open("rb") as handle:
                computed = sha256_stream(handle)[0]
        except OSError as exc:
            error = f"The stored artifact could not be read: {exc}"
    ok = not error and computed == version.artifact_sha256
    if not ok and not error:
        error = f"Stored bytes hash to {computed}, registered sha256 is {version.artifact_sha256}."
    try:
        with transaction.atomic():
            return ArtifactCheck.objects.create(
                check_key=check_key, version=version, ok=ok, computed_sha256=computed, error=error
            )
    except IntegrityError:
        # A concurrent retry recorded it first.
        return ArtifactCheck.objects.get(check_key=check_key)


# --- aliases ------------------------------------------------------------------------------------


def _alias_name(alias: str) -> str:
    if not alias or slugify(alias) != alias or len(alias) > 64:
        raise ApplicationError("An alias is 1 to 64 lowercase letters, digits, - or _.", field="alias")
    return alias


def alias_move(
    *, model: RegisteredModel, alias: str, version: ModelVersion | None, actor, reason: str
) -> AliasEvent | None:
    """Point a free alias (challenger, staging, anything but a governed one) at `version`, or remove
    it when `version` is None, recording who, when and why. Returns the event, or None if nothing moved.

    Governed aliases (production, shadow, canary) are what serving systems act on: they move only
    through an approved promotion request or a rollback, never directly.
    """
    if alias in GOVERNED_ALIASES:
        raise Conflict(
            f"'{alias}' is a governed alias: it moves only through a promotion request that a second "
            f"reviewer approves (POST /api/v1/promotions/ or the model's 'Request promotion' page), "
            f"or a rollback.",
            field="alias",
        )
    return alias_point(model=model, alias=alias, version=version, actor=actor, reason=reason)


@transaction.atomic
def alias_point(
    *, model: RegisteredModel, alias: str, version: ModelVersion | None, actor, reason: str
) -> AliasEvent | None:
    """The one place an alias row changes. Only alias_move and the promotion workflow call it."""
    alias = _alias_name(alias)
    reason = (reason or "").strip()
    if not reason:
        raise ApplicationError("Say why the alias moves; the reason is kept in its history.", field="reason")
    model = RegisteredModel.objects.select_for_update().get(pk=model.pk)
    if version is not None and version.model_id != model.pk:
        raise ApplicationError(f"Version {version} does not belong to model '{model.name}'.", field="version")

    current = ModelAlias.objects.select_for_update().filter(model=model, name=alias).select_related("version").first()
    from_version = current.version if current else None
    if from_version == version:
        return None
    if version is None:
        current.delete()
    elif current is None:
        ModelAlias.objects.create(model=model, name=alias, version=version)
    else:
        current.version = version
        current.updated_at = timezone.now()
        current.save(update_fields=["version", "updated_at"])
    return AliasEvent.objects.create(
        model=model, alias=alias, from_version=from_version, to_version=version, actor=actor, reason=reason
    )
