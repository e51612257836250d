"""Reading data files (csv, parquet, jsonl): checks of the bytes, column names, row counts, chunks.

Pure Python, no Django: the audit engine and the registry's hold-outs both read through here. Every
problem with the file itself is a DataFileError whose message is meant for the person who sent it.

CSV reading
-----------
Pandas' C parser in chunks. `dtypes` (from the caller) names the columns read as strings (dtype=object,
which pandas 3 reads faster than its arrow-backed "str"; not dtype="category", whose parser converts
all-numeric categories: "007" would become 7), so "007" stays "007" and a category never flips between
int and str from one chunk to the next. Other columns are left to the C parser (its fast float path);
if one chunk holds a stray word the column arrives as strings for that chunk. Null tokens are pandas'
defaults (empty, "null", "NaN", "N/A", "NA", ...). Caveat: "NA" (Namibia's country code) therefore reads
as a null; a custom null-token list would fix that but slows pandas' parser by ~50% on the benchmark
file, so we keep its fast path.

A row with more fields than the header is a DataFileError naming its line -- unless fewer than half the
file's columns are read (then pandas' usecols is used for speed, and it drops extra fields silently).

Row partitions (row_start/row_stop) and count_rows work on physical lines: a quoted field containing a
line break makes them count that row twice (documented caveat; reading the whole file is unaffected).
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
import re
from collections.abc import Iterator
from itertools import islice

import pandas as pd

from mlops.clipping import MESSAGE_LIMIT, clip

from .cells import CELL_CHARS, CellCuts, cut_arrow_batch, cut_frame, cut_jsonl_line
from .errors import DataFileError, not_utf8
from .headers import check_names, csv_header
from .jsonl import iter_jsonl, jsonl_columns, jsonl_frame, jsonl_keys
from .scanning import (
    FileScan,
    Utf8Check,
    blocks,
    count_lines,
    first_bad_utf8_offset,
    scan_file,
)

__all__ = [
    "CELL_CHARS",
    "FORMATS",
    "CellCuts",
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

FORMATS = ("csv", "parquet", "jsonl")
SUFFIXES = {
    ".csv": "csv",
    ".txt": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
}


def guess_format(name: str) -> str | None:
    """The format a file name's suffix says (csv, parquet or jsonl), None when it says none."""
    return SUFFIXES.get(os.path.splitext(name.lower())[1])


# ------------------------------------------------------------------------------------------ shapes


def _check_format(fmt: str) -> str:
    if fmt not in FORMATS:
        raise DataFileError(f"Unsupported file format {fmt!r}: use one of {', '.join(FORMATS)}.")
    return fmt


def _check_file(path):
    try:
        size = os.path.getsize(path)
    except OSError:
        raise DataFileError("The file could not be found.") from None
    if size == 0:
        raise DataFileError("The file is empty.")
    return size


def _parquet(source):
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        # pre_buffer=False: with Arrow's default read-ahead a batch iteration keeps most of the file
        # in memory (apache/arrow#39808), so memory grew with the file instead of staying flat.
        return pq.ParquetFile(source, pre_buffer=False)
    except (pa.ArrowException, OSError) as e:
        raise DataFileError(f"This is not a readable Parquet file: {clip(e, MESSAGE_LIMIT)}") from None


def read_columns(path, fmt, *, max_columns: int | None = None) -> list[str]:
    """Column names. jsonl: the keys of the first 1,000 records, in order of first appearance. Refuses a
    name given twice and, with `max_columns`, more columns than that, before pandas reads the header
    (see headers.py)."""
    _check_format(fmt)
    _check_file(path)
    if fmt == "parquet":
        names = list(_parquet(path).schema_arrow.names)
        check_names(names, max_columns)
        return names
    if fmt == "csv":
        try:
            with open(path, "rb") as handle:
                header = csv_header(handle)
            if not header:
                raise DataFileError("The file is empty.")
            check_names(header, max_columns, unnamed_ok=True)
            return [str(c) for c in pd.read_csv(path, nrows=0, encoding="utf-8").columns]
        except UnicodeDecodeError:
            raise not_utf8(first_bad_utf8_offset(path)) from None
        except pd.errors.EmptyDataError:
            raise DataFileError("The file is empty.") from None
        except pd.errors.ParserError as e:
            raise _csv_error(e, 0) from None
    return jsonl_columns(path, max_columns)


