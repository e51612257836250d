"""Data batches and audit jobs: accepting a file, queueing its audit (or a reference build), running
the job, recording its findings.

An audit is a background job. Bad data never raises into the void: it ends the job as failed with a
reason the sender can act on. A job that already finished is left alone, so a redelivered task
(acks_late after a killed worker) completes it exactly once.
"""

import logging
from pathlib import Path

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import OperationalError as DatabaseOperationalError
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from mlops.datafiles.reading import DataFileError
from mlops.datafiles.storage import one_source_name, open_source, save_with_upload
from mlops.errors import ApplicationError
from mlops.hashing import sha256_stream
from mlops.queueing import queue_each, queue_or_wait
from registry import selectors as registry_selectors
from registry.models import ModelVersion, RegisteredModel

from ..engine import audit as engine
from ..engine.checks import json_safe
from ..engine.columns import ColumnSpec
from ..engine.profile import encode_kept_values, kept_values, without_kept_values
from ..engine.suite import Suite, suggest_suite
from ..models import (
    AuditJob,
    AuditKind,
    AuditState,
    AuditSuite,
    BatchPurpose,
    DataBatch,
    DataFormat,
    Finding,
    ReferenceProfile,
)
from ..selectors.references import batch_path, column_specs, reference_profile_for_comparison
from .alerts import alerts_raise
from .feeds import feed_key
from .reference_values import reference_values_discard, reference_values_save
from .suites import suite_for

__all__ = [
    "batch_register",
    "audit_start",
    "audit_submit",
    "audit_run",
    "audit_fail",
    "audit_profile_partition",
    "audit_finish_partitioned",
    "audits_requeue_stalled",
]

log = logging.getLogger(__name__)

# A batch is often named after its file or path (the API's and the page's default); it keeps as much
# of that name as its column holds.
BATCH_NAME_MAX_LENGTH = DataBatch._meta.get_field("name").max_length

FORMAT_BY_SUFFIX = {
    ".csv": DataFormat.CSV,
    ".parquet": DataFormat.PARQUET,
    ".pq": DataFormat.PARQUET,
    ".jsonl": DataFormat.JSONL,
    ".ndjson": DataFormat.JSONL,
}


# --- batches ------------------------------------------------------------------------------------


@transaction.atomic
def batch_register(
    *,
    model: RegisteredModel,
    actor,
    name: str = "",
    purpose: str = BatchPurpose.INCOMING,
    uploaded: UploadedFile | None = None,
    storage_path: str = "",
    format: str = "",
    declared_sha256: str = "",
    signature: str = "",
) -> DataBatch:
    """Accept a data file as it is (named after the file unless `name` is given). Its content is judged
    by the audit, which reports what is wrong."""
    source_name = one_source_name(uploaded, storage_path)
    fmt = format or FORMAT_BY_SUFFIX.get(Path(source_name).suffix.lower())
    if fmt not in DataFormat.values:
        raise ApplicationError(
            "Say the format (csv, parquet or jsonl); it cannot be told from the name.", field="format"
        )
    with open_source(uploaded, storage_path, max_bytes=settings.KEEL_MAX_BATCH_BYTES) as handle:
        sha, size = sha256_stream(handle)
    batch = DataBatch(
        model=model,
        name=(name or source_name)[:BATCH_NAME_MAX_LENGTH],
        purpose=purpose,
        format=fmt,
        sha256=sha,
        size_bytes=size,
        declared_sha256=declared_sha256.strip().lower(),
        signature=signature.strip().lower(),
        storage_path=storage_path,
        created_by=actor,
    )
    save_with_upload(batch, "file", uploaded)
    return batch


# --- starting jobs --------------------------------------------------------------------------------


def _queue(job_id: int) -> None:
    from ..tasks import run_audit

    queue_or_wait(run_audit, job_id, what="audit")


def _create_queued(model, version, batch, kind: str, actor, **fields) -> AuditJob:
    """A new audit job (of a batch, or a reference build), queued once the transaction commits."""
    job = AuditJob.objects.create(
        model=model, version=version, batch=batch, kind=kind, created_by=actor, stage="queued", **fields
    )
    transaction.on_commit(lambda: _queue(job.pk))
    return job


def _audit_target(model: RegisteredModel, version: ModelVersion | None) -> ModelVersion:
    """The version whose training reference a batch is compared with (default: production)."""
    if version is None:
        version = registry_selectors.alias_map(model).get(registry_selectors.PRODUCTION)
        if version is None:
            raise ApplicationError(
                f"'{model.name}' has no production version; say which version's reference to audit against.",
                field="version",
                status_code=409,
            )
    if version.model_id != model.pk:
        raise ApplicationError("That version belongs to another model.", field="version")
    if not ReferenceProfile.objects.filter(version=version).exists():
        raise ApplicationError(
            f"v{version.version} has no training reference yet; build one first "
            f"(POST /api/v1/models/{model.name}/versions/{version.version}/reference).",
            field="version",
            status_code=409,
        )
    return version


