"""Drift statistics computed from profiles (count vectors), never from raw rows.

Everything here consumes the count vectors of docs/audit-profile-format.md: a numeric column carries
`hist` on the REFERENCE's fine quantile `edges` (≤ 999 inner edges) and `psi_hist` on the
reference's decile `psi_edges`; a categorical column carries `counts` (value → count) plus `other`.
A batch is profiled on the reference's edges, so reference and current vectors line up bin by bin.
The numeric statistics (KS, PSI, Wasserstein, numeric_drift) are in drift_numeric.py, re-exported here.

Two kinds of numbers come out, and they are used differently (see checks.drift_findings):

* p-values (KS, chi-squared) answer "could these two samples come from one distribution?". At
  100,000 rows a shift nobody cares about is "significant", so p-values never set the status;
  checks use them only to rule out sampling noise in small batches.
* effect sizes (PSI, Jensen-Shannon distance, Wasserstein scaled by the reference's spread) answer
  "how far did it move?" and decide a finding's status.

Pure Python + numpy/scipy; no Django.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from . import bounds
from .bounds import KS_EXACT_MAX_EN
from .drift_numeric import (  # noqa: F401 (re-exported: the numeric statistics live there)
    _counts,
    _pair,
    bin_positions,
    ks_error_bound,
    ks_from_histograms,
    numeric_drift,
    psi,
    wasserstein_error_bound,
    wasserstein_from_histograms,
)

RARE = "(rare)"
OTHER = "(other)"

__all__ = [
    "RARE",
    "OTHER",
    "KS_EXACT_MAX_EN",
    "ks_from_histograms",
    "ks_error_bound",
    "psi",
    "bin_positions",
    "wasserstein_from_histograms",
    "wasserstein_error_bound",
    "homogeneity_table",
    "chi2_homogeneity",
    "jensen_shannon",
    "category_counts",
    "numeric_drift",
    "categorical_drift",
]


_scipy_stats = bounds._stats  # scipy.stats, imported on first use


# --------------------------------------------------------------------------------------------
# Categorical: chi-squared homogeneity, Jensen-Shannon
# --------------------------------------------------------------------------------------------


def homogeneity_table(
    ref_counts: Mapping[str, int], cur_counts: Mapping[str, int], *, min_expected: float = 5
) -> tuple[list[str], np.ndarray]:
    """The 2 x k contingency table (row 0 = reference, row 1 = current) that
    :func:`chi2_homogeneity` tests, with its column labels.

    Columns are the union of both samples' categories (zero counts dropped), most frequent first.
    Pooling rule: the expected count of a cell is row total x column total / grand total; while the
    smallest column has an expected count below ``min_expected`` in either row, it is folded into one
    ``"(rare)"`` column (kept last), and if ``"(rare)"`` itself is still below ``min_expected`` the
    next-smallest column joins it. So every column of the table meets the usual chi-squared
    validity rule, unless only one column is left (then the test has 0 degrees of freedom).
    """
    cats = {str(k) for k, v in ref_counts.items() if v} | {str(k) for k, v in cur_counts.items() if v}
    ref = {str(k): int(v) for k, v in ref_counts.items()}
    cur = {str(k): int(v) for k, v in cur_counts.items()}
    cols = sorted(cats, key=lambda c: (-(ref.get(c, 0) + cur.get(c, 0)), c))
    n, m = sum(ref.get(c, 0) for c in cols), sum(cur.get(c, 0) for c in cols)
    total = n + m
    small_row = min(n, m)

    def min_exp(col_total: float) -> float:
        return small_row * col_total / total if total else 0.0

    kept = list(cols)
    rare_r = rare_c = 0
    rare_labels: list[str] = []
    while kept:
        smallest = kept[-1]
        col_total = ref.get(smallest, 0) + cur.get(smallest, 0)
        rare_low = bool(rare_labels) and min_exp(rare_r + rare_c) < min_expected
        if min_exp(col_total) >= min_expected and not rare_low:
            break
        if len(kept) == 1 and not rare_labels:
            break  # a single column: nothing to pool it with
        kept.pop()
        rare_labels.append(smallest)
        rare_r += ref.get(smallest, 0)
        rare_c += cur.get(smallest, 0)
    labels = list(kept)
    rows = [[ref.get(c, 0) for c in kept], [cur.get(c, 0) for c in kept]]
    if rare_labels:
        labels.append(RARE)
        rows[0].append(rare_r)
        rows[1].append(rare_c)
    return labels, np.array(rows, dtype=np.int64).reshape(2, len(labels))


def chi2_homogeneity(
    ref_counts: Mapping[str, int], cur_counts: Mapping[str, int], *, min_expected: float = 5
) -> tuple[float, float, int]:
    """Chi-squared test of HOMOGENEITY: do the reference and the current batch come from the same
    categorical distribution? Returns (statistic, p-value, degrees of freedom).

    Both samples are random, so the test is on the 2 x k contingency table (reference row, current
    row; see :func:`homogeneity_table` for how rare categories are pooled into ``"(rare)"``), with
    k - 1 degrees of freedom. It equals ``scipy.stats.chi2_contingency(table, correction=False)``.

    It is NOT the goodness-of-fit test ``chisquare(cur, f_exp=ref scaled to cur's size)``: that
    treats the reference shares as exact and ignores the reference's own sampling noise, so on two
    samples of the same distribution of equal size the statistic is about twice what it should be
    and "drift" is flagged far more often than alpha (tests/audits/test_calibration.py shows it).

    With no data on one side, or a single column after pooling: (0.0, 1.0, 0).
    """
    labels, table = homogeneity_table(ref_counts, cur_counts, min_expected=min_expected)
    if table.shape[1] < 2 or table[0].sum() == 0 or table[1].sum() == 0:
        return 0.0, 1.0, 0
    res = _scipy_stats().chi2_contingency(table, correction=False)
    return float(res.statistic), float(res.pvalue), int(res.dof)


def jensen_shannon(ref_counts: Mapping[str, int], cur_counts: Mapping[str, int]) -> float:
    """Jensen-Shannon DISTANCE in base 2 (the square root of the JS divergence), in [0, 1]: 0 for
    identical shares, 1 for disjoint supports. Same value as
    ``scipy.spatial.distance.jensenshannon(p, q, base=2)`` over the union of the categories.
    Empty samples give 0.0.
    """
    cats = sorted({str(k) for k in ref_counts} | {str(k) for k in cur_counts})
    ref = {str(k): float(v) for k, v in ref_counts.items()}
    cur = {str(k): float(v) for k, v in cur_counts.items()}
    p = np.array([ref.get(c, 0.0) for c in cats])
    q = np.array([cur.get(c, 0.0) for c in cats])
    if p.sum() == 0 or q.sum() == 0:
        return 0.0
    p, q = p / p.sum(), q / q.sum()
    mid = (p + q) / 2.0
    with np.errstate(divide="ignore", invalid="ignore"):
        kl_p = np.where(p > 0, p * np.log2(p / mid), 0.0).sum()
        kl_q = np.where(q > 0, q * np.log2(q / mid), 0.0).sum()
    div = max((kl_p + kl_q) / 2.0, 0.0)
    return float(min(math.sqrt(div), 1.0))


def category_counts(col: Mapping) -> dict[str, int]:
    """A categorical profile's counts, with rows folded beyond the profile's capacity as
    ``"(other)"`` (they are real rows whose values we no longer know)."""
    counts = {str(k): int(v) for k, v in (col.get("counts") or {}).items() if v}
    if col.get("other"):
        counts[OTHER] = counts.get(OTHER, 0) + int(col["other"])
    return counts


def categorical_drift(ref_col: Mapping, cur_col: Mapping, *, min_expected: float = 5) -> dict:
    """Drift statistics of one categorical column.

    Returns ``{"chi2", "chi2_pvalue", "dof", "psi", "jensen_shannon", "new_categories",
    "missing_categories", "ref_count", "cur_count"}``. PSI runs over the union of the categories (a new
    category has reference share 0, floored at epsilon, so it weighs in); ``new_categories`` are the
    current values never seen in the reference, most frequent first, and ``missing_categories`` the
    reference values absent from the batch, most frequent first.
    """
    ref, cur = category_counts(ref_col), category_counts(cur_col)
    cats = sorted(set(ref) | set(cur))
    chi2, p, dof = chi2_homogeneity(ref, cur, min_expected=min_expected)
    new = sorted((c for c in cur if c not in ref and c != OTHER), key=lambda c: (-cur[c], c))
    missing = sorted((c for c in ref if c not in cur and c != OTHER), key=lambda c: (-ref[c], c))
    return {
        "chi2": chi2,
        "chi2_pvalue": p,
        "dof": dof,
        "psi": psi([ref.get(c, 0) for c in cats], [cur.get(c, 0) for c in cats]) if cats else 0.0,
        "jensen_shannon": jensen_shannon(ref, cur),
        "new_categories": new,
        "missing_categories": missing,
        "ref_count": sum(ref.values()),
        "cur_count": sum(cur.values()),
    }
