"""Profiling data files with flat memory: one chunk at a time, duplicate ids tracked across chunks.

Pure Python; no Django. The files are read through mlops.datafiles.reading, whose DataFileError carries
every problem with the file itself. Columns whose spec kind is categorical/id/text/timestamp are read as
strings (csv_dtypes), so "007" stays "007"; a numeric column holding a stray word arrives as strings
for that chunk and the profiler coerces it with pd.to_numeric(errors="coerce"), counting the word as
non_numeric -- so every chunk is profiled the same way whatever dtype pandas guessed for it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import numpy as np
import pandas as pd

from audits.engine.columns import ColumnSpec
from audits.engine.profile import (
    empty_profile,
    exact_values_max,
    profile_on_edges,
    profile_reference_chunks,
)
from mlops.clipping import clip
from mlops.datafiles.reading import CELL_CHARS, CellCuts, DataFileError, iter_chunks, read_columns


def csv_dtypes(specs: list[ColumnSpec]) -> dict[str, object]:
    """Strings (dtype=object) for every column that is not numeric (see the module doc)."""
    return {s.name: object for s in specs if s.kind != "numeric"}


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
                    v = clip(v)
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
        raise DataFileError(f"The file has no column {clip(column)!r}.")
    return tracker.duplicates, tracker.examples


def profile_source(
    path,
    fmt,
    specs: list[ColumnSpec],
    *,
    edges: dict | None = None,
    chunk_rows: int = 200_000,
    row_start: int = 0,
    row_stop: int | None = None,
    progress: Callable[[int], None] | None = None,
    now: datetime | None = None,
    target_column: str | None = None,
    max_cell_chars: int | None = CELL_CHARS,
    rows: int | None = None,
) -> dict:
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

    Text cells longer than `max_cell_chars` are cut as they are read; the profile's "cut_cells" then
    says, per column, how many were cut and the longest one's length (docs/audit-profile-format.md).

    `rows`, the file's row count when known (check_file counts it): above profile.exact_values_max()
    no chunk keeps its numeric values, which the merged profile would drop anyway (memory stays at a
    chunk's worth); at or below it the values are kept for exact drift (kept.py).
    """
    keep_values = rows is None or rows <= exact_values_max()
    wanted = [s.name for s in specs]
    if target_column is not None and target_column not in wanted:
        wanted.append(target_column)
    dtypes = csv_dtypes(specs)
    ids = [s.name for s in specs if s.kind == "id"]
    trackers = {name: DuplicateTracker() for name in ids}

    cuts = CellCuts(max_cell_chars or 0)

    def read(columns, cuts=None):
        return lambda: iter_chunks(
            path,
            fmt,
            chunk_rows=chunk_rows,
            columns=columns,
            row_start=row_start,
            row_stop=row_stop,
            dtypes=dtypes,
            max_cell_chars=max_cell_chars,
            cuts=cuts,
        )

    def tracked(chunks):
        for chunk in chunks:
            for name in ids:
                if name in chunk.columns:
                    trackers[name].update(chunk[name])
            yield chunk

    if edges is None:
        numeric = [s.name for s in specs if s.kind == "numeric"]
        profile = profile_reference_chunks(
            lambda: tracked(read(wanted, cuts)()),
            specs,
            now=now,
            progress=progress,
            edge_chunks=read(numeric),
            target_column=target_column,
            keep_values=keep_values,
            _id_duplicates=not ids,
        )
    else:
        profile = profile_on_edges(
            tracked(read(wanted, cuts)()),
            specs,
            edges=edges,
            now=now,
            progress=progress,
            target_column=target_column,
            keep_values=keep_values,
            _id_duplicates=not ids,
        )
        if profile is None:
            present = set(read_columns(path, fmt))
            profile = empty_profile([s for s in specs if s.name in present], edges)
    if cuts:
        profile["cut_cells"] = cuts.as_dict()
    for name, tracker in trackers.items():
        column = profile["columns"].get(name)
        if column is not None:
            column["duplicates"] = tracker.duplicates
            column["duplicate_examples"] = tracker.examples
    return profile
