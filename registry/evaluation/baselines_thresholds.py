"""What a model must beat (a baseline that knows nothing of the features) and the decision threshold
learned on the hold-out under the policy's rule."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn import metrics as skm

from .metrics import BINARY, MULTICLASS, REGRESSION, _as_1d, _check_rows, _check_task, _num, _resolve_classes

__all__ = [
    "THRESHOLD_RULES",
    "baseline_scores",
    "learn_threshold",
]


THRESHOLD_RULES = ("max_f1", "min_recall", "min_precision", "keep")


def baseline_scores(
    task_type, y_true, *, classes=None, groups=None, reference_y=None, items=None, reference_items=None
) -> np.ndarray:
    """Scores of a naive model on the same rows: the bar a candidate must clear to be worth it.

    The statistics come from ``reference_y`` (e.g. the training labels) when given, else from
    ``y_true`` itself — a baseline fitted on the evaluation rows is slightly optimistic, which
    makes "beats the baseline" a stricter check, never a looser one.

    * binary: constant prevalence (roc_auc 0.5, pr_auc = prevalence).
    * multiclass: every row gets the class frequencies (in ``classes`` order).
    * regression: constant mean.
    * ranking: popularity — with ``items`` (item id per row), an item's score is how often it is
      relevant (y > 0) in the reference rows (``reference_items``/``reference_y`` when both are
      given, else ``items``/``y_true``); unseen items score 0. Without items, a constant 0.
      ``groups`` is accepted for symmetry with ``metrics_for``; popularity ignores queries.
    """
    _check_task(task_type)
    y_true = _as_1d(y_true, "y_true")
    n_rows = len(y_true)
    reference = y_true if reference_y is None else _as_1d(reference_y, "reference_y")
    if task_type == BINARY:
        return np.full(n_rows, float(np.mean(reference.astype(float))))
    if task_type == MULTICLASS:
        labels = _resolve_classes(reference, classes)
        frequencies = np.array([np.mean(reference == label) for label in labels], dtype=float)
        return np.tile(frequencies, (n_rows, 1))
    if task_type == REGRESSION:
        return np.full(n_rows, float(np.mean(reference.astype(float))))
    return _popularity_scores(y_true, items, reference_y, reference_items)


def _popularity_scores(y_true, items, reference_y, reference_items) -> np.ndarray:
    if items is None:
        return np.zeros(len(y_true))
    items = _as_1d(items, "items")
    if reference_y is not None and reference_items is not None:
        ref_items, ref_y = _as_1d(reference_items, "reference_items"), _as_1d(reference_y, "reference_y")
    else:
        ref_items, ref_y = items, y_true
    counts = pd.Series(ref_y.astype(float) > 0).groupby(pd.Series(ref_items)).sum()
    return pd.Series(items).map(counts).fillna(0.0).to_numpy(dtype=float)


def learn_threshold(y_true, scores, rule, target=None) -> dict:
    """Pick the decision threshold of a binary model by a policy rule.

    The threshold is always one of the scores, so ``scores >= threshold`` reproduces the
    reported precision/recall exactly.

    * ``max_f1``: the threshold with the best F1 (ties: the higher threshold).
    * ``min_recall``: the HIGHEST threshold with recall >= target — the fewest false positives
      that still catch enough positives.
    * ``min_precision``: the LOWEST threshold with precision >= target — the most positives
      caught while the alarms stay trustworthy enough.
    * ``keep``: no learning; threshold None, met True — the caller keeps the version's own.

    When the target cannot be met, ``met`` is False and the threshold is the best effort: for
    min_recall the one with the highest recall, for min_precision the one with the highest
    precision (ties: the higher recall). With no positive in ``y_true`` nothing can be learned:
    met False and threshold/precision/recall/f1 None.
    """
    if rule not in THRESHOLD_RULES:
        raise ValueError(f"Unknown threshold rule {rule!r}; expected one of {', '.join(THRESHOLD_RULES)}.")
    if rule in ("min_recall", "min_precision") and target is None:
        raise ValueError(f"Threshold rule {rule!r} needs a target.")
    result = {"rule": rule, "target": _num(target), "threshold": None, "precision": None, "recall": None, "f1": None}
    if rule == "keep":
        return {**result, "met": True}
    y = _as_1d(y_true, "y_true").astype(int)
    s = _as_1d(scores, "scores").astype(float)
    _check_rows(y, s)
    if not (y == 1).any():
        return {**result, "met": False}
    precision, recall, thresholds = skm.precision_recall_curve(y, s)
    precision, recall = precision[:-1], recall[:-1]  # the last point has no threshold
    f1 = _f1(precision, recall)
    index, met = _choose_threshold(rule, target, precision, recall, f1)
    return {
        **result,
        "threshold": float(thresholds[index]),
        "precision": _num(precision[index]),
        "recall": _num(recall[index]),
        "f1": _num(f1[index]),
        "met": bool(met),
    }


def _f1(precision: np.ndarray, recall: np.ndarray) -> np.ndarray:
    total = precision + recall
    return np.divide(2 * precision * recall, total, out=np.zeros_like(total), where=total > 0)


def _choose_threshold(rule, target, precision, recall, f1) -> tuple[int, bool]:
    """Index into the increasing thresholds of precision_recall_curve, and whether the rule is met."""
    if rule == "max_f1":
        return int(np.flatnonzero(f1 == f1.max())[-1]), True
    if rule == "min_recall":
        meeting = np.flatnonzero(recall >= target)
        if len(meeting):
            return int(meeting[-1]), True
        return int(np.flatnonzero(recall == recall.max())[-1]), False
    meeting = np.flatnonzero(precision >= target)
    if len(meeting):
        return int(meeting[0]), True
    return int(np.flatnonzero(precision == precision.max())[0]), False
