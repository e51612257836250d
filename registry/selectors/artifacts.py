"""A version's stored artifact, handed out as bytes only once they match the registered sha256.

Artifacts are code: nothing here deserializes them. The promotion gate and the support explainer
load and run them through `artifact_scorer`, which starts an isolated scorer (mlops.sandbox) holding
the bytes; `artifact_bytes` tells the scorer which format to load them as.
"""

import hashlib
from collections.abc import Callable
from contextlib import contextmanager
from functools import partial

from django.conf import settings

from mlops import modelformats, sandbox

from ..models import ModelVersion
from .pickles import artifact_load_refusal, pickles_allowed

__all__ = [
    "ArtifactError",
    "artifact_bytes",
    "artifact_scorer_ready",
    "artifact_starter",
    "artifact_scorer",
    "artifact_trusted_types",
    "scorer_limits",
]


class ArtifactError(ValueError):
    """The artifact is missing or altered since registration; the message says which."""


def artifact_bytes(version: ModelVersion) -> tuple[bytes, str]:
    """(the artifact's bytes, "skops" or "pickle"), only after the bytes match the registered sha256,
    and only when they may be loaded now: a pickle needs its model's reviewers to allow pickles still,
    a skops file may build only trusted types (the trusted list can shrink after the upload)."""
    if not version.artifact:
        raise ArtifactError(f"v{version.version} has no artifact.")
    with version.artifact.open("rb") as handle:
        raw = handle.read()
    if hashlib.sha256(raw).hexdigest() != version.artifact_sha256:
        raise ArtifactError(
            f"The stored artifact of v{version.version} does not match its registered sha256; refusing to load it."
        )
    fmt = modelformats.sniff(raw)
    if fmt == "pickle" and not pickles_allowed(version.model):
        raise ArtifactError(
            artifact_load_refusal(version)
            or f"{version}'s artifact is a pickle and no reviewer has allowed pickles for '{version.model.name}'."
        )
    if fmt == "skops":
        try:
            untrusted = modelformats.untrusted_types(raw, settings.KEEL_TRUSTED_ARTIFACT_TYPES)
        except modelformats.ArtifactFormatError as exc:
            raise ArtifactError(f"The artifact of v{version.version} cannot be read as skops: {exc}") from exc
        if untrusted:
            raise ArtifactError(
                f"The artifact of v{version.version} would build types Keel does not trust: "
                f"{', '.join(untrusted[:10])}; refusing to load it."
            )
    return raw, fmt


def artifact_trusted_types(raw: bytes, fmt: str) -> list[str]:
    """The types beyond skops' defaults a skops artifact may build (what `skops.io.loads` is told to trust)."""
    if fmt != "skops":
        return []
    return modelformats.trusted_types(raw, settings.KEEL_TRUSTED_ARTIFACT_TYPES)


def scorer_limits() -> sandbox.Limits:
    return sandbox.Limits(
        memory_bytes=settings.KEEL_SCORER_MEMORY_BYTES,
        cpu_seconds=settings.KEEL_SCORER_CPU_SECONDS,
        wall_seconds=settings.KEEL_SCORER_WALL_SECONDS,
    )


def artifact_scorer_ready(version: ModelVersion, what: str, *, modules=()) -> Callable[[], sandbox.Scorer]:
    """Read and check the artifact now (storage and database, in the calling thread); the function
    returned only starts the scorer process, so another thread may call it."""
    raw, fmt = artifact_bytes(version)
    return partial(sandbox.Scorer, raw, fmt, artifact_trusted_types(raw, fmt), scorer_limits(), what, modules=modules)


def artifact_starter(version: ModelVersion, what: str, *, modules=()) -> Callable[[], sandbox.Scorer]:
    """A function reading the artifact and starting a scorer that holds it (for sandbox.WarmPool)."""
    return lambda: artifact_scorer_ready(version, what, modules=modules)()


@contextmanager
def artifact_scorer(version: ModelVersion, what: str, *, modules=()):
    """An isolated scorer holding the version's artifact ("the candidate v3" names it in failures);
    its process ends with the block. Raises ArtifactError, or sandbox.SandboxError when loading fails."""
    scorer = artifact_starter(version, what, modules=modules)()
    try:
        yield scorer
    finally:
        scorer.close()