def count_rows(path, fmt, *, scan: FileScan | None = None) -> int:
    """Data rows. parquet: from the footer metadata. csv: line breaks (+1 for a last line without one)
    minus the header -- fast, but a quoted field containing a line break counts as an extra row.
    jsonl: non-blank lines. A `scan` of the file (scan_file with the same fmt) saves reading it again."""
    _check_format(fmt)
    _check_file(path)
    if fmt == "parquet":
        return _parquet(path).metadata.num_rows
    if scan is None or (fmt == "jsonl" and scan.blank_lines is None):
        scan = count_lines(path, blanks=fmt == "jsonl")
    if fmt == "csv":
        return max(scan.lines - 1, 0)
    return scan.lines - scan.blank_lines


# ------------------------------------------------------------------------------------ whole frames


def read_frame(
    source,
    fmt: str,
    *,
    nrows: int | None = None,
    max_columns: int | None = None,
    max_cell_chars: int | None = CELL_CHARS,
) -> pd.DataFrame:
    """A whole file (or its first `nrows` rows) as one DataFrame, from a path or a binary handle; for
    files small enough to hold in memory (hold-out data). CSV and jsonl must be UTF-8 throughout. The
    header is checked as read_columns does (unique names, at most `max_columns`) before pandas reads it.
    Text cells longer than `max_cell_chars` are cut (cells.py); the frame's attrs["cut_cells"] then
    says which columns had cells cut ({column: {"cells", "longest", "limit"}})."""
    _check_format(fmt)
    if isinstance(source, (str, os.PathLike)):
        with open(source, "rb") as handle:
            return read_frame(handle, fmt, nrows=nrows, max_columns=max_columns, max_cell_chars=max_cell_chars)
    cuts = CellCuts(max_cell_chars or 0)
    frame = _read_whole(source, fmt, nrows, max_columns, max_cell_chars, cuts)
    if cuts:
        frame.attrs["cut_cells"] = cuts.as_dict()
    return frame


def _read_whole(source, fmt, nrows, max_columns, max_cell_chars, cuts) -> pd.DataFrame:
    if fmt == "parquet":
        return _parquet_frame(source, nrows, max_columns, max_cell_chars, cuts)
    if fmt == "csv":
        start = source.tell()
        with contextlib.suppress(UnicodeDecodeError):  # the UTF-8 check below names the offset
            check_names(csv_header(source), max_columns, unnamed_ok=True)
        source.seek(start)
    raw = source.read()
    check = Utf8Check()
    check.feed(raw, final=True)
    if check.bad is not None:
        raise not_utf8(check.bad)
    if not raw.strip():
        raise DataFileError("The file is empty.")
    if fmt == "jsonl":
        numbered = [
            (number, cut_jsonl_line(line, max_cell_chars, cuts))
            for number, line in enumerate(io.BytesIO(raw), start=1)
            if line.strip()
        ]
        numbered = numbered if nrows is None else numbered[:nrows]
        check_names(jsonl_keys(line for _, line in numbered[:1000]), max_columns)
        return jsonl_frame([line for _, line in numbered], [number for number, _ in numbered])
    try:
        return cut_frame(pd.read_csv(io.BytesIO(raw), nrows=nrows), max_cell_chars, cuts)
    except pd.errors.EmptyDataError:
        raise DataFileError("The file is empty.") from None
    except pd.errors.ParserError as e:
        raise _csv_error(e, 0) from None


