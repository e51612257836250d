"""Data files Keel reads: `reading` (pure: formats, checks, chunks, frames) and `storage` (Django:
paths under KEEL_DATA_ROOT, uploads). Only the pure names are exported here, so that importing the
reader never loads Django; import storage's as `from mlops.datafiles.storage import ...`."""

from .reading import (
    FORMATS,
    DataFileError,
    FileScan,
    count_rows,
    first_bad_utf8_offset,
    guess_format,
    iter_chunks,
    read_columns,
    read_frame,
    scan_file,
)

__all__ = ["FORMATS", "DataFileError", "FileScan", "count_rows", "first_bad_utf8_offset", "guess_format",
           "iter_chunks", "read_columns", "read_frame", "scan_file"]
