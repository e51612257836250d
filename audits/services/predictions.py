"""Serving logs: predictions ingested in bulk, audited for training-serving skew, erased on request.

A skew audit exports a window of logged predictions to a Parquet file and audits it like any batch
(purpose "serving"): the same profiles, partitions, report and alerts, plus the serving checks.
"""

import json
import os
import re
import tempfile
from datetime import datetime, timedelta

import pyarrow as pa
import pyarrow.parquet as pq
from django.conf import settings
from django.core.files import File
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from mlops.errors import ApplicationError
from registry.models import ModelVersion, RegisteredModel

from ..models import SURFACE_PATTERN, AuditJob, BatchPurpose, DataFormat, ErasedEntity, Finding, PredictionLog
from .jobs import _audit_target, audit_start, batch_register
from .relabel import relabel_items_withdraw

__all__ = ["predictions_log", "entity_erase", "serving_audit_submit"]

ERASED = "[erased]"
# A clock a few minutes fast is a fact of life; a prediction from tomorrow is a bug in the sender.
FUTURE_TOLERANCE = timedelta(minutes=5)
EXPORT_CHUNK = 5_000


@transaction.atomic
def predictions_log(*, model: RegisteredModel, records: list[dict]) -> dict:
    """Store a bulk of logged predictions, all or nothing. A record whose request_id is already logged
    for the model and version is skipped, so a pipeline may re-send a batch after a timeout without
    doubling it; a shadow or canary version's decision on the same request is its own record (same
    request_id, its version). Rows about a person who asked to be erased arrive anonymised."""
    limit = settings.KEEL_MAX_PREDICTIONS_PER_REQUEST
    if not records:
        raise ApplicationError("Send at least one prediction.", field="records")
    if len(records) > limit:
        raise ApplicationError(f"{len(records)} predictions in one request; the limit is {limit}.", field="records")
    versions = dict(ModelVersion.objects.filter(model=model).values_list("version", "pk"))
    now = timezone.now()
    errors, seen = {}, set()
    for i, record in enumerate(records):
        if record["version"] not in versions:
            errors[f"records[{i}].version"] = [f"'{model.name}' has no version {record['version']}."]
        key = (record["version"], record["request_id"])
        if key in seen:
            errors[f"records[{i}].request_id"] = [
                f"request_id {record['request_id']!r} of version {record['version']} appears twice in this request."
            ]
        seen.add(key)
        if record["predicted_at"] > now + FUTURE_TOLERANCE:
            errors[f"records[{i}].predicted_at"] = ["The prediction is dated in the future."]
        if record.get("score") is None and not record.get("label"):
            errors[f"records[{i}].score"] = ["Give the score, the label (decision or class), or both."]
        if record.get("surface") and not re.match(SURFACE_PATTERN, record["surface"]):
            errors[f"records[{i}].surface"] = ["Not a surface name: lower-case letters, digits, - and _ (at most 64)."]
    if errors:
        first = next(iter(errors.values()))[0]
        raise ApplicationError(
            f"{len(errors)} problem(s) in the records; nothing was stored. First: {first}", detail=errors
        )
    already = set(
        PredictionLog.objects.filter(model=model, request_id__in={r for _, r in seen}).values_list(
            "version_id", "request_id"
        )
    )
    entities = {r.get("entity_id") for r in records if r.get("entity_id")}
    erased = set(ErasedEntity.objects.filter(entity_id__in=entities).values_list("entity_id", flat=True))
    rows = []
    for record in records:
        if (versions[record["version"]], record["request_id"]) in already:
            continue
        row = PredictionLog(
            model=model,
            version_id=versions[record["version"]],
            request_id=record["request_id"],
            entity_id=record.get("entity_id") or "",
            predicted_at=record["predicted_at"],
            raw_features=record.get("raw_features") or {},
            features=record["features"],
            score=record.get("score"),
            label=record.get("label") or "",
            surface=record.get("surface") or "",
            received_at=now,
        )
        if row.entity_id in erased:
            row.entity_id, row.raw_features, row.features, row.erased_at = "", {}, {}, now
        rows.append(row)
    # ignore_conflicts: a concurrent re-send of the same records must not fail the whole request.
    PredictionLog.objects.bulk_create(rows, batch_size=2_000, ignore_conflicts=True)
    return {
        "received": len(records),
        "stored": len(rows),
        "already_logged": len(records) - len(rows),
        "anonymised": sum(1 for row in rows if row.erased_at),
    }


# --- privacy ------------------------------------------------------------------------------------


def _scrub(value, entity_id: str):
    """The value with every string that names the entity replaced by a marker."""
    if isinstance(value, str):
        return value.replace(entity_id, ERASED) if entity_id in value else value
    if isinstance(value, list):
        return [_scrub(v, entity_id) for v in value]
    if isinstance(value, dict):
        return {_scrub(k, entity_id): _scrub(v, entity_id) for k, v in value.items()}
    return value


