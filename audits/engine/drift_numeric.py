"""Numeric drift statistics from profiles: Kolmogorov-Smirnov, PSI and Wasserstein on the reference's
bins (or exactly on kept values, see audits/engine/bounds.py), and numeric_drift, one column's figures.

Split from drift.py (which keeps the categorical statistics and re-exports these); the conventions of
drift.py's docstring hold here. Pure Python + numpy/scipy; no Django.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from . import bounds
from .bounds import UNAVAILABLE, column_values

__all__ = [
    "ks_from_histograms",
    "ks_error_bound",
    "psi",
    "bin_positions",
    "wasserstein_from_histograms",
    "wasserstein_error_bound",
    "numeric_drift",
]


def _counts(values) -> np.ndarray:
    arr = np.asarray(values, dtype=float)
    if arr.ndim != 1:
        raise ValueError("count vectors must be one-dimensional")
    if np.any(arr < 0) or not np.all(np.isfinite(arr)):
        raise ValueError("counts must be finite and non-negative")
    return arr


def _pair(ref_counts, cur_counts) -> tuple[np.ndarray, np.ndarray]:
    ref, cur = _counts(ref_counts), _counts(cur_counts)
    if ref.shape != cur.shape:
        raise ValueError(
            f"count vectors differ in length ({ref.size} vs {cur.size}): "
            "the batch must be profiled on the reference's edges"
        )
    return ref, cur


# --------------------------------------------------------------------------------------------
# Kolmogorov-Smirnov
# --------------------------------------------------------------------------------------------


_scipy_stats = bounds._stats  # scipy.stats, imported on first use


def ks_from_histograms(ref_counts, cur_counts) -> tuple[float, float]:
    """Two-sample Kolmogorov-Smirnov test on two histograms over the same bins.

    D = max |CDF_ref - CDF_cur| evaluated at the upper boundary of every bin (the CDFs are the
    cumulative counts divided by each sample's size). The p-value is
    ``scipy.stats.kstwo.sf(D, round(n*m/(n+m)))``, the form ``scipy.stats.ks_2samp`` uses for
    ``method="asymp"`` (two-sided), the Kolmogorov limit beyond an effective size of KS_EXACT_MAX_EN
    (see :func:`bounds.ks_pvalue`). p-values are information only.

    Exactness. The empirical CDFs only jump at data values; between the bin boundaries we cannot
    see where. Hence:

    * if every bin holds at most one distinct value of the pooled samples (e.g. the edges are the
      reference's distinct values and the current batch has no value the reference lacks, which is
      what the profile does for columns with ≤ 999 distinct values), D is EXACTLY the two-sample
      KS statistic and the p-value equals ``ks_2samp(ref, cur, method="asymp")``;
    * otherwise D is a lower bound: inside a bin each CDF rises by that bin's share of its sample,
      so ``D <= D_exact <= D + max over bins of max(ref share, cur share)``
      (see :func:`ks_error_bound`). With the reference's 999 fine quantile bins a bin holds about
      0.1 % of the reference, so the test is very slightly conservative.

    Empty samples give (0.0, 1.0): there is nothing to compare.
    """
    ref, cur = _pair(ref_counts, cur_counts)
    n, m = float(ref.sum()), float(cur.sum())
    if n == 0 or m == 0:
        return 0.0, 1.0
    cdf_ref = np.cumsum(ref) / n
    cdf_cur = np.cumsum(cur) / m
    d = float(np.max(np.abs(cdf_ref - cdf_cur)))
    d = min(max(d, 0.0), 1.0)
    return d, bounds.ks_pvalue(d, n, m)


def ks_error_bound(ref_counts, cur_counts) -> float:
    """How much the exact KS statistic may exceed :func:`ks_from_histograms`'s D: the largest share
    of either sample that sits in a single bin (0 for empty samples)."""
    ref, cur = _pair(ref_counts, cur_counts)
    n, m = ref.sum(), cur.sum()
    if n == 0 or m == 0:
        return 0.0
    return float(max((ref / n).max(), (cur / m).max()))


# --------------------------------------------------------------------------------------------
# Population Stability Index
# --------------------------------------------------------------------------------------------


def psi(ref_counts, cur_counts, *, epsilon: float = 1e-4) -> float:
    """Population Stability Index: ``sum((c - r) * ln(c / r))`` over the bins, where r and c are
    each sample's share of its total, floored at ``epsilon`` so that an empty bin on one side gives a
    large but finite term. Symmetric in its arguments and 0 for identical shares.

    Usual reading: < 0.1 stable, 0.1-0.25 moderate shift, > 0.25 significant shift. On numeric
    columns the bins are the reference's deciles (``psi_hist``); on categorical columns they are the
    union of the categories, new ones included.
    """
    ref, cur = _pair(ref_counts, cur_counts)
    n, m = ref.sum(), cur.sum()
    if n == 0 or m == 0:
        return 0.0
    r = np.maximum(ref / n, epsilon)
    c = np.maximum(cur / m, epsilon)
    return float(np.sum((c - r) * np.log(c / r)))


# --------------------------------------------------------------------------------------------
# Wasserstein (earth mover's) distance
# --------------------------------------------------------------------------------------------


def bin_positions(edges, counts, *, lo: float, hi: float) -> tuple[np.ndarray, np.ndarray]:
    """Where each bin's mass is placed: the midpoint of the bin, with the bin clipped to the
    sample's observed [lo, hi] (so the open outer bins are bounded by the observed min/max, and an
    inner bin that holds the sample's min or max is not wider than the data). Returns
    (positions, lower/upper half-width) arrays for the bins; empty bins get their plain midpoint.
    """
    edges = np.asarray(edges, dtype=float)
    counts = _counts(counts)
    if counts.size != edges.size + 1:
        raise ValueError(f"{counts.size} counts for {edges.size} inner edges (expected edges + 1)")
    lower = np.concatenate(([lo], edges))
    upper = np.concatenate((edges, [hi]))
    lower = np.clip(lower, lo, hi)
    upper = np.clip(upper, lo, hi)
    upper = np.maximum(upper, lower)
    return (lower + upper) / 2.0, (upper - lower) / 2.0


def _edges_are_atoms(edges: np.ndarray, ref: np.ndarray, ref_min: float, ref_max: float) -> bool:
    """True when the edges are the reference's distinct values (columns with ≤ 999 of them): the
    reference's min and max are the first and last edge, every bin up to the last edge holds some
    reference rows, and none lies above the last edge. Then each inner bin's reference mass sits
    exactly on the bin's upper edge."""
    return bool(edges.size and ref_min == edges[0] and ref_max == edges[-1] and ref[-1] == 0 and np.all(ref[:-1] > 0))


def _positions(edges, counts, lo, hi, mean, *, atoms: bool, exact_atoms: bool) -> np.ndarray:
    """Where each bin's mass goes. Default: bin midpoints (bins clipped to the sample's [lo, hi]).

    * ``exact_atoms`` (the reference itself when the edges are its distinct values): every inner bin
      holds one value, its upper edge, so the positions are exact.
    * ``atoms`` (a batch on such edges): the inner bins' masses sit at a common fraction t of the
      bin, t in [0, 1] chosen so the histogram's mean equals the batch's exact mean; a batch whose
      values are among the reference's gets t = 1, i.e. exact positions again.
    * when the mean is known, the two OUTER bins (the wide ones, reaching the observed min/max)
      start at the least extreme point consistent with their extreme value (1/c of the way from the
      inner edge to the extreme, for c values in the bin: one value is the extreme, none is inside
      the edge) and then move within their bounds so the histogram's mean is exact, each in
      proportion to the room it has in the needed direction. Starting at the midpoint instead puts
      a heavy tail's mass halfway to a lone outlier and, with two heavy tails, two samples that
      differ only in their chance extremes look far apart.
    Any position inside a bin is consistent with the counts; these are also consistent with the mean.
    """
    mid, half = bin_positions(edges, counts, lo=lo, hi=hi)
    lower, upper = mid - half, mid + half
    pos = mid.copy()
    k = counts.size
    if exact_atoms:
        pos[:-1] = np.asarray(edges, dtype=float)
        return pos
    total = counts.sum()
    if mean is None or total == 0 or not math.isfinite(mean):
        return pos
    target = float(mean) * total
    inner = np.arange(1, k - 1)
    # An outer bin holding c values, one of them the observed extreme, has its mean at least
    # 1/c of the way from the inner edge to the extreme: start there, the least extreme feasible point.
    for i, inner_edge, extreme in ((0, upper[0], lower[0]), (k - 1, lower[k - 1], upper[k - 1])):
        if counts[i] > 0:
            pos[i] = inner_edge + (extreme - inner_edge) / counts[i]
    if atoms and inner.size and counts[inner].sum() > 0:
        width = upper[inner] - lower[inner]
        spread = float((counts[inner] * width).sum())
        if spread > 0:
            rest = float(counts[0] * pos[0] + counts[k - 1] * pos[k - 1])
            t = (target - rest - float((counts[inner] * lower[inner]).sum())) / spread
            pos[inner] = lower[inner] + float(np.clip(t, 0.0, 1.0)) * width
    residual = target - float((counts * pos).sum())
    room = {i: (upper[i] - pos[i]) if residual > 0 else (pos[i] - lower[i]) for i in {0, k - 1} if counts[i] > 0}
    weight = sum(counts[i] * r for i, r in room.items())
    if weight > 0:
        for i, r in room.items():
            pos[i] = float(np.clip(pos[i] + residual * r / weight, lower[i], upper[i]))
    return pos


def wasserstein_from_histograms(
    edges,
    ref_counts,
    cur_counts,
    *,
    ref_min: float,
    ref_max: float,
    cur_min: float,
    cur_max: float,
    ref_mean: float | None = None,
    cur_mean: float | None = None,
) -> float:
    """Earth mover's distance (Wasserstein-1) between two binned distributions on the same edges.

    Each bin's mass is put at its midpoint (see :func:`bin_positions`; the outer bins are bounded by
    each sample's observed min/max). When the samples' exact means are given (profiles carry them),
    the two outer bins' masses are placed inside their bins so each histogram's mean is exact (see
    ``_positions``): on skewed data (log-normal amounts) the wide top bin otherwise dominates the
    error. When the edges
    are the reference's distinct values (detected: see ``_edges_are_atoms``), the reference's mass
    sits on the upper edges, where it really is, and the batch's inner bins at the point that
    reproduces its mean (the upper edge too when its values are among the reference's).

    Moving a value within its bin costs at most half the bin's width, so the result is always within
    :func:`wasserstein_error_bound` of the distance between the raw samples; in practice it is much
    closer (tests/audits/test_drift.py states the figures).
    """
    ref, cur = _pair(ref_counts, cur_counts)
    if ref.sum() == 0 or cur.sum() == 0:
        return 0.0
    edges_arr = np.asarray(edges, dtype=float)
    atoms = _edges_are_atoms(edges_arr, ref, ref_min, ref_max)
    ref_pos = _positions(edges_arr, ref, ref_min, ref_max, ref_mean, atoms=atoms, exact_atoms=atoms)
    cur_pos = _positions(edges_arr, cur, cur_min, cur_max, cur_mean, atoms=atoms, exact_atoms=False)
    keep_r, keep_c = ref > 0, cur > 0
    return float(_scipy_stats().wasserstein_distance(ref_pos[keep_r], cur_pos[keep_c], ref[keep_r], cur[keep_c]))


def wasserstein_error_bound(
    edges, ref_counts, cur_counts, *, ref_min: float, ref_max: float, cur_min: float, cur_max: float
) -> float:
    """Upper bound on |wasserstein_from_histograms - W(raw ref, raw cur)|: the cost of moving every
    value anywhere within its bin, i.e. half the bin's width per value, summed for both samples."""
    ref, cur = _pair(ref_counts, cur_counts)
    if ref.sum() == 0 or cur.sum() == 0:
        return 0.0
    _, ref_half = bin_positions(edges, ref, lo=ref_min, hi=ref_max)
    _, cur_half = bin_positions(edges, cur, lo=cur_min, hi=cur_max)
    return float(2 * (ref * ref_half).sum() / ref.sum() + 2 * (cur * cur_half).sum() / cur.sum())


# --------------------------------------------------------------------------------------------
# Per-column drift from profiles
# --------------------------------------------------------------------------------------------


def _same_edges(name: str, ref_edges: Sequence, cur_edges: Sequence) -> None:
    a, b = np.asarray(ref_edges, dtype=float), np.asarray(cur_edges, dtype=float)
    if a.shape != b.shape or not np.array_equal(a, b):
        raise ValueError(f"{name}: the batch was not profiled on the reference's edges")


def _spread(col: Mapping) -> tuple[float, str]:
    """The reference's spread to make Wasserstein unit-free: IQR, else standard deviation, else 1."""
    q = col.get("quantiles") or {}
    q25, q75 = q.get("0.25"), q.get("0.75")
    if q25 is not None and q75 is not None and q75 - q25 > 0:
        return float(q75 - q25), "iqr"
    count, m2 = col.get("count") or 0, col.get("m2")
    if count > 1 and m2 is not None and m2 > 0:
        return math.sqrt(m2 / (count - 1)), "std"
    return 1.0, "none"


def numeric_drift(ref_col: Mapping, cur_col: Mapping) -> dict:
    """Drift statistics of one numeric column; the current profile must be on the reference's edges.

    Returns ``{"ks_statistic", "ks_pvalue", "ks_error_bound", "psi", "wasserstein",
    "wasserstein_scaled", "scale", "scale_basis", "ref_count", "cur_count", "exact", ...}``.
    ``wasserstein_scaled`` is the Wasserstein distance divided by the reference's IQR (or its
    standard deviation when the IQR is 0; ``scale_basis`` says which), so a threshold like 0.1 means
    "a tenth of the typical spread" whatever the unit. With no values on one side the statistics are None.

    Exact or binned (see audits/engine/bounds.py): when both profiles keep their values
    (profile.EXACT_VALUES), KS and Wasserstein are scipy's on the raw values (``exact`` True, every
    error 0). Otherwise they come from the histograms, and ``ks_statistic_bounds``,
    ``ks_pvalue_bounds``, ``wasserstein_bounds`` and ``wasserstein_scaled_bounds`` hold the exact
    values; ``ks_error_bound`` and ``wasserstein_error_bound`` are the farthest the reported value
    may be from the exact one. PSI is defined on the reference's decile bins, so it is exact either way.
    """
    ref_n, cur_n = int(ref_col.get("count") or 0), int(cur_col.get("count") or 0)
    scale, basis = _spread(ref_col)
    out = {
        "ks_statistic": None,
        "ks_pvalue": None,
        "ks_error_bound": None,
        "psi": None,
        "wasserstein": None,
        "wasserstein_scaled": None,
        "scale": scale,
        "scale_basis": basis,
        "ref_count": ref_n,
        "cur_count": cur_n,
    }
    if ref_n == 0 or cur_n == 0:
        return out
    _same_edges("edges", ref_col["edges"], cur_col["edges"])
    _same_edges("psi_edges", ref_col["psi_edges"], cur_col["psi_edges"])
    ref_values, cur_values = column_values(ref_col), column_values(cur_col)
    exact = ref_values is not None and cur_values is not None and ref_values.size and cur_values.size
    if exact:
        out.update(bounds.exact_numeric(ref_values, cur_values), ks_error_bound=0.0, wasserstein_error_bound=0.0)
    else:
        d, p = ks_from_histograms(ref_col["hist"], cur_col["hist"])
        extremes = {"ref_min": ref_col["min"], "ref_max": ref_col["max"]}
        extremes.update(cur_min=cur_col["min"], cur_max=cur_col["max"])
        w = wasserstein_from_histograms(
            ref_col["edges"],
            ref_col["hist"],
            cur_col["hist"],
            **extremes,
            ref_mean=ref_col.get("mean"),
            cur_mean=cur_col.get("mean"),
        )
        tails = {"ref_tails": bounds.column_tails(ref_col), "cur_tails": bounds.column_tails(cur_col)}
        w_low, w_high = bounds.wasserstein_bounds(
            ref_col["edges"], ref_col["hist"], cur_col["hist"], **extremes, **tails
        )
        w = min(max(w, w_low), w_high)
        error = ks_error_bound(ref_col["hist"], cur_col["hist"])
        out.update(ks_statistic=d, ks_pvalue=p, ks_error_bound=error, wasserstein=w)
        out.update(bounds.ks_bounds(d, p, error, ref_n, cur_n))
        out.update(wasserstein_bounds=[w_low, w_high], wasserstein_error_bound=max(w - w_low, w_high - w))
    if not exact and ref_col.get(UNAVAILABLE):  # a reference whose value file could not be read
        out["exact_unavailable"] = ref_col[UNAVAILABLE]
    w = out["wasserstein"]
    out.update(
        exact=bool(exact),
        psi=psi(ref_col["psi_hist"], cur_col["psi_hist"]),
        wasserstein_scaled=w / scale,
        wasserstein_scaled_bounds=[b / scale for b in out["wasserstein_bounds"]],
        wasserstein_scaled_error_bound=out["wasserstein_error_bound"] / scale,
    )
    finite = [w, w / scale, out["wasserstein_error_bound"] / scale, *out["wasserstein_scaled_bounds"]]
    if not all(math.isfinite(v) for v in finite):  # values near the float limit (±1.7e308)
        out.update(
            wasserstein=None,
            wasserstein_scaled=None,
            wasserstein_bounds=None,
            wasserstein_scaled_bounds=None,
            wasserstein_error_bound=None,
            wasserstein_scaled_error_bound=None,
            null_reasons={"wasserstein": "beyond the float range"},
        )
    return out
