"""Agreement between labellers: Cohen's kappa (two labellers, the same items), Fleiss' kappa (a fixed
number of labellers per item) and Krippendorff's alpha (nominal; labellers who saw different subsets).

Undefined cases (every answer the same label, so chance agreement is 1) give NaN, as scikit-learn's
cohen_kappa_score and the `krippendorff` package do.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

__all__ = ["cohen_kappa", "fleiss_kappa", "krippendorff_alpha"]


def cohen_kappa(a: Sequence[str], b: Sequence[str]) -> float:
    """Cohen's kappa of two labellers' answers on the same items (sklearn's cohen_kappa_score)."""
    a = np.asarray(a, dtype=object).astype(str)
    b = np.asarray(b, dtype=object).astype(str)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError("b: needs one answer per item of a")
    if not len(a):
        raise ValueError("a: no items")
    labels, codes = np.unique(np.concatenate([a, b]), return_inverse=True)
    k = len(labels)
    confusion = np.bincount(codes[: len(a)] * k + codes[len(a) :], minlength=k * k).reshape(k, k).astype(float)
    total = confusion.sum()
    observed = np.trace(confusion) / total
    expected = float(confusion.sum(axis=1) @ confusion.sum(axis=0)) / total**2
    if expected >= 1:
        return math.nan
    return float((observed - expected) / (1 - expected))


def fleiss_kappa(table: np.ndarray) -> float:
    """Fleiss' kappa of an items x categories table of counts, the same number of raters per item."""
    t = np.asarray(table, dtype=np.float64)
    if t.ndim != 2 or t.shape[0] < 1 or t.shape[1] < 1:
        raise ValueError("table: must be a 2-D items x categories table")
    if (t < 0).any() or not np.all(np.mod(t, 1) == 0):
        raise ValueError("table: counts must be whole numbers >= 0")
    raters = t.sum(axis=1)
    if not np.all(raters == raters[0]):
        raise ValueError("table: every item needs the same number of raters")
    n = raters[0]
    if n < 2:
        raise ValueError("table: needs at least 2 raters per item")
    p_j = t.sum(axis=0) / t.sum()
    p_i = ((t * t).sum(axis=1) - n) / (n * (n - 1))
    p_bar, p_e = p_i.mean(), float((p_j**2).sum())
    if p_e >= 1:
        return math.nan
    return float((p_bar - p_e) / (1 - p_e))


def krippendorff_alpha(answers: list[dict[str, str]]) -> float:
    """Nominal Krippendorff's alpha of answers per item ({labeller: label}), the `krippendorff` package's."""
    if not isinstance(answers, (list, tuple)) or not all(isinstance(item, dict) for item in answers):
        raise ValueError("answers: must be a list of {labeller: label} per item")
    labellers = sorted({str(who) for item in answers for who in item})
    values = sorted({str(label) for item in answers for label in item.values()})
    if len(values) < 2:
        return math.nan
    import krippendorff

    code = {v: i for i, v in enumerate(values)}
    row = {who: i for i, who in enumerate(labellers)}
    data = np.full((len(labellers), len(answers)), np.nan)
    for j, item in enumerate(answers):
        for who, label in item.items():
            data[row[str(who)], j] = code[str(label)]
    # items with fewer than two answers are not pairable and carry no information on agreement
    pairable = (~np.isnan(data)).sum(axis=0) >= 2
    if not pairable.any():
        return math.nan
    data = data[:, pairable]
    if len(np.unique(data[~np.isnan(data)])) < 2:
        return math.nan
    return float(
        krippendorff.alpha(reliability_data=data, level_of_measurement="nominal", value_domain=list(range(len(values))))
    )
