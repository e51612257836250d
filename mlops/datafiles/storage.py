"""Where data files live: paths confined to KEEL_DATA_ROOT, and uploads stored with the row that
names them. Shared by registry hold-outs and audit batches."""

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings

from ..errors import ApplicationError


def resolve_data_path(storage_path: str, *, field: str = "storage_path") -> Path:
    """A file under KEEL_DATA_ROOT, refusing anything that escapes it (.., absolute paths, links)."""
    root = Path(settings.KEEL_DATA_ROOT).resolve()
    candidate = (root / storage_path).resolve()
    if not candidate.is_relative_to(root) or candidate == root:
        raise ApplicationError("The path must name a file inside Keel's data root.", field=field)
    if not candidate.is_file():
        raise ApplicationError(f"No file at '{storage_path}' under Keel's data root.", field=field)
    return candidate


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
    """Store `uploaded` in the instance's file field and save the row; if the row cannot be saved,
    the stored bytes are removed again, so a refused write leaves no orphan file."""
    if uploaded is None:
        instance.save()
        return
    field = getattr(instance, field_name)
    uploaded.seek(0)
    field.save(uploaded.name, uploaded, save=False)
    stored = field.name
    try:
        instance.save()
    except BaseException:
        field.storage.delete(stored)
        raise
