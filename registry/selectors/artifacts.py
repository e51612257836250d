"""Loading a version's stored artifact, only once its bytes match the registered sha256.

The promotion gate and the support explainer both load estimators through here.
"""

import hashlib
import io

import joblib

from ..models import ModelVersion

__all__ = [
    "ArtifactError",
    "artifact_estimator",
]


class ArtifactError(ValueError):
    """The artifact is missing, altered since registration, or does not unpickle; the message says which."""


def artifact_estimator(version: ModelVersion):
    """Unpickle an artifact only after its bytes match the registered sha256."""
    if not version.artifact:
        raise ArtifactError(f"v{version.version} has no artifact.")
    with version.artifact.open("rb") as handle:
        raw = handle.read()
    if hashlib.sha256(raw).hexdigest() != version.artifact_sha256:
        raise ArtifactError(
            f"The stored artifact of v{version.version} does not match its registered sha256; refusing to load it."
        )
    try:
        return joblib.load(io.BytesIO(raw))
    except Exception as exc:  # any unpickling failure means the same thing to the reviewer
        raise ArtifactError(f"The artifact of v{version.version} could not be loaded: {exc}") from exc