def _parquet_frame(source, nrows, max_columns, max_cell_chars, cuts) -> pd.DataFrame:
    import pyarrow as pa

    pf = _parquet(source)
    check_names(list(pf.schema_arrow.names), max_columns)
    try:
        if nrows is None:
            table = pf.read()
        else:
            first = list(islice(pf.iter_batches(batch_size=max(nrows, 1)), 1))
            table = pa.Table.from_batches(first, schema=pf.schema_arrow).slice(0, nrows)
        batches = [cut_arrow_batch(batch, max_cell_chars, cuts) for batch in table.to_batches()]
        table = pa.Table.from_batches(batches, schema=table.schema)
    except (pa.ArrowException, OSError) as e:
        raise DataFileError(f"The Parquet file could not be read: {clip(e, MESSAGE_LIMIT)}") from None
    return table.to_pandas()


# ------------------------------------------------------------------------------------------ chunks


def iter_chunks(
    path,
    fmt,
    *,
    chunk_rows: int = 200_000,
    columns=None,
    row_start: int = 0,
    row_stop: int | None = None,
    dtypes: dict | None = None,
    max_cell_chars: int | None = CELL_CHARS,
    cuts: CellCuts | None = None,
) -> Iterator[pd.DataFrame]:
    """DataFrames of at most chunk_rows rows for data rows [row_start, row_stop) (0-based, header excluded).

    `columns` restricts the read to those names (names not in the file are ignored); `dtypes` is passed
    to pandas for csv (see the module doc) and used to turn those columns into strings for jsonl. jsonl:
    the keys of the first 1,000 records are the file's columns; a chunk where none of its records has one
    of them gets it as all-null (so its rows count as nulls), and keys first seen later appear from the
    chunk that has them. Parquet reads only the row groups overlapping the partition. Text cells longer
    than `max_cell_chars` are cut (cells.py) and counted in `cuts`. Problems with the file raise
    DataFileError.
    """
    _check_format(fmt)
    _check_file(path)
    if chunk_rows < 1:
        raise ValueError("chunk_rows must be positive")
    if row_start < 0 or (row_stop is not None and row_stop < row_start):
        raise ValueError("need 0 <= row_start <= row_stop")
    if row_stop is not None and row_stop == row_start:
        return iter(())
    cap = (max_cell_chars, cuts)
    if fmt == "csv":
        chunks = _iter_csv(path, chunk_rows, columns, row_start, row_stop, dtypes or {})
        return (cut_frame(chunk, *cap) for chunk in chunks)
    if fmt == "parquet":
        return _iter_parquet(path, chunk_rows, columns, row_start, row_stop, cap)
    return iter_jsonl(path, chunk_rows, columns, row_start, row_stop, dtypes or {}, cap)


_FIELDS = re.compile(r"Expected (\d+) fields in line (\d+), saw (\d+)")
_EOF_QUOTE = re.compile(r"EOF inside string starting at row (\d+)")


def _csv_error(e: Exception, line_shift: int) -> DataFileError:
    """A pandas ParserError rephrased; line_shift converts the parser's line numbers to the file's."""
    message = str(e)
    if m := _FIELDS.search(message):
        expected, line, saw = (int(g) for g in m.groups())
        return DataFileError(f"Line {line + line_shift} has {saw} fields but the header has {expected}.")
    if m := _EOF_QUOTE.search(message):
        line = int(m.group(1)) + 1 + line_shift
        return DataFileError(f"A quoted field that starts on line {line} is never closed (is the file truncated?).")
    message = clip(message.replace("Error tokenizing data. C error: ", ""), MESSAGE_LIMIT)
    return DataFileError(f"The CSV could not be parsed: {message}")


def _line_offset(path, line: int) -> int | None:
    """Byte offset where 0-based physical line `line` starts (None past the end)."""
    if line == 0:
        return 0
    seen, position = 0, 0
    for block in blocks(path, 1 << 22):
        count = block.count(b"\n")
        if seen + count >= line:
            index = -1
            for _ in range(line - seen):
                index = block.index(b"\n", index + 1)
            return position + index + 1
        seen += count
        position += len(block)
    return None


