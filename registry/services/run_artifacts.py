"""A training run's artifacts, and an MLflow 3 logged model's (what the MLflow client logs through
the artifact proxy; the owner is either): stored,
replaced and deleted. Artifacts are data here: their bytes are streamed to storage, hashed and
counted, never opened as a model.

The bytes live in Keel's storage (MEDIA_ROOT) under `run-artifacts/<run id or logged model id>/<random hex>`, a name
Keel picks; the client's path is only the row's `path`. A file is opened without following links
and only once its real location is inside `run-artifacts/`: a stored symlink, or a folder link
that leads elsewhere, is refused rather than followed."""

import contextlib
import hashlib
import logging
import os
import uuid
from pathlib import Path

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.http import UnreadablePostError

from mlops.errors import ApplicationError, Conflict, NotFound

from ..models import LoggedModel, RunArtifact, TrainingRun, artifact_owner, artifact_owner_id

__all__ = [
    "RUN_ARTIFACTS_DIR",
    "run_artifact_file",
    "run_artifact_open",
    "run_artifact_store",
    "run_artifacts_delete",
]

RUN_ARTIFACTS_DIR = "run-artifacts"
CHUNK_BYTES = 1024 * 1024
security_log = logging.getLogger("django.security.RunArtifacts")


class ArtifactEscape(ApplicationError):
    """A stored artifact whose real location is outside Keel's run-artifact storage."""


def _root() -> Path:
    return (Path(default_storage.location) / RUN_ARTIFACTS_DIR).resolve()


def run_artifact_file(name: str) -> Path:
    """Where the stored `name` is, refused when it is a link or resolves outside the artifact root."""
    root = _root()
    candidate = Path(default_storage.path(name))
    try:
        escaped = candidate.is_symlink() or not candidate.resolve().is_relative_to(root)
    except (OSError, RuntimeError):  # RuntimeError: a link loop
        escaped = True
    if escaped:
        security_log.error("Refused the stored artifact %s: it resolves outside %s.", name, root)
        raise ArtifactEscape("The stored artifact resolves outside Keel's artifact storage; it is not served.")
    return candidate


def run_artifact_open(artifact: RunArtifact):
    """The stored bytes of `artifact`, open for reading (never through a link)."""
    path = run_artifact_file(artifact.file.name)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except FileNotFoundError:
        raise NotFound(f"The artifact '{artifact.path}' has no stored bytes.") from None
    except OSError as exc:
        security_log.error("Refused to open the stored artifact %s: %s.", artifact.file.name, exc)
        raise ArtifactEscape("The stored artifact cannot be opened; it is not served.") from None
    return os.fdopen(fd, "rb")


def _remove(name: str) -> None:
    # A link is left for an operator to look at; never followed to delete its target.
    with contextlib.suppress(ArtifactEscape, OSError):
        run_artifact_file(name).unlink(missing_ok=True)


def _receive(owner: TrainingRun | LoggedModel, read, length: int | None, max_bytes: int) -> tuple[str, int, str]:
    """Stream the body into a new file: (storage name, size, sha256); nothing is left on refusal."""
    if length is not None and length > max_bytes:
        raise ApplicationError(
            f"The artifact is {length} bytes; the limit is {max_bytes} bytes.", field="file", status_code=413
        )
    name = f"{RUN_ARTIFACTS_DIR}/{artifact_owner_id(owner)}/{uuid.uuid4().hex}"
    folder = Path(default_storage.path(name)).parent
    folder.mkdir(parents=True, exist_ok=True)
    target = run_artifact_file(name)
    digest, size = hashlib.sha256(), 0
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    try:
        with os.fdopen(fd, "wb") as out:
            while chunk := read(CHUNK_BYTES):
                size += len(chunk)
                if size > max_bytes:
                    raise ApplicationError(
                        f"The artifact is larger than the limit of {max_bytes} bytes.", field="file", status_code=413
                    )
                digest.update(chunk)
                out.write(chunk)
        if length is not None and size != length:
            raise ApplicationError(
                f"The upload ended after {size} of the {length} bytes it announced; nothing was stored.", field="file"
            )
    except UnreadablePostError:
        target.unlink(missing_ok=True)
        raise ApplicationError("The upload was cut off; nothing was stored.", field="file") from None
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    return name, size, digest.hexdigest()


