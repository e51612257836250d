"""Error patterns: the feature values over-represented among a model's errors, from settled
relabelling items. Each categorical value, and each quantile bin of a numeric column, is one segment;
a one-sided Fisher exact test (the hypergeometric tail) asks whether its errors are more than its
share of items explains, and Benjamini–Hochberg across every segment tested keeps the share of false
findings among those reported at `alpha`. Pure pandas/scipy; no Django."""

import numpy as np
import pandas as pd
from scipy.stats import hypergeom

__all__ = ["PATTERN_COLUMNS", "MISSING", "benjamini_hochberg", "error_patterns"]

MISSING = "(missing)"
PATTERN_COLUMNS = ["column", "value", "items", "errors", "error_share", "lift", "p_value", "q_value"]


def benjamini_hochberg(p_values) -> np.ndarray:
    """Benjamini–Hochberg adjusted p-values (q-values), in the input's order."""
    p = np.asarray(p_values, dtype=float)
    m = len(p)
    if m == 0:
        return p
    order = np.argsort(p)
    ranked = p[order] * m / np.arange(1, m + 1)
    # The step-up rule: each q is the smallest adjusted p at or after its rank.
    ranked = np.minimum.accumulate(ranked[::-1])[::-1]
    q = np.empty(m)
    q[order] = np.minimum(ranked, 1.0)
    return q


def _segments(values: pd.Series, bins: int) -> pd.Series:
    """Each row's segment of one column, as text: the value itself, or a numeric column's quantile bin."""
    numeric = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
    if numeric and values.nunique(dropna=True) > bins:
        cut = pd.qcut(values, q=bins, duplicates="drop")
        return cut.astype(str).where(cut.notna(), MISSING)
    return values.astype(object).where(values.notna(), MISSING).astype(str)


def error_patterns(
    features: pd.DataFrame, wrong, *, alpha: float = 0.05, bins: int = 4, min_items: int = 5
) -> pd.DataFrame:
    """The segments whose share of errors is significantly above the rest's (one-sided Fisher exact,
    BH-corrected at `alpha`), most significant first. `wrong[i]` says whether row i's prediction was
    wrong. Segments of fewer than `min_items` rows are not tested (they cannot be significant and
    would only dilute the correction)."""
    if not 0 < alpha < 1:
        raise ValueError("alpha: must be in (0, 1)")
    wrong = np.asarray(wrong, dtype=bool)
    if len(wrong) != len(features):
        raise ValueError("wrong: one flag per row of features")
    total, total_errors = len(wrong), int(wrong.sum())
    empty = pd.DataFrame(columns=PATTERN_COLUMNS)
    if total == 0 or total_errors in (0, total):
        return empty  # nothing to contrast: every prediction right, or every one wrong
    rows = []
    for column in features.columns:
        segments = _segments(features[column].reset_index(drop=True), bins).to_numpy(dtype=str)
        values, index = np.unique(segments, return_inverse=True)
        sizes, error_counts = np.bincount(index), np.bincount(index, weights=wrong)
        for value, items, errors in zip(values, sizes, error_counts):
            if items < min_items or items == total:
                continue
            rows.append((str(column), str(value), int(items), int(errors)))
    if not rows:
        return empty
    table = pd.DataFrame(rows, columns=["column", "value", "items", "errors"])
    # P(X >= errors) for X ~ Hypergeometric(total, total_errors, items): Fisher's one-sided test.
    table["p_value"] = hypergeom.sf(table["errors"] - 1, total, total_errors, table["items"])
    table["q_value"] = benjamini_hochberg(table["p_value"])
    table["error_share"] = table["errors"] / table["items"]
    table["lift"] = table["error_share"] / (total_errors / total)
    found = table[table["q_value"] <= alpha].sort_values(["q_value", "lift"], ascending=[True, False])
    return found[PATTERN_COLUMNS].reset_index(drop=True)
