"""Reading data files (csv, parquet, jsonl) in chunks and profiling them with flat memory.

Pure Python; no Django. Every problem with the file itself is a SourceError whose message is meant for the
person who sent the file.

CSV reading
-----------
Pandas' C parser in chunks. Columns whose spec kind is categorical/id/text/timestamp are read as
strings (`csv_dtypes(specs)`: dtype=object, which pandas 3 reads faster than its arrow-backed "str";
not dtype="category", whose parser converts all-numeric categories: "007" would become 7), so "007"
stays "007" and a category never flips between int and str from one chunk to the next. Numeric columns are left to the C parser (its fast float path); if one
chunk holds a stray word the column arrives as strings for that chunk and the profiler coerces it with
pd.to_numeric(errors="coerce"), counting the word as non_numeric -- so every chunk is profiled the same
way whatever dtype pandas guessed for it. Null tokens are pandas' defaults (empty, "null", "NaN", "N/A",
"NA", ...). Caveat: "NA" (Namibia's country code) therefore reads as a null; a custom null-token list
would fix that but slows pandas' parser by ~50% on the benchmark file, so we keep its fast path.

A row with more fields than the header is a SourceError naming its line -- unless fewer than half the
file's columns are read (then pandas' usecols is used for speed, and it drops extra fields silently).

Row partitions (row_start/row_stop) and count_rows work on physical lines: a quoted field containing a
line break makes them count that row twice (documented caveat; profiling the whole file is unaffected).
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import hmac
import io
import json
import os
import re
from collections.abc import Callable, Iterator
from datetime import datetime

import numpy as np
import pandas as pd

from audits.engine.columns import ColumnSpec
from audits.engine.profile import (
    empty_profile,
    merge_profiles,
    profile_frame,
    profile_reference_chunks,
)

FORMATS = ("csv", "parquet", "jsonl")
_READ = 1 << 20


class SourceError(ValueError):
    """A problem with the data file itself; the message is for the person who sent it."""


# -------------------------------------------------------------------------------------- integrity

def _blocks(path, size: int = _READ) -> Iterator[bytes]:
    with open(path, "rb") as f:
        while block := f.read(size):
            yield block


def sha256_of(path) -> str:
    h = hashlib.sha256()
    for block in _blocks(path):
        h.update(block)
    return h.hexdigest()


def verify_signature(path, *, sha256: str | None = None, hmac_key: bytes | None = None,
                     hmac_hex: str | None = None) -> list[str]:
    """Problems with the file's declared checksum / HMAC-SHA256 signature; [] when everything given matches.
    Reads the file once whatever is checked."""
    problems: list[str] = []
    want_hmac = hmac_key is not None or hmac_hex is not None
    if hmac_hex is not None and hmac_key is None:
        problems.append("The file carries an HMAC signature but no key is configured to check it.")
    if hmac_key is not None and not hmac_hex:
        problems.append("HMAC signature missing: the file was expected to be signed.")
    if sha256 is None and not (hmac_key is not None and hmac_hex):
        return problems
    digest = hashlib.sha256()
    mac = hmac.new(hmac_key, digestmod=hashlib.sha256) if (want_hmac and hmac_key is not None and hmac_hex) else None
    for block in _blocks(path):
        digest.update(block)
        if mac is not None:
            mac.update(block)
    if sha256 is not None:
        actual = digest.hexdigest()
        if not hmac.compare_digest(actual, sha256.strip().lower()):
            problems.append(f"sha256 differs: expected {sha256.strip().lower()}, the file has {actual}.")
    if mac is not None and not hmac.compare_digest(mac.hexdigest(), hmac_hex.strip().lower()):
        problems.append("HMAC signature does not match: the file was altered or signed with another key.")
    return problems


def first_bad_utf8_offset(path, *, chunk: int = 1 << 20) -> int | None:
    """Byte offset of the first byte that is not valid UTF-8 (None if the file is valid). Streams the file
    through an incremental decoder, so a multi-byte character split across two reads is fine, and an
    incomplete character at the very end of the file is reported at its first byte."""
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    position = 0  # offset of the start of the block being decoded
    with open(path, "rb") as f:
        while True:
            block = f.read(chunk)
            pending = len(decoder.getstate()[0])
            try:
                decoder.decode(block, final=not block)
            except UnicodeDecodeError as e:
                return position - pending + e.start
            if not block:
                return None
            position += len(block)


# ------------------------------------------------------------------------------------------ shapes

def _check_format(fmt: str) -> str:
    if fmt not in FORMATS:
        raise SourceError(f"Unsupported file format {fmt!r}: use one of {', '.join(FORMATS)}.")
    return fmt


def _check_file(path):
    try:
        size = os.path.getsize(path)
    except OSError:
        raise SourceError("The file could not be found.") from None
    if size == 0:
        raise SourceError("The file is empty.")
    return size


def _not_utf8(path) -> SourceError:
    offset = first_bad_utf8_offset(path)
    where = f" at byte offset {offset}" if offset is not None else ""
    return SourceError(f"The file is not valid UTF-8: the first bad byte is{where}. Save it as UTF-8 and send it again.")


def _parquet(path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        # pre_buffer=False: with Arrow's default read-ahead a batch iteration keeps most of the file
        # in memory (apache/arrow#39808), so memory grew with the file instead of staying flat.
        return pq.ParquetFile(path, pre_buffer=False)
    except (pa.ArrowException, OSError) as e:
        raise SourceError(f"This is not a readable Parquet file: {e}") from None


def read_columns(path, fmt) -> list[str]:
    """Column names. jsonl: the keys of the first 1,000 records, in order of first appearance."""
    _check_format(fmt)
    _check_file(path)
    if fmt == "parquet":
        return list(_parquet(path).schema_arrow.names)
    if fmt == "csv":
        try:
            return [str(c) for c in pd.read_csv(path, nrows=0, encoding="utf-8").columns]
        except UnicodeDecodeError:
            raise _not_utf8(path) from None
        except pd.errors.EmptyDataError:
            raise SourceError("The file is empty.") from None
        except pd.errors.ParserError as e:
            raise _csv_error(e, 0) from None
    names: dict[str, None] = {}
    for _, record in _jsonl_records(path, limit=1000):
        names.update(dict.fromkeys(record))
    return list(names)


def _count_newlines(path) -> tuple[int, bool]:
    """(number of b"\\n", whether the file ends with one)."""
    n, last = 0, b""
    for block in _blocks(path, 1 << 22):
        n += block.count(b"\n")
        last = block[-1:]
    return n, last == b"\n"


def count_rows(path, fmt) -> int:
    """Data rows. parquet: from the footer metadata. csv: line breaks (+1 for a last line without one)
    minus the header -- fast, but a quoted field containing a line break counts as an extra row.
    jsonl: non-blank lines."""
    _check_format(fmt)
    _check_file(path)
    if fmt == "parquet":
        return _parquet(path).metadata.num_rows
    if fmt == "csv":
        n, ends = _count_newlines(path)
        lines = n + (0 if ends else 1)
        return max(lines - 1, 0)
    rows = 0
    with open(path, "rb") as f:
        for line in f:
            if line.strip():
                rows += 1
    return rows


# ------------------------------------------------------------------------------------------ chunks

def csv_dtypes(specs: list[ColumnSpec]) -> dict[str, object]:
    """Strings (dtype=object) for every column that is not numeric (see the module doc)."""
    return {s.name: object for s in specs if s.kind != "numeric"}


def iter_chunks(path, fmt, *, chunk_rows: int = 200_000, columns=None, row_start: int = 0,
                row_stop: int | None = None, dtypes: dict | None = None) -> Iterator[pd.DataFrame]:
    """DataFrames of at most chunk_rows rows for data rows [row_start, row_stop) (0-based, header excluded).

    `columns` restricts the read to those names (names not in the file are ignored); `dtypes` is passed
    to pandas for csv (see csv_dtypes) and used to turn those columns into strings for jsonl. jsonl: the
    keys of the first 1,000 records are the file's columns; a chunk where none of its records has one of
    them gets it as all-null (so its rows count as nulls), and keys first seen later appear from the
    chunk that has them. Parquet
    reads only the row groups overlapping the partition. Problems with the file raise SourceError.
    """
    _check_format(fmt)
    _check_file(path)
    if chunk_rows < 1:
        raise ValueError("chunk_rows must be positive")
    if row_start < 0 or (row_stop is not None and row_stop < row_start):
        raise ValueError("need 0 <= row_start <= row_stop")
    if row_stop is not None and row_stop == row_start:
        return iter(())
    if fmt == "csv":
        return _iter_csv(path, chunk_rows, columns, row_start, row_stop, dtypes or {})
    if fmt == "parquet":
        return _iter_parquet(path, chunk_rows, columns, row_start, row_stop)
    return _iter_jsonl(path, chunk_rows, columns, row_start, row_stop, dtypes or {})


_FIELDS = re.compile(r"Expected (\d+) fields in line (\d+), saw (\d+)")
_EOF_QUOTE = re.compile(r"EOF inside string starting at row (\d+)")


def _csv_error(e: Exception, line_shift: int) -> SourceError:
    """A pandas ParserError rephrased; line_shift converts the parser's line numbers to the file's."""
    message = str(e)
    if m := _FIELDS.search(message):
        expected, line, saw = (int(g) for g in m.groups())
        return SourceError(f"Line {line + line_shift} has {saw} fields but the header has {expected}.")
    if m := _EOF_QUOTE.search(message):
        line = int(m.group(1)) + 1 + line_shift
        return SourceError(f"A quoted field that starts on line {line} is never closed (is the file truncated?).")
    return SourceError(f"The CSV could not be parsed: {message.replace('Error tokenizing data. C error: ', '')}")


def _line_offset(path, line: int) -> int | None:
    """Byte offset where 0-based physical line `line` starts (None past the end)."""
    if line == 0:
        return 0
    seen, position = 0, 0
    for block in _blocks(path, 1 << 22):
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
        line = _count_newlines(path)[0] + 1
        raise SourceError(
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
        usecols=usecols if narrow else None, dtype={c: dtypes[c] for c in usecols if c in dtypes},
        chunksize=chunk_rows, encoding="utf-8", nrows=None if row_stop is None else row_stop - row_start,
    )
    shift = 0
    handle = open(path, "rb")
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
        raise _not_utf8(path) from None
    except pd.errors.EmptyDataError:
        raise SourceError("The file is empty.") from None
    except pd.errors.ParserError as e:
        raise _csv_error(e, shift) from None
    finally:
        handle.close()


def _iter_parquet(path, chunk_rows, columns, row_start, row_stop) -> Iterator[pd.DataFrame]:
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
            yield batch.to_pandas()
            if at >= stop:
                break
    except (pa.ArrowException, OSError) as e:
        raise SourceError(f"The Parquet file could not be read: {e}") from None


def _jsonl_records(path, limit: int | None = None):
    """(line number, dict) of the first `limit` records, for read_columns."""
    with open(path, "rb") as f:
        for number, raw in enumerate(f, start=1):
            if not raw.strip():
                continue
            try:
                record = json.loads(raw.decode("utf-8"))
            except UnicodeDecodeError:
                raise _not_utf8(path) from None
            except ValueError as e:
                raise SourceError(f"Line {number} is not valid JSON: {e}.") from None
            if not isinstance(record, dict):
                raise SourceError(f"Line {number} is not a JSON object.")
            yield number, record
            limit = None if limit is None else limit - 1
            if limit == 0:
                return


def _jsonl_frame(path, lines: list[bytes], numbers: list[int]) -> pd.DataFrame:
    try:
        text = b"".join(lines).decode("utf-8")
    except UnicodeDecodeError:
        raise _not_utf8(path) from None
    try:
        frame = pd.read_json(io.StringIO(text), lines=True, dtype=False, precise_float=True)
    except ValueError:
        frame = None
    if frame is None or len(frame) != len(lines):
        for number, raw in zip(numbers, lines):
            try:
                record = json.loads(raw)
            except ValueError as e:
                raise SourceError(f"Line {number} is not valid JSON: {e}.") from None
            if not isinstance(record, dict):
                raise SourceError(f"Line {number} is not a JSON object.")
        raise SourceError(f"Lines {numbers[0]}-{numbers[-1]} could not be read as JSON objects.")
    return frame


def _iter_jsonl(path, chunk_rows, columns, row_start, row_stop, dtypes) -> Iterator[pd.DataFrame]:
    row = 0
    lines: list[bytes] = []
    numbers: list[int] = []

    known = [c for c in read_columns(path, "jsonl") if columns is None or c in set(columns)]

    def emit():
        frame = _jsonl_frame(path, lines, numbers)
        if columns is not None:
            frame = frame[[c for c in frame.columns if c in set(columns)]]
        missing = [c for c in known if c not in frame.columns]
        if missing:  # a key absent from every record of this chunk is null there, not absent from the file
            frame = frame.assign(**{c: pd.Series([None] * len(frame), dtype=object, index=frame.index) for c in missing})
        for c in frame.columns:
            if c in dtypes and frame[c].dtype != "str" and frame[c].dtype != object:
                strings = frame[c].astype(str).astype(object)
                strings[frame[c].isna().to_numpy()] = None
                frame[c] = strings
        return frame

    with open(path, "rb") as f:
        for number, raw in enumerate(f, start=1):
            if not raw.strip():
                continue
            if row >= row_start:
                if row_stop is not None and row >= row_stop:
                    break
                lines.append(raw)
                numbers.append(number)
                if len(lines) >= chunk_rows:
                    yield emit()
                    lines, numbers = [], []
            row += 1
    if lines:
        yield emit()


# ----------------------------------------------------------------------------------------- profile

class DuplicateTracker:
    """Counts values seen before, across chunks, in ~8 bytes per distinct value.

    Values are hashed to 64 bits (integer columns with pandas' hash_array, everything else by its string
    form with Python's hash). Seen hashes are kept as sorted runs, one per chunk (merged pairwise once there are
    many), and membership is np.searchsorted per run -- no Python set. A hash collision (probability
    ~n^2/2^65, ~3e-6 for 10M ids) could count one false duplicate."""

    MAX_RUNS = 16

    def __init__(self, examples: int = 5):
        self.runs: list[np.ndarray] = []
        self.duplicates = 0
        self.examples: list[str] = []
        self.max_examples = examples

    @staticmethod
    def _hash(values: pd.Series) -> np.ndarray:
        if pd.api.types.is_integer_dtype(values.dtype) or pd.api.types.is_bool_dtype(values.dtype):
            return pd.util.hash_array(values.to_numpy())
        items = values.to_numpy(dtype=object)
        if pd.api.types.infer_dtype(items, skipna=False) != "string":
            items = np.array([v if isinstance(v, str) else str(v) for v in items], dtype=object)
        # Python's own str hash (SipHash, salted per process -- the tracker lives within one call) is
        # ~4x faster than pandas' hash_array on strings.
        return np.fromiter(map(hash, items), dtype=np.int64, count=items.size).view(np.uint64)

    def update(self, values: pd.Series):
        values = values.dropna()
        if values.empty:
            return
        h = self._hash(values)
        order = np.argsort(h, kind="stable")
        hs = h[order]
        first = np.concatenate(([True], hs[1:] != hs[:-1]))  # first occurrence within the chunk
        repeated = np.empty(h.size, dtype=bool)
        repeated[order] = ~first
        fresh = hs[first]
        seen_before = np.zeros(fresh.size, dtype=bool)
        for run in self.runs:
            pos = np.searchsorted(run, fresh)
            pos[pos == run.size] = 0
            seen_before |= run[pos] == fresh
        if seen_before.any():
            mask = np.zeros(h.size, dtype=bool)
            mask[order[np.flatnonzero(first)[seen_before]]] = True
            repeated |= mask
        count = int(repeated.sum())
        if count:
            self.duplicates += count
            if len(self.examples) < self.max_examples:
                for v in pd.unique(values[repeated].astype(str)):
                    if v not in self.examples:
                        self.examples.append(v)
                    if len(self.examples) >= self.max_examples:
                        break
        new = fresh[~seen_before]
        if new.size:
            self.runs.append(new)
        while len(self.runs) > self.MAX_RUNS:
            self.runs.sort(key=len)
            a, b = self.runs.pop(0), self.runs.pop(0)
            self.runs.append(np.sort(np.concatenate((a, b)), kind="stable"))


def duplicate_ids(path, fmt, column, *, chunk_rows: int = 1_000_000, examples: int = 5) -> tuple[int, list[str]]:
    """(rows whose `column` value appeared on an earlier row, up to `examples` such values). Reads only
    that column; memory ~8 bytes per distinct id plus one chunk (10M ids: ~80 MB)."""
    tracker = DuplicateTracker(examples)
    found = False
    for chunk in iter_chunks(path, fmt, chunk_rows=chunk_rows, columns=[column], dtypes={column: object}):
        if column in chunk.columns:
            found = True
            tracker.update(chunk[column])
    if not found and column not in read_columns(path, fmt):
        raise SourceError(f"The file has no column {column!r}.")
    return tracker.duplicates, tracker.examples


def profile_source(path, fmt, specs: list[ColumnSpec], *, edges: dict | None = None, chunk_rows: int = 200_000,
                   row_start: int = 0, row_stop: int | None = None,
                   progress: Callable[[int], None] | None = None, now: datetime | None = None,
                   target_column: str | None = None) -> dict:
    """Profile a file (or the partition [row_start, row_stop) of it) one chunk at a time.

    With `edges` (a batch, or a partition of a reference whose edges are known) each chunk is profiled
    on them and merged; progress(rows_done) after each chunk. With edges=None the file is a reference:
    profile.profile_reference_chunks reads it twice (edges, then profile; progress ends at the row
    total). Only the spec columns are read; spec columns missing from the file are left out of the profile.

    Id columns: duplicates are tracked across the chunks read here, so they are exact for what this
    call read; merging partition profiles only adds them up -- use duplicate_ids for the whole file.

    `target_column` names the label: the profile then carries feature–label statistics ("target",
    see audits/engine/target.py). It is read even when no spec names it; a file without it (an
    unlabelled batch) gets no "target".
    """
    wanted = [s.name for s in specs]
    if target_column is not None and target_column not in wanted:
        wanted.append(target_column)
    dtypes = csv_dtypes(specs)
    ids = [s.name for s in specs if s.kind == "id"]
    trackers = {name: DuplicateTracker() for name in ids}

    def read(columns):
        return lambda: iter_chunks(path, fmt, chunk_rows=chunk_rows, columns=columns, row_start=row_start,
                                   row_stop=row_stop, dtypes=dtypes)

    def tracked(chunks):
        for chunk in chunks:
            for name in ids:
                if name in chunk.columns:
                    trackers[name].update(chunk[name])
            yield chunk

    if edges is None:
        numeric = [s.name for s in specs if s.kind == "numeric"]
        profile = profile_reference_chunks(lambda: tracked(read(wanted)()), specs, now=now, progress=progress,
                                           edge_chunks=read(numeric), target_column=target_column,
                                           _id_duplicates=not ids)
    else:
        profile = None
        done = 0
        for chunk in tracked(read(wanted)()):
            part = profile_frame(chunk, specs, edges=edges, now=now, target_column=target_column,
                                 _id_duplicates=not ids)
            profile = part if profile is None else merge_profiles(profile, part)
            done += len(chunk)
            del chunk, part
            if progress:
                progress(done)
        if profile is None:
            present = set(read_columns(path, fmt))
            profile = empty_profile([s for s in specs if s.name in present], edges)
    for name, tracker in trackers.items():
        column = profile["columns"].get(name)
        if column is not None:
            column["duplicates"] = tracker.duplicates
            column["duplicate_examples"] = tracker.examples
    return profile
