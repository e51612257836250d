"""Where data files live: paths confined to KEEL_DATA_ROOT, and uploads stored with the row that
names them. Shared by registry hold-outs and audit batches."""

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePath

from django.conf import settings

from ..errors import ApplicationError

# The longest name of one file or folder, in bytes: NAME_MAX of the file systems Keel runs on.
NAME_MAX_BYTES = 255
# An upload is stored under its client's name cut to this many bytes, leaving room in NAME_MAX_BYTES
# for what upload_to puts before it (a 12-character hex prefix and a dash) and for what the storage
# adds when the name is taken ("_" and 7 characters).
UPLOAD_NAME_MAX_BYTES = 200
# A longer "extension" is part of the name, cut like the rest of it.
EXTENSION_MAX_BYTES = 16


class NoDataFile(ApplicationError):
    """A valid path under the data root with no file there (yet)."""


def _byte_length(name: str) -> int:
    return len(name.encode("utf-8", "surrogatepass"))


def _reason(exc: Exception) -> str:
    return getattr(exc, "strerror", None) or str(exc)


def data_path(storage_path: str, *, field: str = "storage_path") -> Path:
    """Where `storage_path` points under KEEL_DATA_ROOT, whether or not a file is there: refusing a
    path that escapes the root (.., absolute paths, links) or that the file system cannot name."""
    longest = max(PurePath(storage_path).parts, key=_byte_length, default="")
    if _byte_length(longest) > NAME_MAX_BYTES:
        raise ApplicationError(
            f"Each folder or file name in the path may have at most {NAME_MAX_BYTES} bytes; "
            f"one has {_byte_length(longest)}.",
            field=field,
        )
    root = Path(settings.KEEL_DATA_ROOT).resolve()
    try:
        candidate = (root / storage_path).resolve()
    except (OSError, RuntimeError) as exc:  # RuntimeError: a symlink loop
        raise ApplicationError(f"The path cannot be resolved: {_reason(exc)}.", field=field) from None
    if not candidate.is_relative_to(root) or candidate == root:
        raise ApplicationError("The path must name a file inside Keel's data root.", field=field)
    return candidate


def resolve_data_path(storage_path: str, *, field: str = "storage_path") -> Path:
    """The file `storage_path` names under KEEL_DATA_ROOT: refused as data_path refuses, and with
    NoDataFile when nothing is there."""
    candidate = data_path(storage_path, field=field)
    try:
        found = candidate.is_file()
    except OSError as exc:
        raise ApplicationError(f"The path cannot be read: {_reason(exc)}.", field=field) from None
    if not found:
        raise NoDataFile(f"No file at '{storage_path}' under Keel's data root.", field=field)
    return candidate


def bounded_file_name(name: str, max_bytes: int = UPLOAD_NAME_MAX_BYTES) -> str:
    """A client's file name without its folders, at most `max_bytes` long in UTF-8: the stem is cut
    and the extension kept, so the stored name still tells its format."""
    base = os.path.basename(name or "")
    stem, extension = os.path.splitext(base)
    if _byte_length(extension) > EXTENSION_MAX_BYTES:
        stem, extension = base, ""
    room = max_bytes - _byte_length(extension)
    return stem.encode("utf-8", "surrogatepass")[:room].decode("utf-8", "ignore") + extension


def one_source_name(uploaded, storage_path: str) -> str:
    """The name of the one source a request sent: an upload or a path under the data root."""
    if bool(uploaded) == bool(storage_path):
        raise ApplicationError("Send either a file or a storage_path, not both or neither.", field="file")
    return uploaded.name if uploaded else storage_path


def refuse_oversized(uploaded, limit: int, *, what: str = "file") -> None:
    """Refuse (413) an upload larger than `limit` bytes."""
    if uploaded.size > limit:
        raise ApplicationError(
            f"The {what} is {uploaded.size} bytes; the limit is {limit} bytes.", field="file", status_code=413
        )


@contextmanager
def open_source(uploaded, storage_path: str, *, max_bytes: int) -> Iterator:
    """The one source open for reading: the upload (refused above `max_bytes`) or the file under the
    data root (closed again on leaving)."""
    if uploaded:
        refuse_oversized(uploaded, max_bytes)
        yield uploaded
    else:
        with resolve_data_path(storage_path).open("rb") as handle:
            yield handle


def save_with_upload(instance, field_name: str, uploaded) -> None:
    """Store `uploaded` in the instance's file field (under its bounded name) and save the row; if the
    row cannot be saved, the stored bytes are removed again, so a refused write leaves no orphan file."""
    if uploaded is None:
        instance.save()
        return
    field = getattr(instance, field_name)
    uploaded.seek(0)
    field.save(bounded_file_name(uploaded.name), uploaded, save=False)
    stored = field.name
    try:
        instance.save()
    except BaseException:
        field.storage.delete(stored)
        raise
