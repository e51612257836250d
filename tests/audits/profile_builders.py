"""Profile builders following docs/audit-profile-format.md: the contract's numeric and categorical
column without the sketch (reference quantile fine bins, deciles for PSI, searchsorted side="left")."""

import numpy as np

from audits.engine.columns import ColumnSpec

# The signup columns the engine stories profile; each story adds the column it is about.
SIGNUP_SPECS = [
    ColumnSpec("meeting_minutes", "numeric", "float"),
    ColumnSpec("attendees", "numeric", "int"),
    ColumnSpec("plan", "categorical", "string"),
    ColumnSpec("signup_date", "timestamp", "datetime"),
    ColumnSpec("customer_id", "id", "string"),
]
FINE = np.arange(1, 1000) / 1000
DECILES = np.arange(1, 10) / 10
QUANTILE_KEYS = ("0.01", "0.05", "0.25", "0.5", "0.75", "0.95", "0.99")


def reference_edges(values) -> np.ndarray:
    """The contract's inner fine edges: the distinct values when there are ≤ 999 of them, else the
    reference's 999 quantiles (numpy's default "linear" method, computed on the sorted values), unique."""
    xs = np.sort(np.asarray(values, dtype=float))
    distinct = np.unique(xs)
    if distinct.size <= 999:
        return distinct
    h = (xs.size - 1) * FINE
    lo = np.floor(h).astype(np.int64)
    hi = np.minimum(lo + 1, xs.size - 1)
    return np.unique(xs[lo] + (h - lo) * (xs[hi] - xs[lo]))


def binned(values, edges) -> list[int]:
    edges = np.asarray(edges, dtype=float)
    return np.bincount(np.searchsorted(edges, values, side="left"), minlength=edges.size + 1).tolist()


def numeric_column(values, *, like: dict | None = None, non_numeric: int = 0) -> dict:
    """A numeric column profile. ``like`` is the reference column whose edges a batch is profiled on."""
    arr = np.asarray(values, dtype=float)
    nulls = int(np.isnan(arr).sum())
    arr = arr[~np.isnan(arr)]
    if like is None:
        edges = reference_edges(arr)
        psi_edges = np.unique(np.quantile(arr, DECILES))
    else:
        edges, psi_edges = np.asarray(like["edges"]), np.asarray(like["psi_edges"])
    empty = arr.size == 0
    return {
        "kind": "numeric",
        "count": int(arr.size),
        "nulls": nulls,
        "non_numeric": non_numeric,
        "min": None if empty else float(arr.min()),
        "max": None if empty else float(arr.max()),
        "mean": None if empty else float(arr.mean()),
        "m2": 0.0 if empty else float(((arr - arr.mean()) ** 2).sum()),
        "edges": [float(e) for e in edges],
        "hist": binned(arr, edges),
        "psi_edges": [float(e) for e in psi_edges],
        "psi_hist": binned(arr, psi_edges),
        "quantiles": {} if empty else {k: float(np.quantile(arr, float(k))) for k in QUANTILE_KEYS},
    }


def categorical_column(counts: dict, *, nulls: int = 0, other: int = 0) -> dict:
    return {
        "kind": "categorical",
        "count": int(sum(counts.values())) + other,
        "nulls": nulls,
        "counts": {str(k): int(v) for k, v in counts.items()},
        "other": other,
    }