@transaction.atomic
def audit_start(
    *,
    batch: DataBatch,
    actor,
    version: ModelVersion | None = None,
    schedule=None,
    trigger_key: str = "",
    serving: dict | None = None,
    sent_name: str = "",
) -> AuditJob:
    """Audit a registered batch against a version's training reference (by default, production's).
    `serving` marks a serving-log export: the model's features and what processing dropped.
    `sent_name` is the name the file was uploaded under; with the schedule it decides the feed."""
    version = _audit_target(batch.model, version)
    return _create_queued(
        batch.model,
        version,
        batch,
        AuditKind.BATCH,
        actor,
        schedule=schedule,
        trigger_key=trigger_key,
        facts={"serving": serving} if serving else {},
        feed=feed_key(
            batch=batch,
            schedule=schedule,
            serving_version=version.version if serving else None,
            sent_name=sent_name,
        ),
        repeat_of=_first_audit_of_bytes(batch),
    )


def _first_audit_of_bytes(batch: DataBatch) -> AuditJob | None:
    """The model's first batch audit (that did not fail) of exactly these bytes, from any feed: an
    audit of the same bytes again is a repeat of it."""
    return (
        AuditJob.objects.filter(model=batch.model, kind=AuditKind.BATCH, batch__sha256=batch.sha256)
        .exclude(state=AuditState.FAILED)
        .order_by("created_at", "id")
        .first()
    )


@transaction.atomic
def audit_submit(
    *,
    model: RegisteredModel,
    actor,
    version: ModelVersion | None = None,
    schedule=None,
    trigger_key: str = "",
    **batch,
) -> AuditJob:
    """Accept a batch (`batch` holds batch_register's other arguments: the file, its name, format…)
    and queue its audit. The target is checked before any bytes are stored, so a request that cannot
    be audited leaves nothing behind."""
    version = _audit_target(model, version)
    registered = batch_register(model=model, actor=actor, **batch)
    uploaded = batch.get("uploaded")
    return audit_start(
        batch=registered,
        actor=actor,
        version=version,
        schedule=schedule,
        trigger_key=trigger_key,
        sent_name=uploaded.name if uploaded else "",
    )


# --- running jobs -------------------------------------------------------------------------------


def _update(job_id: int, **fields) -> None:
    # Outside any transaction, so the page shows progress while the job runs.
    AuditJob.objects.filter(pk=job_id).update(**fields)


def audit_run(*, job_id: int) -> AuditJob:
    """Run one audit or reference build. Idempotent: a finished job is returned unchanged."""
    job = AuditJob.objects.select_related("model", "version", "batch").get(pk=job_id)
    if job.state in (AuditState.SUCCEEDED, AuditState.FAILED):
        return job
    _update(
        job.pk,
        state=AuditState.RUNNING,
        started_at=timezone.now(),
        attempts=job.attempts + 1,
        stage="Checking the file",
        rows_done=0,
    )
    try:
        if job.kind == AuditKind.REFERENCE:
            return _build_reference(job)
        return _audit_batch(job)
    except (engine.AuditInputError, DataFileError) as exc:
        return _fail(job.pk, str(exc))
    except DatabaseOperationalError:
        raise  # transient: the task retries
    except SoftTimeLimitExceeded:
        raise  # the task records the time limit reached
    except Exception as exc:  # a bug must not leave the job running forever
        log.exception("Audit %s crashed", job.pk)
        return _fail(job.pk, f"The audit could not finish ({type(exc).__name__}: {exc}).")


def audit_fail(*, job_id: int, reason: str) -> AuditJob:
    """End an unfinished audit as failed with the reason (a time limit, a worker that kept dying)."""
    return _fail(job_id, reason)


@transaction.atomic
def _fail(job_id: int, reason: str) -> AuditJob:
    job = AuditJob.objects.select_for_update().get(pk=job_id)
    if job.state in (AuditState.SUCCEEDED, AuditState.FAILED):
        return job
    job.state, job.error, job.finished_at, job.stage = AuditState.FAILED, reason, timezone.now(), "failed"
    job.save(update_fields=["state", "error", "finished_at", "stage"])
    return job


