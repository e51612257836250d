"""Task types, metric directions, the input checks shared by every evaluation module, and the
metrics of one model's scores against the labels (``metrics_for``)."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
from sklearn import metrics as skm

__all__ = [
    "BINARY",
    "MULTICLASS",
    "REGRESSION",
    "RANKING",
    "TASK_TYPES",
    "HIGHER_IS_BETTER",
    "DESCRIPTIVE_METRICS",
    "PROBABILITY_CLIP",
    "DEFAULT_THRESHOLD",
    "metrics_for",
]


BINARY = "binary_classification"
MULTICLASS = "multiclass_classification"
REGRESSION = "regression"
RANKING = "ranking"
TASK_TYPES = (BINARY, MULTICLASS, REGRESSION, RANKING)

HIGHER_IS_BETTER: dict[str, bool] = {
    # binary
    "roc_auc": True,
    "pr_auc": True,
    "log_loss": False,
    "precision": True,
    "recall": True,
    "f1": True,
    "accuracy": True,
    "positive_rate": True,
    "prevalence": True,
    # multiclass (roc_auc, log_loss, accuracy above)
    "macro_f1": True,
    "macro_precision": True,
    "macro_recall": True,
    # regression
    "rmse": False,
    "mae": False,
    "r2": True,
    # ranking
    "ndcg_at_k": True,
    "recall_at_k": True,
    "k": True,
}
"""Direction of every key ``metrics_for`` returns, so comparisons never hard-code "bigger wins".
``DESCRIPTIVE_METRICS`` are listed too (so a lookup never raises) but describe the data or the
set-up rather than quality; ``policy_checks`` refuses them as a primary metric."""

DESCRIPTIVE_METRICS = frozenset({"positive_rate", "prevalence", "k"})

PROBABILITY_CLIP = 1e-15
"""Log loss clips probabilities to [1e-15, 1 - 1e-15] (sklearn's historical eps), so one
over-confident wrong row costs ~34.5 nats instead of infinity."""

DEFAULT_THRESHOLD = 0.5


def _num(value) -> float | None:
    """A JSON-safe float: numpy scalars become floats, NaN/inf/None become None."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _plain(value):
    """A numpy scalar (e.g. an id taken from an array) as the matching Python value."""
    return value.item() if isinstance(value, np.generic) else value


def _check_task(task_type: str) -> None:
    if task_type not in TASK_TYPES:
        raise ValueError(f"Unknown task type {task_type!r}; expected one of {', '.join(TASK_TYPES)}.")


def _as_1d(values, name: str) -> np.ndarray:
    array = np.asarray(values)
    if array.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {array.shape}.")
    return array


def _check_rows(y_true: np.ndarray, scores: np.ndarray) -> None:
    if len(y_true) == 0:
        raise ValueError("No rows to evaluate.")
    if len(y_true) != len(scores):
        raise ValueError(f"y_true has {len(y_true)} rows but scores has {len(scores)}.")


def _resolve_classes(y_true, classes) -> np.ndarray:
    return np.asarray(classes) if classes is not None else np.unique(np.asarray(y_true))


def _clipped_log_loss(y_true, probabilities, labels) -> float:
    clipped = np.clip(np.asarray(probabilities, dtype=float), PROBABILITY_CLIP, 1 - PROBABILITY_CLIP)
    with warnings.catch_warnings():
        # Multiclass rows that sum to 1 ± rounding trigger a UserWarning; the loss is still right.
        warnings.simplefilter("ignore", UserWarning)
        return float(skm.log_loss(y_true, clipped, labels=list(labels)))


def _rmse(y_true, predictions) -> float:
    return float(np.sqrt(skm.mean_squared_error(y_true, predictions)))


def _group_indices(groups, n_rows: int) -> list[np.ndarray]:
    """Row indices of each query, in order of first appearance. ``groups=None`` means one query."""
    if groups is None:
        return [np.arange(n_rows)]
    codes, _ = pd.factorize(pd.Series(_as_1d(groups, "groups")), use_na_sentinel=False)
    if len(codes) != n_rows:
        raise ValueError(f"groups has {len(codes)} rows but there are {n_rows} rows to evaluate.")
    order = np.argsort(codes, kind="stable")
    return np.split(order, np.flatnonzero(np.diff(codes[order])) + 1)


def metrics_for(task_type, y_true, scores, *, threshold=None, classes=None, groups=None, k=10) -> dict[str, float]:
    """Every metric of the task type on one set of rows, as JSON-safe floats (None = undefined).

    Binary: roc_auc and pr_auc are None when ``y_true`` holds a single class (a ranking metric
    needs both classes); the threshold metrics are still reported. Multiclass roc_auc is the
    one-vs-rest macro average over the classes that have both positives and negatives in
    ``y_true`` (sklearn's ``multi_class="ovr"`` when all are present, which sklearn refuses
    otherwise). Ranking: see ``_ranking_metrics``.
    """
    _check_task(task_type)
    y_true = np.asarray(y_true)
    scores = np.asarray(scores)
    _check_rows(y_true, scores)
    if task_type == BINARY:
        return _binary_metrics(y_true, scores, DEFAULT_THRESHOLD if threshold is None else threshold)
    if task_type == MULTICLASS:
        return _multiclass_metrics(y_true, scores, _resolve_classes(y_true, classes))
    if task_type == REGRESSION:
        return _regression_metrics(y_true, scores)
    return _ranking_metrics(y_true, scores, groups, k)


def _binary_metrics(y_true, scores, threshold) -> dict[str, float]:
    y = _as_1d(y_true, "y_true").astype(int)
    p = _as_1d(scores, "scores").astype(float)
    both_classes = len(np.unique(y)) == 2
    predicted = (p >= threshold).astype(int)
    return {
        "roc_auc": _num(skm.roc_auc_score(y, p)) if both_classes else None,
        "pr_auc": _num(skm.average_precision_score(y, p)) if both_classes else None,
        "log_loss": _num(_clipped_log_loss(y, p, labels=[0, 1])),
        "precision": _num(skm.precision_score(y, predicted, zero_division=0)),
        "recall": _num(skm.recall_score(y, predicted, zero_division=0)),
        "f1": _num(skm.f1_score(y, predicted, zero_division=0)),
        "accuracy": _num(skm.accuracy_score(y, predicted)),
        "positive_rate": _num(predicted.mean()),
        "prevalence": _num(y.mean()),
    }


def _ovr_macro_auc(y_true, probabilities, classes) -> float | None:
    aucs = []
    for column, label in enumerate(classes):
        is_class = y_true == label
        if 0 < is_class.sum() < len(y_true):
            aucs.append(skm.roc_auc_score(is_class, probabilities[:, column]))
    return _num(np.mean(aucs)) if aucs else None


def _multiclass_metrics(y_true, probabilities, classes) -> dict[str, float]:
    if probabilities.ndim != 2 or probabilities.shape[1] != len(classes):
        raise ValueError(
            f"Multiclass scores must be (rows, {len(classes)}) probabilities, one column per class "
            f"in {list(classes)}; got shape {probabilities.shape}."
        )
    predicted = classes[np.argmax(probabilities, axis=1)]
    labels = list(classes)
    return {
        "roc_auc": _ovr_macro_auc(y_true, probabilities, classes),
        "log_loss": _num(_clipped_log_loss(y_true, probabilities, labels=labels)),
        "accuracy": _num(skm.accuracy_score(y_true, predicted)),
        "macro_f1": _num(skm.f1_score(y_true, predicted, labels=labels, average="macro", zero_division=0)),
        "macro_precision": _num(
            skm.precision_score(y_true, predicted, labels=labels, average="macro", zero_division=0)
        ),
        "macro_recall": _num(skm.recall_score(y_true, predicted, labels=labels, average="macro", zero_division=0)),
    }


def _regression_metrics(y_true, predictions) -> dict[str, float]:
    y = _as_1d(y_true, "y_true").astype(float)
    p = _as_1d(predictions, "scores").astype(float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # r2 of a single row: sklearn warns and returns NaN -> None
        r2 = skm.r2_score(y, p)
    return {"rmse": _num(_rmse(y, p)), "mae": _num(skm.mean_absolute_error(y, p)), "r2": _num(r2)}


def _ranking_metrics(y_true, scores, groups, k) -> dict[str, float]:
    """Mean NDCG@k and recall@k over queries (``groups=None``: all rows are one query).

    Queries without a relevant item are skipped: both metrics are undefined there (sklearn would
    score NDCG 0, punishing the model for the data). A one-row query with a relevant item scores
    NDCG 1.0 (every ordering of one item is ideal; sklearn refuses single-document queries).
    recall@k = relevant items among the k highest scores / relevant items in the query; tied
    scores at the cut-off are broken by row order (NDCG averages over ties, as sklearn does).
    Both are None when no query has a relevant item.
    """
    relevance = _as_1d(y_true, "y_true").astype(float)
    s = _as_1d(scores, "scores").astype(float)
    if (relevance < 0).any():
        raise ValueError("Ranking relevance (y_true) must be >= 0.")
    ndcgs, recalls = [], []
    for rows in _group_indices(groups, len(relevance)):
        rel, sc = relevance[rows], s[rows]
        relevant = rel > 0
        if not relevant.any():
            continue
        ndcgs.append(1.0 if len(rows) == 1 else skm.ndcg_score(rel[None, :], sc[None, :], k=k))
        top = np.argsort(-sc, kind="stable")[:k]
        recalls.append(relevant[top].sum() / relevant.sum())
    return {
        "ndcg_at_k": _num(np.mean(ndcgs)) if ndcgs else None,
        "recall_at_k": _num(np.mean(recalls)) if recalls else None,
        "k": float(k),
    }
