"""Exact two-sample statistics from kept values, and the intervals that hold the exact values when only
bins are known.

The rule (drift.numeric_drift): when both profiles keep their column's values (at most
profile.exact_values_max() each, 300,000 by default: KEEL_EXACT_DRIFT_MAX_VALUES), KS D, its p-value
and the Wasserstein distance are scipy's on the raw values and their error is 0. Otherwise they come
from the histograms on the reference's fine bins, and each is reported with the interval that
certainly holds the exact value:

* KS D: the empirical CDFs are known at every bin edge and rise monotonically inside a bin, so
  D_binned <= D <= D_binned + the largest share of either sample in one bin.
* KS p-value: decreasing in D, so it lies between p(D_high) and p(D_binned).
* Wasserstein-1 = integral of |F_ref - F_cur| over x. Inside a bin [a, b] (outer bins bounded by the
  samples' observed min and max) both CDFs are monotone between their values at a and b, so the
  integral over the bin lies between (b - a) times the gap between the two CDFs' ranges (0 when they
  overlap) and (b - a) times the largest difference their ends allow.
  With both sides' kept tails (TAIL_VALUES smallest and largest values), the bins beyond the edges
  within which both tails are complete contribute exactly instead: on heavy-tailed data those wide
  outer bins were nearly all of the interval (tests/audits/test_exact_reach.py states the figures).

Pure numpy/scipy; no Django.
"""

from __future__ import annotations

import base64
import math

import numpy as np

__all__ = [
    "TAIL_VALUES",
    "column_tails",
    "column_values",
    "exact_numeric",
    "ks_bounds",
    "ks_pvalue",
    "wasserstein_bounds",
]

# Above this effective size n*m/(n+m), scipy's kstwo.sf costs ~2 s a call (at 500,000) whenever
# p < 0.03; the Kolmogorov limit kstwobign.sf(D*sqrt(en)) is then within 0.5 % of it (relative)
# for every p above 1e-14 and costs microseconds.
KS_EXACT_MAX_EN = 100_000

# A numeric column that keeps no values keeps this many of its smallest and of its largest (float64):
# on heavy-tailed data the outer bins, wide up to a lone extreme, are nearly all of Wasserstein's
# interval, and with the tails known their share is exact. 2 x 16 KB per column, beside the JSON.
TAIL_VALUES = 10_000

# Set on the columns of a reference whose value file could not be read (profile/kept.py): drift says
# why its figures are binned.
UNAVAILABLE = "values_unavailable"


def _stats():
    # Imported on first use: loading scipy.stats costs ~1.5 s, a quarter of a 1M-row audit process.
    from scipy import stats

    return stats


def column_values(column_profile: dict) -> np.ndarray | None:
    """A numeric column's sorted finite values when its profile keeps them (at most
    profile.exact_values_max()), an empty array for a column without values, else None. The values are
    an array (profile/kept.py), or base64 text of float64 in a profile stored before or sent between
    workers."""
    kept = column_profile.get("values")
    if kept is None:
        return np.empty(0, dtype=np.float64) if not column_profile.get("count") else None
    if isinstance(kept, np.ndarray):
        return kept
    return np.frombuffer(base64.b64decode(kept), dtype="<f8").astype(np.float64)


def ks_pvalue(d: float, n: float, m: float) -> float:
    """The two-sided asymptotic p-value of ``scipy.stats.ks_2samp(method="asymp")``:
    ``kstwo.sf(D, round(n*m/(n+m)))``, the Kolmogorov limit beyond KS_EXACT_MAX_EN."""
    big, small = max(n, m), min(n, m)
    en = big * small / (big + small)
    if np.round(en) <= KS_EXACT_MAX_EN:
        p = _stats().kstwo.sf(d, np.round(en))
    else:
        p = _stats().kstwobign.sf(d * math.sqrt(en))
    return float(np.clip(p, 0.0, 1.0))