def _check_file(job: AuditJob, path: Path) -> dict:
    batch = job.batch
    key = settings.KEEL_BATCH_HMAC_KEY.encode() if settings.KEEL_BATCH_HMAC_KEY else None
    return engine.check_file(
        path,
        batch.format,
        max_bytes=settings.KEEL_MAX_BATCH_BYTES,
        received_sha256=batch.sha256,
        declared_sha256=batch.declared_sha256,
        hmac_key=key,
        signature=batch.signature,
        max_columns=settings.KEEL_MAX_COLUMNS,
    )


def _build_reference(job: AuditJob) -> AuditJob:
    path = batch_path(job.batch)
    facts = {**job.facts, **_check_file(job, path)}
    specs = [ColumnSpec.from_dict(spec) for spec in facts["specs"]]
    _update(job.pk, stage="Profiling the training data", rows_total=facts["rows"])
    roles = facts.get("roles") or {}
    built = engine.build_reference(
        path,
        job.batch.format,
        specs,
        facts,
        target_column=roles.get("label"),
        max_cell_chars=settings.KEEL_MAX_CELL_CHARS,
    )
    # The numeric columns' kept values (exact drift) go to a compressed file of their own, not the JSON.
    values = kept_values(built)
    profile = json_safe(without_kept_values(built))
    del built
    if values:
        profile["kept_values"] = reference_values_save(job.version_id, job.pk, values)
    del values
    with transaction.atomic():
        locked = AuditJob.objects.select_for_update().get(pk=job.pk)
        if locked.state != AuditState.RUNNING:  # a retry that raced a finished run: its file is not used
            reference_values_discard((profile.get("kept_values") or {}).get("file", ""))
            return locked
        replaced = ReferenceProfile.objects.filter(version=job.version).values_list("profile", flat=True).first()
        replaced_file = ((replaced or {}).get("kept_values") or {}).get("file", "")
        if replaced_file and replaced_file != (profile.get("kept_values") or {}).get("file"):
            transaction.on_commit(lambda: reference_values_discard(replaced_file))
        ReferenceProfile.objects.update_or_create(
            version=job.version,
            defaults={
                "batch": job.batch,
                "specs": facts["specs"],
                "profile": profile,
                "rows": profile["rows"],
                "label_column": roles.get("label") or "",
                "prediction_column": roles.get("prediction") or "",
            },
        )
        # A model's suite starts as the reference's suggestion; reviewers refine it from there.
        if not AuditSuite.objects.filter(model=job.model).exists():
            AuditSuite.objects.create(
                model=job.model, suite=suggest_suite(profile, specs).to_dict(), suggested_from=job.version
            )
        locked.state, locked.stage, locked.finished_at = AuditState.SUCCEEDED, "done", timezone.now()
        locked.rows_done, locked.facts = profile["rows"], facts
        locked.save(update_fields=["state", "stage", "finished_at", "rows_done", "facts"])
        return locked


def _history(job: AuditJob, suite: Suite) -> list[tuple[int, int]]:
    # Volume is learned per kind of feed: serving-log windows are not the size of training batches.
    earlier = AuditJob.objects.filter(
        model=job.model,
        kind=AuditKind.BATCH,
        state=AuditState.SUCCEEDED,
        batch__purpose=job.batch.purpose,
        created_at__lt=job.created_at,
    ).order_by("-created_at")
    return [
        (f["rows"], f["bytes"])
        for f in earlier.values_list("facts", flat=True)[: suite.history_batches]
        if f and "rows" in f
    ]


def _audit_inputs(job: AuditJob):
    reference = job.version.reference_profile
    return batch_path(job.batch), reference, column_specs(reference)


def _judging(job: AuditJob, reference: ReferenceProfile) -> dict:
    """What the engine needs to know beyond the profiles: which columns are the label and the
    prediction, and whether the file is a serving-log export."""
    return {"roles": reference.roles, "serving": job.facts.get("serving")}


def _audit_batch(job: AuditJob) -> AuditJob:
    path, reference, specs = _audit_inputs(job)
    suite = suite_for(job.model, reference)
    facts = {**job.facts, **_check_file(job, path)}
    _update(job.pk, rows_total=facts["rows"], facts=facts)
    partitions = _partitions(facts["rows"])
    if len(partitions) > 1:
        _update(job.pk, stage=f"Profiling in {len(partitions)} partitions on the workers")
        _queue_partitions(job.pk, partitions)
        return AuditJob.objects.get(pk=job.pk)
    findings, verdict, profile = engine.audit_file(
        path,
        job.batch.format,
        reference=reference_profile_for_comparison(reference),
        specs=specs,
        suite=suite,
        facts=facts,
        history=_history(job, suite),
        progress=lambda rows: _update(job.pk, rows_done=rows),
        stage=lambda text: _update(job.pk, stage=text),
        chunk_rows=settings.KEEL_AUDIT_CHUNK_ROWS,
        target_column=reference.label_column or None,
        max_cell_chars=settings.KEEL_MAX_CELL_CHARS,
        **_judging(job, reference),
    )
    return _record(job.pk, findings, verdict, profile, facts)


