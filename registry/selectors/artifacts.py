"""A version's stored artifact, handed out as bytes only once they match the registered sha256.

Artifacts are code: nothing here deserializes them. The promotion gate and the support explainer
load and run them through `artifact_scorer`, which starts an isolated scorer (mlops.sandbox) holding
the bytes; `artifact_bytes` tells the scorer which format to load them as.
"""

import hashlib
import io
import zipfile
from contextlib import contextmanager

from django.conf import settings

from mlops import sandbox

from ..models import ModelVersion

__all__ = [
    "ArtifactError",
    "artifact_bytes",
    "artifact_starter",
    "artifact_scorer",
    "artifact_trusted_types",
    "scorer_limits",
]

SKOPS_PREFIXES = ("sklearn.", "numpy.", "scipy.")


class ArtifactError(ValueError):
    """The artifact is missing or altered since registration; the message says which."""


def _format(raw: bytes) -> str:
    """ "skops" for a zip holding skops' schema.json, else "pickle" (joblib writes pickles)."""
    if raw.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(io.BytesIO(raw)) as archive:
                if "schema.json" in archive.namelist():
                    return "skops"
        except zipfile.BadZipFile:
            pass
    return "pickle"


def artifact_bytes(version: ModelVersion) -> tuple[bytes, str]:
    """(the artifact's bytes, "skops" or "pickle"), only after the bytes match the registered sha256."""
    if not version.artifact:
        raise ArtifactError(f"v{version.version} has no artifact.")
    with version.artifact.open("rb") as handle:
        raw = handle.read()
    if hashlib.sha256(raw).hexdigest() != version.artifact_sha256:
        raise ArtifactError(
            f"The stored artifact of v{version.version} does not match its registered sha256; refusing to load it."
        )
    return raw, _format(raw)


def artifact_trusted_types(raw: bytes, fmt: str) -> list[str]:
    """The types a skops artifact may instantiate: those it names from scikit-learn, numpy and scipy."""
    if fmt != "skops":
        return []
    import skops.io

    return [name for name in skops.io.get_untrusted_types(data=raw) if name.startswith(SKOPS_PREFIXES)]


def scorer_limits() -> sandbox.Limits:
    return sandbox.Limits(
        memory_bytes=settings.KEEL_SCORER_MEMORY_BYTES,
        cpu_seconds=settings.KEEL_SCORER_CPU_SECONDS,
        wall_seconds=settings.KEEL_SCORER_WALL_SECONDS,
    )


def artifact_starter(version: ModelVersion, what: str, *, modules=()):
    """A function starting a scorer that holds the version's artifact (for sandbox.WarmPool)."""

    def start() -> sandbox.Scorer:
        raw, fmt = artifact_bytes(version)
        return sandbox.Scorer(raw, fmt, artifact_trusted_types(raw, fmt), scorer_limits(), what, modules=modules)

    return start


@contextmanager
def artifact_scorer(version: ModelVersion, what: str, *, modules=()):
    """An isolated scorer holding the version's artifact ("the candidate v3" names it in failures);
    its process ends with the block. Raises ArtifactError, or sandbox.SandboxError when loading fails."""
    scorer = artifact_starter(version, what, modules=modules)()
    try:
        yield scorer
    finally:
        scorer.close()