def _sorted(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    return x if x.size < 2 or not np.any(x[1:] < x[:-1]) else np.sort(x)


def exact_numeric(ref_values: np.ndarray, cur_values: np.ndarray) -> dict:
    """KS D, its asymptotic p-value and the Wasserstein distance of two raw samples.

    D and W are ``scipy.stats.ks_2samp``'s and ``scipy.stats.wasserstein_distance``'s, computed as
    scipy does (both CDFs at every pooled value, W = sum |F - G| x the gaps between them) but in one
    pass on the already sorted kept values: scipy sorts again and its p-value, kstwo.sf, costs
    ~0.5 s a column at 300,000 a side. The p-value is ks_pvalue's: scipy's ``method="asymp"`` up to
    an effective size of KS_EXACT_MAX_EN, the Kolmogorov limit beyond (within 0.5 % of it)."""
    a, b = _sorted(ref_values), _sorted(cur_values)
    pooled = np.concatenate((a, b))
    pooled.sort(kind="stable")  # two sorted runs: a linear merge
    f = np.searchsorted(a, pooled, side="right") / a.size
    g = np.searchsorted(b, pooled, side="right") / b.size
    diff = np.abs(f - g)
    d = float(diff.max())
    with np.errstate(over="ignore", invalid="ignore"):
        w = float(np.sum(diff[:-1] * np.diff(pooled)))
    p = ks_pvalue(d, a.size, b.size)
    return {
        "ks_statistic": d,
        "ks_pvalue": p,
        "ks_statistic_bounds": [d, d],
        "ks_pvalue_bounds": [p, p],
        "wasserstein": w,
        "wasserstein_bounds": [w, w],
    }


def ks_bounds(d: float, p: float, error: float, n: float, m: float) -> dict:
    """The intervals that hold the exact KS D and its p-value, given the binned D, its p-value and
    D's error. Below a p-value of 0.001 the lower end is 0: scipy's kstwo.sf costs up to half a
    second a call there, and no reading of the test changes between 0 and 0.001."""
    high = min(d + error, 1.0)
    low_p = p if error == 0 else 0.0 if p < 1e-3 else min(ks_pvalue(high, n, m), p)
    return {"ks_statistic_bounds": [d, high], "ks_pvalue_bounds": [low_p, p]}


def column_tails(column_profile: dict) -> tuple[np.ndarray, np.ndarray] | None:
    """(smallest, largest) values a numeric column keeps when it keeps no values (profile/kept.py,
    at most TAIL_VALUES each, sorted); derived from the values when it keeps them; None when neither."""
    values = column_profile.get("values")
    if values is not None:
        xs = column_values(column_profile)
        return xs[:TAIL_VALUES], xs[-TAIL_VALUES:]
    low, high = column_profile.get("tail_low"), column_profile.get("tail_high")
    if not column_profile.get("count"):
        return np.empty(0, dtype=np.float64), np.empty(0, dtype=np.float64)
    if low is None or high is None:
        return None
    return _as_array(low), _as_array(high)


def _as_array(kept) -> np.ndarray:
    if isinstance(kept, np.ndarray):
        return kept
    return np.frombuffer(base64.b64decode(kept), dtype="<f8").astype(np.float64)


def _region_integral(xr, xc, n: float, m: float, a: float, b: float, *, upper: bool) -> float:
    """Integral of |F - G| over [a, b] where every value of either sample above a (upper) or below b
    (lower) is among xr / xc (sorted): there the CDFs are known exactly, as step functions."""
    if not b > a:
        return 0.0
    inside = [x[(x > a) & (x < b)] for x in (xr, xc)]
    points = np.unique(np.concatenate(([a, b], *inside)))
    left = points[:-1]
    if upper:  # F(x) = 1 - #(values > x) / n
        f = 1.0 - (xr.size - np.searchsorted(xr, left, side="right")) / n
        g = 1.0 - (xc.size - np.searchsorted(xc, left, side="right")) / m
    else:  # F(x) = #(values <= x) / n, every such value in the kept tail
        f = np.searchsorted(xr, left, side="right") / n
        g = np.searchsorted(xc, left, side="right") / m
    with np.errstate(over="ignore", invalid="ignore"):
        return float((np.diff(points) * np.abs(f - g)).sum())


def wasserstein_bounds(
    edges,
    ref_counts,
    cur_counts,
    *,
    ref_min: float,
    ref_max: float,
    cur_min: float,
    cur_max: float,
    ref_tails: tuple[np.ndarray, np.ndarray] | None = None,
    cur_tails: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[float, float]:
    """[low, high] holding the Wasserstein-1 distance of any two samples with these histograms and
    observed extremes (see the module's docstring).

    With both samples' kept tails (their TAIL_VALUES smallest and largest values), the bins wholly
    beyond the last edge below which both tails are complete (and below the first edge above which
    both lower tails are) contribute their exact share instead of an interval: on heavy-tailed data
    those few wide outer bins are nearly all of the interval's width."""
    ref, cur = np.asarray(ref_counts, dtype=float), np.asarray(cur_counts, dtype=float)
    n, m = ref.sum(), cur.sum()
    if n == 0 or m == 0:
        return 0.0, 0.0
    lo, hi = min(ref_min, cur_min), max(ref_max, cur_max)
    edges = np.asarray(edges, dtype=float)
    lower = np.clip(np.concatenate(([lo], edges)), lo, hi)
    upper = np.clip(np.concatenate((edges, [hi])), lo, hi)
    with np.errstate(over="ignore", invalid="ignore"):
        width = np.maximum(upper - lower, 0.0)
    f_hi, g_hi = np.cumsum(ref) / n, np.cumsum(cur) / m
    f_lo, g_lo = f_hi - ref / n, g_hi - cur / m
    gap = np.maximum(np.maximum(f_lo - g_hi, g_lo - f_hi), 0.0)
    widest = np.maximum(np.abs(f_hi - g_lo), np.abs(g_hi - f_lo))
    exact = 0.0
    binned = np.ones(width.size, dtype=bool)
    if ref_tails is not None and cur_tails is not None and edges.size:
        (r_low, r_high), (c_low, c_high) = ref_tails, cur_tails
        # Values above t (below s) are all kept: t is the first edge at or above both tails' least
        # value, s the last edge at or below both lower tails' greatest.
        t_i = (
            int(np.searchsorted(edges, max(r_high[0], c_high[0]), side="left"))
            if r_high.size and c_high.size
            else edges.size
        )
        s_i = (
            int(np.searchsorted(edges, min(r_low[-1], c_low[-1]), side="right")) - 1
            if r_low.size and c_low.size
            else -1
        )
        if s_i >= t_i:  # the tails cover everything: no bin left in between
            s_i = t_i - 1
        if t_i < edges.size:
            t = float(np.clip(edges[t_i], lo, hi))
            exact += _region_integral(r_high, c_high, n, m, t, hi, upper=True)
            binned[t_i + 1 :] = False  # bin i spans (edges[i-1], edges[i]]: bins after t_i lie above t
        if s_i >= 0:
            s = float(np.clip(edges[s_i], lo, hi))
            exact += _region_integral(r_low, c_low, n, m, lo, s, upper=False)
            binned[: s_i + 1] = False
    with np.errstate(over="ignore", invalid="ignore"):
        low = float((width * gap)[binned].sum()) + exact
        high = float((width * widest)[binned].sum()) + exact
    return low, high
