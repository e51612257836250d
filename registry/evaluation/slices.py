"""The primary metric per slice of the hold-out (each value of a slicing column), for both models,
and the gap between the best and the worst slice."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .metrics import HIGHER_IS_BETTER, MULTICLASS, _check_task, _num, _resolve_classes, metrics_for

__all__ = [
    "MISSING_SLICE",
    "MAX_SLICES",
    "slice_metrics",
]


MISSING_SLICE = "(missing)"
MAX_SLICES = 50


def _slice_labels(values: pd.Series) -> pd.Series:
    labels = values.astype(object).map(str)
    return labels.where(values.notna(), MISSING_SLICE)


def _subset(values, mask):
    return None if values is None else np.asarray(values)[mask]


def slice_metrics(
    task_type,
    frame: pd.DataFrame,
    y_true,
    candidate,
    production=None,
    *,
    columns,
    metric,
    threshold=None,
    production_threshold=None,
    min_rows=50,
    classes=None,
    groups=None,
    k=10,
) -> dict:
    """``metric`` per value of each column, candidate next to production, to spot who gets hurt.

    Returns {column: {"slices": [...], "gap", "worst", "metric", "min_rows"}} for each of
    ``columns`` present in ``frame``. Nulls form the slice "(missing)"; at most 50 slices per
    column (the largest). gap and worst only consider slices with ≥ ``min_rows`` rows and a
    defined candidate metric — a 3-row slice's metric is noise, not evidence; worst is the slice
    with the worst candidate value (direction-aware).
    """
    _check_task(task_type)
    if metric not in HIGHER_IS_BETTER:
        raise ValueError(f"Unknown metric {metric!r} for slices.")
    y_true = np.asarray(y_true)
    if task_type == MULTICLASS:
        classes = _resolve_classes(y_true, classes)  # a slice may miss classes; columns may not shift

    def value(scores, mask, cut):
        if scores is None:
            return None
        found = metrics_for(
            task_type,
            y_true[mask],
            _subset(scores, mask),
            threshold=cut,
            classes=classes,
            groups=_subset(groups, mask),
            k=k,
        )
        return found.get(metric)

    result = {}
    for column in columns:
        if column not in frame.columns:
            continue
        labels = _slice_labels(frame[column]).to_numpy()
        sizes = pd.Series(labels).value_counts(sort=False)
        sizes = sizes.iloc[np.lexsort((sizes.index.to_numpy(dtype=str), -sizes.to_numpy()))][:MAX_SLICES]
        slices = []
        for label, rows in sizes.items():
            mask = labels == label
            slices.append(
                {
                    "value": str(label),
                    "rows": int(rows),
                    "candidate": value(candidate, mask, threshold),
                    "production": value(production, mask, production_threshold),
                }
            )
        result[column] = {**_gap(slices, metric, min_rows), "slices": slices, "metric": metric, "min_rows": min_rows}
    return result


def _gap(slices: list[dict], metric: str, min_rows: int) -> dict:
    eligible = [s for s in slices if s["rows"] >= min_rows and s["candidate"] is not None]
    if not eligible:
        return {"gap": None, "worst": None}
    values = [s["candidate"] for s in eligible]
    pick = min if HIGHER_IS_BETTER[metric] else max
    worst = pick(eligible, key=lambda s: s["candidate"])
    return {"gap": _num(max(values) - min(values)), "worst": worst["value"]}
