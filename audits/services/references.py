"""A version's training reference: its data file accepted and the build of its profile queued (the
build itself runs as an audit job, see jobs.py)."""

from django.core.files.uploadedfile import UploadedFile
from django.db import transaction

from mlops.errors import ApplicationError
from registry.models import ModelVersion

from ..engine.columns import specs_from_schema
from ..models import AuditJob, AuditKind, BatchPurpose, DataBatch
from . import jobs

__all__ = ["reference_submit", "reference_build_start"]


def _require_schema(version: ModelVersion) -> None:
    if not version.feature_schema:
        raise ApplicationError(
            f"v{version.version} has no feature schema; Keel needs it to know each column's kind.",
            field="version",
            status_code=409,
        )


@transaction.atomic
def reference_submit(
    *,
    version: ModelVersion,
    actor,
    uploaded: UploadedFile | None = None,
    storage_path: str = "",
    format: str = "",
    **columns,
) -> AuditJob:
    """Accept a version's training data and queue its reference build (checked before bytes are stored)."""
    _require_schema(version)
    batch = jobs.batch_register(
        model=version.model,
        actor=actor,
        name=f"training data of v{version.version}",
        purpose=BatchPurpose.TRAINING,
        uploaded=uploaded,
        storage_path=storage_path,
        format=format,
    )
    return reference_build_start(version=version, batch=batch, actor=actor, **columns)


@transaction.atomic
def reference_build_start(
    *,
    version: ModelVersion,
    batch: DataBatch,
    actor,
    id_columns=(),
    timestamp_columns=(),
    text_columns=(),
    label_column: str = "",
    prediction_column: str = "",
) -> AuditJob:
    """Profile a version's training data as the reference its later batches are compared with."""
    if batch.model_id != version.model_id:
        raise ApplicationError("That batch belongs to another model.", field="batch")
    _require_schema(version)
    extra = {}
    if label_column:
        extra[label_column] = "categorical" if "classification" in version.model.task_type else "numeric"
    if prediction_column:
        extra[prediction_column] = "numeric"
    specs = specs_from_schema(
        version.feature_schema,
        id_columns=id_columns,
        timestamp_columns=timestamp_columns,
        text_columns=text_columns,
        extra=extra,
    )
    facts = {
        "specs": [spec.to_dict() for spec in specs],
        "roles": {"label": label_column or None, "prediction": prediction_column or None},
    }
    return jobs._create_queued(version.model, version, batch, AuditKind.REFERENCE, actor, facts=facts)