@transaction.atomic
def entity_erase(*, entity_id: str) -> dict:
    """Erase what Keel's logs and audits hold about one person (a privacy request): logged
    predictions keep their score and time (aggregate monitoring still works) but lose the id and
    the features; audit profiles and findings that quote the id (duplicate-id examples, top values)
    have it replaced by a marker; their items leave relabelling queues. Later logs about the person
    are anonymised on arrival, and sampling for review leaves them out. Returns how many rows of
    each kind changed, not what."""
    entity_id = (entity_id or "").strip()
    if not entity_id:
        raise ApplicationError("Say whose data to erase.", field="entity_id")
    now = timezone.now()
    withdrawn = relabel_items_withdraw(entity_id=entity_id)
    predictions = PredictionLog.objects.filter(entity_id=entity_id).update(
        entity_id="", raw_features={}, features={}, erased_at=now
    )
    needle = json.dumps(entity_id)[1:-1]  # as the id appears inside stored JSON text
    profiles = 0
    for job in AuditJob.objects.filter(profile__isnull=False).only("pk", "profile").iterator(chunk_size=50):
        if needle in json.dumps(job.profile):
            AuditJob.objects.filter(pk=job.pk).update(profile=_scrub(job.profile, entity_id))
            profiles += 1
    findings = 0
    for finding in Finding.objects.filter(Q(message__contains=entity_id) | Q(details__icontains=needle)):
        if entity_id in finding.message or needle in json.dumps(finding.details):
            # The one rewrite findings allow (see migration 0004): redaction, marked by redacted_at.
            Finding.objects.filter(pk=finding.pk).update(
                message=_scrub(finding.message, entity_id), details=_scrub(finding.details, entity_id), redacted_at=now
            )
            findings += 1
    counts = {"predictions": predictions, "audit_profiles": profiles, "findings": findings}
    if withdrawn:  # counted when any, so erasures without relabelling items read as before
        counts["relabel_items"] = withdrawn
    record, created = ErasedEntity.objects.get_or_create(
        entity_id=entity_id, defaults={"erased_at": now, "counts": counts}
    )
    if not created:
        record.counts = {key: record.counts.get(key, 0) + value for key, value in counts.items()}
        record.erased_at = now
        record.save(update_fields=["counts", "erased_at"])
    return counts


# --- skew audits --------------------------------------------------------------------------------


def _export_window(
    model: RegisteredModel,
    version: ModelVersion,
    since: datetime,
    until: datetime,
    features: list[str],
    prediction_column: str,
) -> tuple[str, int, dict]:
    """Write the window's logged predictions (the model's features after processing, and its score)
    to a Parquet file, chunk by chunk so memory stays flat; count per feature how often processing
    turned a present raw value into a null."""
    logs = (
        PredictionLog.objects.filter(
            model=model, version=version, predicted_at__gte=since, predicted_at__lt=until, erased_at__isnull=True
        )
        .order_by("pk")
        .values_list("features", "raw_features", "score")
    )
    processing = {name: {"rows": 0, "dropped": 0} for name in features}
    handle, path = tempfile.mkstemp(suffix=".parquet", prefix="keel-serving-")
    os.close(handle)
    writer, rows, chunk = None, 0, []

    def flush():
        nonlocal writer
        columns = {name: [row[0].get(name) for row in chunk] for name in features}
        columns[prediction_column] = [row[2] for row in chunk]
        table = pa.table({name: pa.array(values, from_pandas=True) for name, values in columns.items()})
        if writer is None:
            writer = pq.ParquetWriter(path, table.schema)
        writer.write_table(table.cast(writer.schema))
        chunk.clear()

    try:
        for row in logs.iterator(chunk_size=EXPORT_CHUNK):
            features_row, raw = row[0], row[1] or {}
            for name in features:
                if raw.get(name) is not None:  # only a value that arrived can be dropped by processing
                    processing[name]["rows"] += 1
                    if features_row.get(name) is None:
                        processing[name]["dropped"] += 1
            chunk.append(row)
            rows += 1
            if len(chunk) >= EXPORT_CHUNK:
                flush()
        if chunk:
            flush()
    finally:
        if writer is not None:
            writer.close()
    return path, rows, {name: counts for name, counts in processing.items() if counts["rows"]}


@transaction.atomic
def serving_audit_submit(
    *,
    model: RegisteredModel,
    actor,
    since: datetime | None = None,
    until: datetime | None = None,
    version: ModelVersion | None = None,
    schedule=None,
    trigger_key: str = "",
) -> AuditJob:
    """Audit the predictions a version served in [since, until) against its training reference:
    training-serving skew, disappearing features, prediction drift. Default window: the last 24 hours."""
    version = _audit_target(model, version)
    until = until or timezone.now()
    since = since or until - timedelta(hours=24)
    if since >= until:
        raise ApplicationError("The window must start before it ends.", field="since")
    reference = version.reference_profile
    features = [item["name"] for item in version.feature_schema]
    prediction_column = reference.prediction_column or "prediction"
    path, rows, processing = _export_window(model, version, since, until, features, prediction_column)
    try:
        if rows == 0:
            raise ApplicationError(
                f"v{version.version} of '{model.name}' logged no predictions between "
                f"{since:%Y-%m-%d %H:%M} and {until:%Y-%m-%d %H:%M} UTC.",
                field="since",
            )
        with open(path, "rb") as handle:
            name = f"serving log {since:%Y-%m-%d %H:%M} to {until:%Y-%m-%d %H:%M} ({rows} predictions)"
            batch = batch_register(
                model=model,
                actor=actor,
                name=name,
                purpose=BatchPurpose.SERVING,
                uploaded=File(handle, name=f"serving-v{version.version}-{until:%Y%m%dT%H%M}.parquet"),
                format=DataFormat.PARQUET,
            )
    finally:
        os.unlink(path)
    job = audit_start(
        batch=batch,
        actor=actor,
        version=version,
        schedule=schedule,
        trigger_key=trigger_key,
        serving={"features": features, "processing": processing, "window": [since.isoformat(), until.isoformat()]},
    )
    return job
