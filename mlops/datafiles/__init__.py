"""Data files Keel reads: `scanning` (pure: one read of the bytes for checksums, UTF-8 and lines),
`reading` (pure: formats, columns, row counts, chunks, frames) and `storage` (Django: paths under
KEEL_DATA_ROOT, uploads). Only the pure names are exported here, so that importing the reader never
loads Django; import storage's as `from mlops.datafiles.storage import ...`."""

from .reading import (
    FORMATS,
    DataFileError,
    count_rows,
    guess_format,
    iter_chunks,
    read_columns,
    read_frame,
)
from .scanning import FileScan, first_bad_utf8_offset, scan_file

__all__ = [
    "FORMATS",
    "DataFileError",
    "FileScan",
    "count_rows",
    "first_bad_utf8_offset",
    "guess_format",
    "iter_chunks",
    "read_columns",
    "read_frame",
    "scan_file",
]
