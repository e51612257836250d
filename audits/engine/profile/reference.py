"""A reference too large for memory, profiled in two passes over its chunks: bin edges from a sketch
first, then each chunk on those edges, merged.

Pure Python; no Django.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime

import numpy as np
import pandas as pd
from datasketches import kll_doubles_sketch

from ..columns import ColumnSpec
from .edges import FINE_BINS, SKETCH_K, _edges_from, _sketch_update
from .frames import empty_profile, profile_frame
from .kinds import _numeric_values
from .merge import merge_profiles

__all__ = ["profile_on_edges", "profile_reference_chunks"]


class _EdgeCollector:
    """Pass 1 of reference profiling: a KLL sketch and (while small) the distinct values of a column."""

    def __init__(self):
        self.sketch = kll_doubles_sketch(SKETCH_K)
        self.distinct: np.ndarray | None = np.empty(0, dtype=np.float64)

    def update(self, x: np.ndarray):
        if x.size == 0:
            return
        x = np.sort(x)  # sorted input is cheaper for the sketch
        _sketch_update(self.sketch, x)
        if self.distinct is not None:
            merged = np.union1d(self.distinct, np.unique(x) if x.size < 4 * FINE_BINS else _unique_capped(x))
            self.distinct = merged if merged.size <= FINE_BINS - 1 else None

    def edges(self) -> tuple[list[float], list[float]]:
        if self.sketch.is_empty():
            return [], []
        return _edges_from(self.distinct, lambda qs: self.sketch.get_quantiles(list(qs), True))


def _unique_capped(x: np.ndarray) -> np.ndarray:
    """np.unique, but gives up early (returns FINE_BINS values) on a column that is clearly continuous."""
    head = np.unique(x[: 4 * FINE_BINS])
    if head.size > FINE_BINS - 1:
        return head
    return np.unique(x)


def profile_reference_chunks(
    chunks: Callable[[], Iterable[pd.DataFrame]],
    specs: list[ColumnSpec],
    *,
    now: datetime | None = None,
    progress: Callable[[int], None] | None = None,
    edge_chunks: Callable[[], Iterable[pd.DataFrame]] | None = None,
    target_column: str | None = None,
    keep_values: bool = True,
    _id_duplicates: bool = True,
) -> dict:
    """Profile a reference delivered in chunks; chunks() must start a fresh iteration on each call.

    Pass 1 feeds every numeric column into a KLL sketch (and keeps its distinct values while there are at
    most 999) to choose the bin edges; pass 2 profiles each chunk on those edges and merges. When the
    data turn out to be a single chunk, pass 2 profiles it with exact edges (reference_edges) instead.
    `edge_chunks`, if given, replaces chunks() in pass 1 (e.g. a reader of the numeric columns only).
    `progress`, if given, receives a monotone row figure ending at the total rows: half the rows read
    in pass 1, then half the total plus half the rows profiled in pass 2.
    `target_column` is passed to profile_frame in pass 2 (label statistics rank on pass 1's edges).
    """
    numeric = [s for s in specs if s.kind == "numeric"]
    collectors = {s.name: _EdgeCollector() for s in numeric}
    n_chunks = rows = 0
    for chunk in (edge_chunks or chunks)():
        n_chunks += 1
        rows += len(chunk)
        for spec in numeric:
            if spec.name in chunk.columns:
                collectors[spec.name].update(_numeric_values(chunk[spec.name])[0])
        del chunk
        if progress:
            progress(rows // 2)
    edges = None if n_chunks == 1 else {name: c.edges() for name, c in collectors.items()}
    del collectors

    def pass_two(done: int) -> None:  # half the rows (pass 1), then half of them again as profiled
        progress(min((rows + done) // 2, rows) if done < rows else done)

    profile = profile_on_edges(
        chunks(),
        specs,
        edges=edges,
        now=now,
        progress=pass_two if progress else None,
        target_column=target_column,
        keep_values=keep_values,
        _id_duplicates=_id_duplicates,
    )
    return profile if profile is not None else empty_profile(specs, None)


def profile_on_edges(
    chunks: Iterable[pd.DataFrame],
    specs: list[ColumnSpec],
    *,
    edges: dict | None,
    now: datetime | None = None,
    progress: Callable[[int], None] | None = None,
    target_column: str | None = None,
    keep_values: bool = True,
    _id_duplicates: bool = True,
) -> dict | None:
    """Profile each chunk on the given bin edges and merge them (pass 2 of profile_reference_chunks, and
    a batch's profile on its reference's edges); None when there was no chunk. `edges` None: the exact
    edges of a single chunk, so a second chunk is an error. `progress` receives the rows profiled."""
    profile = None
    done = 0
    for chunk in chunks:
        if edges is None and profile is not None:
            raise RuntimeError("chunks() yielded more chunks on its second iteration than on its first")
        part = profile_frame(
            chunk,
            specs,
            edges=edges,
            now=now,
            target_column=target_column,
            keep_values=keep_values,
            _id_duplicates=_id_duplicates,
        )
        profile = part if profile is None else merge_profiles(profile, part)
        done += len(chunk)
        del chunk, part
        if progress:
            progress(done)
    return profile