def _partitions(rows: int) -> list[tuple[int, int]]:
    """Row ranges for parallel profiling. In-process (eager) Celery gains nothing from splitting."""
    size = settings.KEEL_AUDIT_PARTITION_ROWS
    if settings.CELERY_TASK_ALWAYS_EAGER or rows <= size:
        return [(0, rows)]
    return [(start, min(start + size, rows)) for start in range(0, rows, size)]


def _queue_partitions(job_id: int, partitions: list[tuple[int, int]]) -> None:
    from celery import chord

    from ..tasks import finish_partitioned_audit, profile_partition

    chord(profile_partition.s(job_id, start, stop) for start, stop in partitions)(finish_partitioned_audit.s(job_id))


def audit_profile_partition(*, job_id: int, row_start: int, row_stop: int) -> dict:
    """Profile one row range of a running audit's file (a pure read: safe to run twice)."""
    job = AuditJob.objects.select_related("version", "batch").get(pk=job_id)
    path, reference, specs = _audit_inputs(job)
    profile = engine.profile_rows(
        path,
        job.batch.format,
        reference=reference.profile,
        specs=specs,
        facts=job.facts,
        row_start=row_start,
        row_stop=row_stop,
        chunk_rows=settings.KEEL_AUDIT_CHUNK_ROWS,
        target_column=reference.label_column or None,
        max_cell_chars=settings.KEEL_MAX_CELL_CHARS,
    )
    AuditJob.objects.filter(pk=job_id).update(rows_done=F("rows_done") + (row_stop - row_start))
    return encode_kept_values(profile)  # the chord sends it as JSON: kept values as base64 float64


def audit_finish_partitioned(*, job_id: int, profiles: list[dict]) -> AuditJob:
    """Merge the partitions' profiles, judge the whole file, record the verdict once."""
    job = AuditJob.objects.select_related("model", "version", "batch").get(pk=job_id)
    if job.state != AuditState.RUNNING:
        return job
    try:
        path, reference, specs = _audit_inputs(job)
        suite = suite_for(job.model, reference)
        _update(job.pk, stage="Merging partitions and comparing with the training reference")
        profile = engine.merge_partitions(path, job.batch.format, profiles, specs, job.facts)
        findings, verdict = engine.judge(
            profile,
            reference=reference_profile_for_comparison(reference),
            specs=specs,
            suite=suite,
            facts=job.facts,
            history=_history(job, suite),
            **_judging(job, reference),
        )
    except (engine.AuditInputError, DataFileError) as exc:
        return _fail(job.pk, str(exc))
    return _record(job.pk, findings, verdict, profile, job.facts)


@transaction.atomic
def _record(job_id: int, findings: list, verdict: str, profile: dict, facts: dict) -> AuditJob:
    job = AuditJob.objects.select_for_update().select_related("model").get(pk=job_id)
    if job.state != AuditState.RUNNING:
        return job  # a retry that raced a finished run records nothing twice
    Finding.objects.bulk_create(
        [
            Finding(
                job=job,
                check_name=f.check,
                column=f.column or "",
                severity=f.severity,
                status=f.status,
                message=f.message,
                value=json_safe(f.value),
                threshold=json_safe(f.threshold),
                details=json_safe(f.details),
            )
            for f in findings
        ]
    )
    job.state, job.verdict, job.stage, job.finished_at = AuditState.SUCCEEDED, verdict, "done", timezone.now()
    job.profile, job.facts, job.rows_done = json_safe(without_kept_values(profile)), facts, profile["rows"]
    job.save(update_fields=["state", "verdict", "stage", "finished_at", "profile", "facts", "rows_done"])
    alerts_raise(job=job, findings=findings)
    return job


# --- sweeps --------------------------------------------------------------------------


def audits_requeue_stalled(*, older_than_seconds: int = 1800) -> int:
    """Queue again the audits that never started (broker down) or whose worker vanished."""
    cutoff = timezone.now() - timezone.timedelta(seconds=older_than_seconds)
    stalled = AuditJob.objects.filter(state__in=[AuditState.QUEUED, AuditState.RUNNING], created_at__lt=cutoff)
    return queue_each(stalled, _queue)
