"""Reads of a model version's training reference: whether it has one, its profile, and its rows.

Other apps (support's explainer) read a reference through these functions only: the data batch
behind it, its file and the audit engine's reader stay the audits app's business."""

import hashlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from django.core.exceptions import SuspiciousFileOperation
from django.core.files.storage import default_storage

from mlops.datafiles.reading import iter_chunks
from mlops.datafiles.storage import resolve_data_path
from registry.models import ModelVersion

from ..engine.columns import ColumnSpec
from ..engine.profile import KeptValuesError, read_kept_values, with_kept_values
from ..models import DataBatch, ReferenceProfile

__all__ = [
    "ReferenceInfo",
    "batch_path",
    "column_specs",
    "has_reference",
    "reference_for",
    "reference_profile_columns",
    "reference_profile_for_comparison",
    "reference_rows_in_chunks",
]


log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReferenceInfo:
    """A version's training reference: the name of the data batch it was built from, its row count
    and the file's format (csv, parquet, jsonl)."""

    name: str
    rows: int
    format: str


def batch_path(batch: DataBatch) -> Path:
    """Where a batch's bytes are: its upload, or the file it names under KEEL_DATA_ROOT."""
    if batch.file:
        return Path(batch.file.path)
    return resolve_data_path(batch.storage_path)


def column_specs(reference: ReferenceProfile) -> list[ColumnSpec]:
    """The audit engine's column specs a reference was profiled with (name, kind, dtype, bounds)."""
    return [ColumnSpec.from_dict(spec) for spec in reference.specs]


def has_reference(version: ModelVersion) -> bool:
    return ReferenceProfile.objects.filter(version=version).exists()


def reference_for(version: ModelVersion) -> ReferenceInfo | None:
    """The version's training reference, or None when it has none."""
    reference = (
        ReferenceProfile.objects.select_related("batch")
        .filter(version=version)
        .only("rows", "batch__name", "batch__format")
        .first()
    )
    if reference is None:
        return None
    return ReferenceInfo(name=reference.batch.name, rows=reference.rows, format=reference.batch.format)


def reference_profile_columns(version: ModelVersion) -> dict:
    """The reference profile's per-column summaries (name -> dict), {} when the version has none."""
    reference = ReferenceProfile.objects.filter(version=version).only("profile").first()
    if reference is None:
        return {}
    return (reference.profile or {}).get("columns", {})


def reference_rows_in_chunks(
    version: ModelVersion, *, columns: list[str], dtypes: dict | None = None, chunk_rows: int
) -> Iterator[pd.DataFrame]:
    """The rows of the version's training reference file, `columns` only (names the file lacks are
    left out), as DataFrames of at most `chunk_rows` rows; `dtypes` as pandas takes them (e.g.
    {name: object} keeps a column as strings). Yields nothing when the version has no reference. A
    file that cannot be read raises ValueError with the reason, when the first chunk is asked for."""
    reference = ReferenceProfile.objects.select_related("batch").filter(version=version).first()
    if reference is None:
        return
    batch = reference.batch
    yield from iter_chunks(batch_path(batch), batch.format, chunk_rows=chunk_rows, columns=columns, dtypes=dtypes)


def reference_profile_for_comparison(reference: ReferenceProfile) -> dict:
    """The reference's profile with its kept values read back from their file (services.reference_values),
    as the audit engine compares a batch with it. A file that is missing, altered since it was built
    (sha256) or unreadable leaves the columns binned, each marked with the reason, which the drift
    findings then give beside their bound: an audit never fails for it."""
    profile = reference.profile or {}
    kept = profile.get("kept_values")
    if not kept:
        return profile  # nothing kept, or kept in the JSON itself (a reference built before the file)
    name = kept.get("file") or ""
    try:
        with default_storage.open(name, "rb") as handle:
            data = handle.read()
    except (OSError, SuspiciousFileOperation) as exc:
        reason = (
            "the reference's value file is missing"
            if isinstance(exc, FileNotFoundError)
            else (f"the reference's value file cannot be opened ({exc.__class__.__name__})")
        )
        log.warning("Reference %s: %s (%s); drift is binned.", reference.pk, reason, name)
        return with_kept_values(profile, None, unavailable=reason)
    if hashlib.sha256(data).hexdigest() != kept.get("sha256"):
        log.warning("Reference %s: value file %s changed since it was built; drift is binned.", reference.pk, name)
        return with_kept_values(profile, None, unavailable="the reference's value file changed since it was built")
    try:
        values = read_kept_values(data)
    except KeptValuesError as exc:
        return with_kept_values(profile, None, unavailable=f"the reference's value file is damaged: {exc}")
    return with_kept_values(profile, values)
