"""A version's training reference: its data file accepted and the build of its profile queued (the
build itself runs as an audit job, see jobs.py)."""

from django.core.files.uploadedfile import UploadedFile
from django.db import transaction

from mlops.errors import ApplicationError
from mlops.roles import EDIT_AUDIT_CHECKS
from registry.models import ModelVersion

from ..engine.columns import specs_from_schema
from ..models import AuditJob, AuditKind, AuditState, BatchPurpose, DataBatch, ReferenceProfile
from . import jobs

__all__ = ["reference_submit", "reference_build_start"]


def _require_schema(version: ModelVersion) -> None:
    if not version.feature_schema:
        raise ApplicationError(
            f"v{version.version} has no feature schema; Keel needs it to know each column's kind.",
            field="version",
            status_code=409,
        )


def _require_right_to_build(version: ModelVersion, actor) -> None:
    """A pipeline builds a new version's first reference; replacing one it has (or one being built)
    changes what the version's batches are checked against, so it is the reviewers' (EDIT_AUDIT_CHECKS)."""
    if actor.has_perm(EDIT_AUDIT_CHECKS):
        return
    building = AuditJob.objects.filter(
        version=version, kind=AuditKind.REFERENCE, state__in=[AuditState.QUEUED, AuditState.RUNNING]
    )
    if ReferenceProfile.objects.filter(version=version).exists() or building.exists():
        raise ApplicationError(
            f"v{version.version} already has a training reference; replacing it changes what its batches "
            "are checked against, so a reviewer does it.",
            status_code=403,
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
    _require_right_to_build(version, actor)
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
    _require_right_to_build(version, actor)
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