def _check_no_clash(owner: TrainingRun | LoggedModel, path: str) -> None:
    """A path is a file or a folder, never both: listings stay a tree."""
    parents = ["/".join(path.split("/")[:i]) for i in range(1, path.count("/") + 1)]
    clash = RunArtifact.objects.filter(**artifact_owner(owner), path__in=parents).values_list("path", flat=True).first()
    if clash is not None:
        raise ApplicationError(f"'{clash}' is a file of these artifacts, not a folder.", field="path")
    if RunArtifact.objects.filter(**artifact_owner(owner), path__startswith=path + "/").exists():
        raise ApplicationError(f"'{path}' is a folder of these artifacts, not a file.", field="path")


def _check_files_kept(owner: TrainingRun | LoggedModel, *, replacing: bool) -> None:
    """A deleted logged model's files stay as they were; so do those a registered version was made
    from (new files may still be added to it, none replaced or removed)."""
    if not isinstance(owner, LoggedModel):
        return
    if owner.deleted_at is not None:
        raise Conflict(f"Logged model {owner.model_id} is deleted; its files are kept as they were.")
    if replacing:
        version = owner.versions.select_related("model").order_by("model__name", "version").first()
        if version is not None:
            raise Conflict(
                f"Model '{version.model.name}' version {version.version} was registered from logged model "
                f"{owner.model_id}; its files are kept as they were."
            )


def run_artifact_store(*, owner: TrainingRun | LoggedModel, path: str, read, length: int | None, actor) -> RunArtifact:
    """Store the body `read(n)` yields as the owner's artifact at `path` (replacing one already there,
    as MLflow does), refused above KEEL_MAX_ARTIFACT_BYTES with nothing left behind."""
    run = owner.run if isinstance(owner, LoggedModel) else owner
    if run is not None and run.deleted_at is not None:
        raise ApplicationError(f"The run {run.run_id} is deleted; restore it before logging artifacts.")
    _check_files_kept(owner, replacing=RunArtifact.objects.filter(**artifact_owner(owner), path=path).exists())
    _check_no_clash(owner, path)
    name, size, sha256 = _receive(owner, read, length, settings.KEEL_MAX_ARTIFACT_BYTES)
    try:
        with transaction.atomic():
            artifact = RunArtifact.objects.select_for_update().filter(**artifact_owner(owner), path=path).first()
            if artifact is None:
                artifact = RunArtifact(**artifact_owner(owner), path=path, created_by=actor)
            else:
                replaced = artifact.file.name
                transaction.on_commit(lambda: _remove(replaced))
            artifact.file.name, artifact.size, artifact.sha256, artifact.created_by = name, size, sha256, actor
            artifact.full_clean(exclude=["file"])
            artifact.save()
    except IntegrityError:
        # Two uploads of one new path at once: the first one stored wins.
        _remove(name)
        raise ApplicationError(f"Another upload to '{path}' finished first; send it again to replace it.") from None
    except BaseException:
        _remove(name)
        raise
    return artifact


def run_artifacts_delete(*, owner: TrainingRun | LoggedModel, path: str) -> int:
    """Delete the owner's artifact at `path`, or everything under the folder `path` ("" is all of it);
    their bytes go once the deletion commits."""
    _check_files_kept(owner, replacing=True)
    found = RunArtifact.objects.filter(**artifact_owner(owner))
    if path:
        found = found.filter(path=path) | found.filter(path__startswith=path + "/")
    with transaction.atomic():
        names = list(found.values_list("file", flat=True))
        if not names:
            raise NotFound(f"No artifact at '{path}' in {artifact_owner_id(owner)}.")
        RunArtifact.objects.filter(**artifact_owner(owner), file__in=names).delete()
        transaction.on_commit(lambda: [_remove(n) for n in names])
    return len(names)
