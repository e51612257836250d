"""Bin edges and quantile sketches of numeric columns: a reference's edges (from exact quantiles, or
from a KLL sketch when the reference is read in chunks) and the sketch every numeric profile keeps.

Pure Python; no Django.
"""

from __future__ import annotations

import base64
from collections.abc import Callable

import numpy as np
from datasketches import kll_doubles_sketch

from ..bounds import TAIL_VALUES, column_values
from .kept import exact_values_max

__all__ = [
    "FINE_BINS",
    "PSI_BINS",
    "SKETCH_K",
    "QUANTILES",
    "reference_edges",
    "numeric_quantile",
    "column_values",
]

FINE_BINS = 1000
PSI_BINS = 10
SKETCH_K = 200
QUANTILES = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)


def _sorted_quantiles(xs: np.ndarray, qs: np.ndarray) -> np.ndarray:
    """numpy's default ('linear') quantiles of an already sorted array."""
    h = (xs.size - 1) * qs
    lo = np.floor(h).astype(np.int64)
    hi = np.minimum(lo + 1, xs.size - 1)
    with np.errstate(over="ignore", invalid="ignore"):
        out = xs[lo] + (h - lo) * (xs[hi] - xs[lo])
        bad = ~np.isfinite(out)
        if bad.any():  # neighbours further apart than the float range: interpolate as weighted halves
            f = (h - lo)[bad]
            out[bad] = np.where(f == 0, xs[lo][bad], xs[lo][bad] * (1 - f) + xs[hi][bad] * f)
    return out


def reference_edges(values: np.ndarray) -> tuple[list[float], list[float]]:
    """(fine edges from the quantiles 1/1000..999/1000, decile edges), unique and sorted.

    Non-finite values are ignored. With at most 999 (resp. 9) distinct values the edges are the distinct
    values themselves, so each bin holds exactly one value."""
    x = np.asarray(values, dtype=np.float64)
    x = x[np.isfinite(x)]
    if x.size == 0:
        return [], []
    xs = np.sort(x)
    distinct = xs[np.concatenate(([True], xs[1:] != xs[:-1]))]
    return _edges_from(distinct, lambda qs: _sorted_quantiles(xs, qs))


def _edges_from(distinct: np.ndarray | None, quantile: Callable[[np.ndarray], np.ndarray]):
    def pick(bins):
        if distinct is not None and distinct.size <= bins - 1:
            return [float(v) for v in distinct]
        qs = np.arange(1, bins) / bins
        return [float(v) for v in np.unique(np.asarray(quantile(qs), dtype=np.float64))]

    return pick(FINE_BINS), pick(PSI_BINS)


def _sketch_update(sketch: kll_doubles_sketch, x: np.ndarray):
    if not x.flags.writeable:  # the binding refuses read-only arrays (pandas copy-on-write views)
        x = x.copy()
    sketch.update(x)


def _encode_sketch(sketch: kll_doubles_sketch) -> str:
    return base64.b64encode(sketch.serialize()).decode("ascii")


def _decode_sketch(text: str) -> kll_doubles_sketch:
    return kll_doubles_sketch.deserialize(base64.b64decode(text))


def _sketch_quantiles(sketch: kll_doubles_sketch) -> dict:
    if sketch.is_empty():
        return {str(q): None for q in QUANTILES}
    return {str(q): float(v) for q, v in zip(QUANTILES, sketch.get_quantiles(list(QUANTILES), True))}


def numeric_quantile(column_profile: dict, q: float) -> float | None:
    """Quantile q (0..1) of a numeric column, from its KLL sketch (None when it has no values)."""
    sketch = _decode_sketch(column_profile["sketch"])
    return None if sketch.is_empty() else float(sketch.get_quantile(q, True))


def _exact_quantiles(xs: np.ndarray) -> dict:
    """numpy's default ('linear') quantiles of sorted values, keyed as the sketch's are."""
    if xs.size == 0:
        return {str(q): None for q in QUANTILES}
    return {str(q): float(v) for q, v in zip(QUANTILES, _sorted_quantiles(xs, np.asarray(QUANTILES)))}


def _quantiles_with_values(xs: np.ndarray | None, sketch: kll_doubles_sketch, keep: bool = True) -> dict:
    """The profile's quantiles and how they were found: exact from the kept values, else the sketch's
    with its normalised rank error (a quantile q stands for some rank within q ± that error)."""
    if keep and xs is not None and xs.size <= exact_values_max():
        # A numeric column with at most exact_values_max() finite values keeps them (sorted float64,
        # an array beside the JSON: see kept.py), so drift statistics, quantiles and spreads are exact.
        return {"quantiles": _exact_quantiles(xs), "values": xs, "quantile_rank_error": 0.0}
    tails = {}
    if xs is not None and xs.size:  # copies: a view would hold the whole chunk's array in memory
        tails = {"tail_low": xs[:TAIL_VALUES].copy(), "tail_high": xs[-TAIL_VALUES:].copy()}
    error = 0.0 if sketch.is_empty() else float(kll_doubles_sketch.get_normalized_rank_error(SKETCH_K, False))
    return {"quantiles": _sketch_quantiles(sketch), "quantile_rank_error": error, **tails}
