"""How big a data file is once read -- its data rows and its uncompressed bytes -- told without
reading the data: Parquet from the footer metadata, csv and jsonl from one streaming pass over the
line breaks. Pure Python, no Django; callers pass their limits as plain values.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from .errors import DataFileError
from .reading import _check_format, _parquet
from .scanning import LineCount

__all__ = ["DataSize", "check_size", "data_size"]


@dataclass(frozen=True)
class DataSize:
    rows: int
    uncompressed_bytes: int


def data_size(source, fmt: str, *, block: int = 1 << 22) -> DataSize:
    """Rows and uncompressed bytes of a file, from a path or a seekable binary handle (read from its
    current position, which is restored afterwards). Parquet: num_rows and the row groups' total
    uncompressed size from the footer. csv: line breaks (+1 for a last line without one) minus the
    header; jsonl: non-blank lines; both take their size in bytes as the uncompressed size."""
    _check_format(fmt)
    if isinstance(source, (str, os.PathLike)):
        with open(source, "rb") as handle:
            return data_size(handle, fmt, block=block)
    start = source.tell()
    try:
        if fmt == "parquet":
            meta = _parquet(source).metadata
            total = sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))
            return DataSize(meta.num_rows, total)
        lines = LineCount(blanks=fmt == "jsonl")
        size = 0
        while data := source.read(block):
            lines.feed(data)
            size += len(data)
        lines.finish()
        rows = max(lines.lines - 1, 0) if fmt == "csv" else lines.lines - lines.blank_lines
        return DataSize(rows, size)
    finally:
        source.seek(start)


def check_size(source, fmt: str, *, max_rows: int | None, max_bytes: int | None, what: str = "a hold-out") -> DataSize:
    """data_size, refusing (DataFileError, with the figures) a file of more than `max_rows` rows or
    more than `max_bytes` uncompressed bytes; None means no limit."""
    size = data_size(source, fmt)
    if max_rows is not None and size.rows > max_rows:
        raise DataFileError(f"The file holds {size.rows:,} rows; {what} may hold at most {max_rows:,}.")
    if max_bytes is not None and size.uncompressed_bytes > max_bytes:
        raise DataFileError(
            f"The file's data takes {size.uncompressed_bytes:,} bytes uncompressed; "
            f"{what} may take at most {max_bytes:,}."
        )
    return size
