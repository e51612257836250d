"""A training reference's kept values (audits/engine/profile/kept.py): the numeric columns' sorted
float64 values, stored beside the reference as one compressed file under MEDIA_ROOT instead of in its
JSON profile, so drift against it is exact up to KEEL_EXACT_DRIFT_MAX_VALUES values a column without
making the profile (read on every page that shows the reference) megabytes long. Reading them back is
selectors.references.reference_profile_for_comparison."""

import hashlib

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from ..engine.profile import write_kept_values

__all__ = ["reference_values_save", "reference_values_discard"]


def reference_values_save(version_id: int, job_id: int, values: dict) -> dict:
    """Store the values; returns what the reference's profile records of them under "kept_values"
    (file name, sha256, size, columns), so an audit can tell a missing or altered file and fall back
    to the binned statistics."""
    data = write_kept_values(values)
    name = default_storage.save(f"reference-values/v{version_id}-job{job_id}.npz", ContentFile(data))
    exact = [column for column, kept in values.items() if "values" in kept]  # the others keep tails only
    return {"file": name, "sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data), "columns": exact}


def reference_values_discard(name: str) -> None:
    """Delete a value file no reference uses any more (nothing to do when it is already gone)."""
    if name:
        default_storage.delete(name)
