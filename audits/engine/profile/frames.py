"""A frame's profile: every column of the specs summarised, on the reference's bin edges (or on its
own, when the frame is the reference), with the feature–label statistics when the label is there.

Pure Python; no Django.
"""

from __future__ import annotations

from datetime import datetime

import pandas as pd

from ..columns import ColumnSpec
from ..target import target_stats
from .edges import reference_edges
from .kinds import (
    _empty_column,
    _now,
    _numeric_values,
    _profile_categorical,
    _profile_id,
    _profile_numeric,
    _profile_text,
    _profile_timestamp,
)

__all__ = ["profile_frame", "empty_profile", "profile_edges"]


def profile_frame(
    frame: pd.DataFrame,
    specs: list[ColumnSpec],
    *,
    edges: dict[str, tuple[list, list]] | None = None,
    now: datetime | None = None,
    target_column: str | None = None,
    keep_values: bool = True,
    _id_duplicates: bool = True,
) -> dict:
    """Profile one frame. edges=None means this frame IS the reference: each numeric column's edges are
    computed from it (reference_edges). Otherwise edges maps column -> (fine edges, psi edges) from the
    reference; a numeric column missing from that dict is binned on ([], []) (one bin), so chunk profiles
    stay mergeable. Columns missing from the frame are skipped. keep_values=False: no numeric column
    keeps its values (the whole file has more rows than profile.exact_values_max(), so the merged
    profile could not keep them; not holding them keeps memory flat). With `target_column` naming a column
    of the frame, the profile also carries the feature–label statistics under "target" (see
    audits/engine/target.py); a frame without that column (an unlabelled batch) gets no "target".
    (_id_duplicates=False skips the within-frame duplicate search for callers that track ids across
    chunks themselves.)"""
    ts_now = _now(now)
    columns = {}
    fine_edges = {}  # each numeric column's fine edges, which the label statistics rank on
    for spec in specs:
        if spec.name not in frame.columns:
            continue
        s = frame[spec.name]
        if spec.kind == "numeric":
            if edges is None:
                x = _numeric_values(s)[0]
                fine, psi = reference_edges(x)
            else:
                fine, psi = edges.get(spec.name, ([], []))
            fine_edges[spec.name] = fine
            columns[spec.name] = _profile_numeric(s, fine, psi, keep_values)
        elif spec.kind == "categorical":
            columns[spec.name] = _profile_categorical(s)
        elif spec.kind == "timestamp":
            columns[spec.name] = _profile_timestamp(s, ts_now)
        elif spec.kind == "text":
            columns[spec.name] = _profile_text(s)
        else:
            columns[spec.name] = _profile_id(s, duplicates=_id_duplicates)
    profile = {"rows": int(len(frame)), "columns": columns}
    if target_column is not None and target_column in frame.columns:
        profile["target"] = target_stats(frame, specs, target_column, fine_edges)
    return profile


def empty_profile(specs: list[ColumnSpec], edges: dict[str, tuple[list, list]] | None) -> dict:
    """The profile of zero rows: the identity of merge_profiles for profiles on these edges."""
    return {"rows": 0, "columns": {spec.name: _empty_column(spec, edges) for spec in specs}}


def profile_edges(profile: dict) -> dict[str, tuple[list, list]]:
    """The numeric edges of a (reference) profile, in the form profile_frame's `edges` takes."""
    return {
        name: (list(col["edges"]), list(col["psi_edges"]))
        for name, col in profile["columns"].items()
        if col["kind"] == "numeric"
    }