def _check_truncated_csv(path, size: int, header: list[str]):
    """A last line without a line break that has fewer fields than the header means the upload was cut."""
    with open(path, "rb") as f:
        f.seek(max(0, size - (1 << 16)))
        tail = f.read()
    if tail.endswith(b"\n"):
        return
    last = tail.rsplit(b"\n", 1)[-1]
    if b'"' in last:
        return  # quoting: leave it to the parser
    try:
        fields = next(csv.reader([last.decode("utf-8")]), [])
    except UnicodeDecodeError:
        return
    if 0 < len(fields) < len(header):
        line = count_lines(path).newlines + 1
        raise DataFileError(
            f"The file looks truncated: its last line (line {line}) has {len(fields)} of {len(header)} fields "
            "and no line break."
        )


def _iter_csv(path, chunk_rows, columns, row_start, row_stop, dtypes) -> Iterator[pd.DataFrame]:
    # (row_start > 0: seek to the partition's first line and give pandas the header's names.)
    size = os.path.getsize(path)
    header = read_columns(path, "csv")
    _check_truncated_csv(path, size, header)
    usecols = [c for c in header if columns is None or c in set(columns)]
    if not usecols:
        yield from ()
        return
    # With usecols pandas silently drops the extra fields of a malformed row, so it is used only when
    # reading few of the file's columns (e.g. duplicate_ids); otherwise all are parsed and selected.
    narrow = len(usecols) * 2 < len(header)
    options = dict(
        usecols=usecols if narrow else None,
        dtype={c: dtypes[c] for c in usecols if c in dtypes},
        chunksize=chunk_rows,
        encoding="utf-8",
        nrows=None if row_stop is None else row_stop - row_start,
    )
    shift = 0
    handle = open(path, "rb")  # noqa: SIM115  (closed in the finally below, after the generator is done)
    try:
        if row_start:
            offset = _line_offset(path, row_start + 1)
            if offset is None or offset >= size:
                return
            handle.seek(offset)
            reader = pd.read_csv(handle, header=None, names=header, **options)
            shift = row_start + 1  # the parser's line 1 is the file's line row_start + 2
        else:
            reader = pd.read_csv(handle, **options)
        with reader:
            while True:
                try:
                    chunk = next(reader)
                except StopIteration:
                    return
                yield chunk[usecols] if list(chunk.columns) != usecols else chunk
    except UnicodeDecodeError:
        raise not_utf8(first_bad_utf8_offset(path)) from None
    except pd.errors.EmptyDataError:
        raise DataFileError("The file is empty.") from None
    except pd.errors.ParserError as e:
        raise _csv_error(e, shift) from None
    finally:
        handle.close()


def _iter_parquet(path, chunk_rows, columns, row_start, row_stop, cap) -> Iterator[pd.DataFrame]:
    import pyarrow as pa

    pf = _parquet(path)
    names = pf.schema_arrow.names
    cols = [c for c in names if columns is None or c in set(columns)]
    meta = pf.metadata
    stop = meta.num_rows if row_stop is None else min(row_stop, meta.num_rows)
    groups, first_row = [], None
    position = 0
    for i in range(meta.num_row_groups):
        n = meta.row_group(i).num_rows
        if position < stop and position + n > row_start:
            groups.append(i)
            if first_row is None:
                first_row = position
        position += n
    if not groups:
        return
    at = first_row
    try:
        for batch in pf.iter_batches(batch_size=chunk_rows, row_groups=groups, columns=cols, use_threads=True):
            lo, hi = max(row_start - at, 0), min(stop - at, batch.num_rows)
            at += batch.num_rows
            if hi <= lo:
                if at >= stop:
                    break
                continue
            if lo or hi < batch.num_rows:
                batch = batch.slice(lo, hi - lo)
            yield cut_arrow_batch(batch, *cap).to_pandas()
            if at >= stop:
                break
    except (pa.ArrowException, OSError) as e:
        raise DataFileError(f"The Parquet file could not be read: {clip(e, MESSAGE_LIMIT)}") from None
