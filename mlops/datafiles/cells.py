"""Long cells cut while a file is read. Pure Python, no Django.

A text value longer than the cap (KEEL_MAX_CELL_CHARS, CELL_CHARS by default) is cut to the cap
with mlops.clipping's "…(N more bytes)" marker as soon as the reader allows: a JSON-lines record
before its line reaches pandas (so no frame ever holds the long value), a Parquet string column on
the Arrow batch before it becomes Python strings, a CSV cell right after pandas' parser has read its
chunk. `CellCuts` counts what was cut per column (how many cells, the longest length in characters)
so the audit can say so and the gate can refuse a column it reads.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pandas as pd

from mlops.clipping import clip

__all__ = ["CELL_CHARS", "CellCuts", "cut_arrow_batch", "cut_frame", "cut_jsonl_line"]

CELL_CHARS = 10_000  # the default cap on one cell's characters


@dataclass
class CellCuts:
    """What was cut, per column: {"cells": how many, "longest": characters of the longest}."""

    limit: int = CELL_CHARS
    columns: dict[str, dict] = field(default_factory=dict)

    def add(self, column, lengths) -> None:
        lengths = [int(n) for n in lengths]
        if not lengths:
            return
        entry = self.columns.setdefault(str(column), {"cells": 0, "longest": 0})
        entry["cells"] += len(lengths)
        entry["longest"] = max(entry["longest"], *lengths)

    def __bool__(self) -> bool:
        return bool(self.columns)

    def as_dict(self) -> dict:
        """{column: {"cells", "longest", "limit"}}: the profile's "cut_cells" (JSON-safe)."""
        return {name: {**entry, "limit": self.limit} for name, entry in self.columns.items()}


def cut_frame(frame: pd.DataFrame, limit: int | None, cuts: CellCuts | None = None) -> pd.DataFrame:
    """`frame` with every string longer than `limit` characters cut (in place); None: no cap."""
    if limit is None or frame.empty:
        return frame
    for name in frame.columns:
        column = frame[name]
        if column.dtype != object and not pd.api.types.is_string_dtype(column.dtype):
            continue
        lengths = column.map(lambda v: len(v) if isinstance(v, str) else 0, na_action="ignore")
        long = (lengths > limit).fillna(False).to_numpy(dtype=bool)
        if not long.any():
            continue
        if cuts is not None:
            cuts.add(name, lengths[long])
        shortened = column.astype(object).copy()
        shortened[long] = [clip(v, limit) for v in column[long]]
        frame[name] = shortened
    return frame


def cut_arrow_batch(batch, limit: int | None, cuts: CellCuts | None = None):
    """A pyarrow RecordBatch with its string values longer than `limit` characters cut, before they
    become Python objects (only the long ones are turned into Python strings, one at a time)."""
    if limit is None or batch.num_rows == 0:
        return batch
    import pyarrow as pa
    import pyarrow.compute as pc

    arrays = list(batch.columns)
    changed = False
    for i, array in enumerate(arrays):
        if not (pa.types.is_string(array.type) or pa.types.is_large_string(array.type)):
            continue
        lengths = pc.utf8_length(array)
        long = pc.fill_null(pc.greater(lengths, limit), False)
        if not pc.any(long).as_py():
            continue
        where = pc.indices_nonzero(long).to_pylist()
        if cuts is not None:
            cuts.add(batch.schema.names[i], [lengths[j].as_py() for j in where])
        shortened = pa.array([clip(array[j].as_py(), limit) for j in where], type=array.type)
        arrays[i] = pc.replace_with_mask(array, long, shortened)
        changed = True
    return pa.RecordBatch.from_arrays(arrays, schema=batch.schema) if changed else batch


def cut_jsonl_line(raw: bytes, limit: int | None, cuts: CellCuts | None = None) -> bytes:
    """A JSON-lines record with its string values longer than `limit` characters cut. A line of at most
    `limit` bytes cannot hold such a value and is returned as it is; so is a line that is not a JSON
    object (the reader names it)."""
    if limit is None or len(raw) <= limit:
        return raw
    try:
        record = json.loads(raw)
    except ValueError:
        return raw
    if not isinstance(record, dict):
        return raw
    cut = False
    for key, value in record.items():
        if isinstance(value, str) and len(value) > limit:
            if cuts is not None:
                cuts.add(key, [len(value)])
            record[key] = clip(value, limit)
            cut = True
    if not cut:
        return raw
    return json.dumps(record, ensure_ascii=False).encode("utf-8") + b"\n"
