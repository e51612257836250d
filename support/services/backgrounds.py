"""Explainer backgrounds: the sample of rows stored with a version that the explainers average
over. A pipeline uploads one (`explainer_background_upload`), or Keel samples it from the version's
training reference (`explainer_background_from_reference`, and on first use by an explanation job).
A new background drops the version's finished explanations: they were computed against the old one.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping
from typing import Any

import pandas as pd
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from audits import selectors as audit_selectors
from mlops.errors import ApplicationError
from registry.models import ModelVersion

from .. import shap_engine
from ..models import ExplainerBackground, Explanation, ExplanationState

__all__ = ["explainer_background_upload", "explainer_background_from_reference"]

log = logging.getLogger(__name__)

# A background is a sample, not a dataset: enough rows to average over, few enough for the
# model-agnostic explainer (2**features x rows model calls) to stay interactive.
BACKGROUND_ROWS = shap_engine.DEFAULT_BACKGROUND_ROWS
MAX_BACKGROUND_ROWS = settings.KEEL_EXPLAIN_MAX_BACKGROUND_ROWS
MAX_BACKGROUND_BYTES = settings.KEEL_EXPLAIN_MAX_BACKGROUND_BYTES
REFERENCE_CHUNK_ROWS = 200_000

FINISHED = (ExplanationState.SUCCEEDED, ExplanationState.FAILED)


def _records_digest(records: list[dict]) -> str:
    canonical = json.dumps(records, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _store_background(
    *, version: ModelVersion, records: list[dict], source: str, actor=None, keep: int | None = None
) -> ExplainerBackground:
    """Store canonical records as the version's background. When they differ from what was stored,
    the version's finished explanations are deleted (computed against other rows, their base values
    and contributions no longer hold); explanations still in progress read the new rows.
    `keep`: an explanation to spare (the one whose computation built this background)."""
    digest = _records_digest(records)
    current = ExplainerBackground.objects.select_for_update().filter(version=version).first()
    if current is not None and current.sha256 == digest:
        return current
    background, _ = ExplainerBackground.objects.update_or_create(
        version=version,
        defaults={
            "records": records,
            "rows": len(records),
            "sha256": digest,
            "source": source[:500],
            "created_by": actor,
            "created_at": timezone.now(),
        },
    )
    stale = Explanation.objects.filter(version=version, state__in=FINISHED)
    if keep is not None:
        stale = stale.exclude(pk=keep)
    stale.delete()
    return background


@transaction.atomic
def explainer_background_upload(*, version: ModelVersion, actor, records: Any, source: str = "") -> ExplainerBackground:
    """A pipeline's background for a version: JSON records of the schema's features (extra keys are
    dropped, so an id or a label column is never stored), checked value by value and size-limited."""
    if not version.feature_schema:
        raise ApplicationError(
            f"v{version.version} has no feature schema to check the rows against.", field="records", status_code=409
        )
    if not isinstance(records, list) or not records:
        raise ApplicationError(
            "Send the background as a non-empty list of records (one object per row).", field="records"
        )
    if len(records) > MAX_BACKGROUND_ROWS:
        raise ApplicationError(
            f"{len(records):,} rows; a background holds at most {MAX_BACKGROUND_ROWS:,} "
            f"(about {BACKGROUND_ROWS} is plenty).",
            field="records",
        )
    size = len(json.dumps(records, default=str))
    if size > MAX_BACKGROUND_BYTES:
        raise ApplicationError(
            f"The records take {size:,} bytes; the limit is {MAX_BACKGROUND_BYTES:,}.", field="records"
        )
    bad = next((i for i, record in enumerate(records, 1) if not isinstance(record, Mapping)), None)
    if bad is not None:
        raise ApplicationError(f"Row {bad} is not an object of feature values.", field="records")
    try:
        frame = shap_engine.background_from_records(records, version.feature_schema)
        canonical = shap_engine.background_to_records(frame, version.feature_schema)
    except ValueError as exc:
        raise ApplicationError(str(exc), field="records") from None
    source = (source or "").strip() or f"{len(canonical)} rows uploaded by {actor.get_username()}"
    return _store_background(version=version, records=canonical, source=source, actor=actor)


def _reference_sample(version: ModelVersion) -> tuple[list[dict], str] | None:
    """A deterministic sample of the version's training reference file, or None when the version has
    no reference. Read chunk by chunk (each chunk sampled, then the samples), so a large training
    file never sits in memory whole."""
    reference = audit_selectors.reference_for(version)
    if reference is None:
        return None
    schema = version.feature_schema
    names = [entry["name"] for entry in schema]
    strings = {entry["name"]: object for entry in schema if entry.get("type") not in shap_engine.NUMERIC_TYPES}
    samples = []
    chunks = audit_selectors.reference_rows_in_chunks(
        version, columns=names, dtypes=strings, chunk_rows=REFERENCE_CHUNK_ROWS
    )
    for chunk in chunks:
        if all(name in chunk.columns for name in names) and chunk[names].notna().all(axis=1).any():
            samples.append(shap_engine.make_background(chunk, names, rows=BACKGROUND_ROWS, seed=0))
    if not samples:
        raise ValueError(
            f"The training reference '{reference.name}' has no row with every feature of v{version.version} filled in."
        )
    frame = shap_engine.make_background(pd.concat(samples, ignore_index=True), names, rows=BACKGROUND_ROWS, seed=0)
    records = shap_engine.background_to_records(frame, schema)
    source = (
        f"{len(records)} rows sampled from v{version.version}'s training data "
        f"'{reference.name}' ({reference.rows:,} rows)"
    )
    return records, source


@transaction.atomic
def explainer_background_from_reference(*, version: ModelVersion, replace: bool = False) -> ExplainerBackground | None:
    """Build the version's background from its training reference file; None when it has no
    reference. Keeps an existing background unless `replace`."""
    if not replace:
        current = ExplainerBackground.objects.filter(version=version).first()
        if current is not None:
            return current
    try:
        sample = _reference_sample(version)
    except ValueError as exc:  # a DataFileError (unreadable file) is a ValueError too
        raise ApplicationError(
            f"No background could be sampled from v{version.version}'s training data: {exc}", field="version"
        ) from None
    if sample is None:
        return None
    records, source = sample
    return _store_background(version=version, records=records, source=source)


def background_for_compute(version: ModelVersion, explanation_id: int) -> ExplainerBackground | None:
    """The stored background, built from the training reference on first use. A reference that
    cannot be read leaves the version without one (a tree model is then explained in log-odds; the
    model-agnostic path fails with the reason)."""
    background = ExplainerBackground.objects.filter(version=version).first()
    if background is not None:
        return background
    try:
        sample = _reference_sample(version)
    except ValueError as exc:
        log.warning("No explainer background for %s from its training reference: %s", version, exc)
        return None
    if sample is None:
        return None
    with transaction.atomic():
        return _store_background(version=version, records=sample[0], source=sample[1], keep=explanation_id)


def has_background_source(version: ModelVersion) -> bool:
    return ExplainerBackground.objects.filter(version=version).exists() or audit_selectors.has_reference(version)
