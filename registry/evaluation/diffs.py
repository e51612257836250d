"""How two models' outputs on the same rows differ (score changes, flipped decisions, rank moves) and
the ROC / precision-recall curve points of one model."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn import metrics as skm

from .metrics import (
    BINARY,
    DEFAULT_THRESHOLD,
    MULTICLASS,
    RANKING,
    _as_1d,
    _check_rows,
    _check_task,
    _num,
    _plain,
)

__all__ = [
    "decisions",
    "prediction_diff",
    "curve_points",
]


def decisions(task_type, scores, threshold=None, classes=None) -> np.ndarray | None:
    """What the model would decide per row: binary → bool (score >= threshold, default 0.5);
    multiclass → the argmax class (label from ``classes`` when given, else the column index);
    regression and ranking → None (there is no discrete decision to flip)."""
    _check_task(task_type)
    scores = np.asarray(scores)
    if task_type == BINARY:
        return scores.astype(float) >= (DEFAULT_THRESHOLD if threshold is None else threshold)
    if task_type == MULTICLASS:
        winners = np.argmax(scores, axis=1)
        return np.asarray(classes)[winners] if classes is not None else winners
    return None


def _comparable_scores(task_type, candidate, production) -> tuple[np.ndarray, np.ndarray]:
    """One number per row per model. Multiclass: each model's probability of the class the
    PRODUCTION model picks — signed, so "the candidate is less sure of today's answer" shows as a
    negative change (the L1 distance would lose the direction)."""
    if task_type != MULTICLASS:
        return _as_1d(candidate, "candidate").astype(float), _as_1d(production, "production").astype(float)
    rows = np.arange(len(production))
    production_choice = np.argmax(production, axis=1)
    return candidate[rows, production_choice].astype(float), production[rows, production_choice].astype(float)


def _histogram(change: np.ndarray, bins: int) -> dict:
    """Bins symmetric around zero so the plot's zero line sits in the middle."""
    reach = float(np.max(np.abs(change))) or 1.0
    counts, edges = np.histogram(change, bins=bins, range=(-reach, reach))
    return {"edges": [float(e) for e in edges], "counts": [int(c) for c in counts]}


def _flips(task_type, candidate, production, candidate_threshold, production_threshold, classes) -> dict:
    new = decisions(task_type, candidate, candidate_threshold, classes)
    old = decisions(task_type, production, production_threshold, classes)
    if new is None:
        return {"flip_rate": None, "flips_up": None, "flips_down": None}
    flipped = new != old
    if task_type == BINARY:
        up, down = int((new & ~old).sum()), int((~new & old).sum())
    else:
        up = down = None  # classes have no order: a flip is neither up nor down
    return {"flip_rate": _num(flipped.mean()), "flips_up": up, "flips_down": down}


def _within_group_rank(scores: np.ndarray, groups) -> np.ndarray:
    return (
        pd.Series(scores)
        .groupby(pd.Series(_as_1d(groups, "groups")))
        .rank(ascending=False, method="average")
        .to_numpy()
    )


def prediction_diff(
    task_type,
    candidate,
    production,
    *,
    ids=None,
    candidate_threshold=None,
    production_threshold=None,
    classes=None,
    top=10,
    bins=30,
    groups=None,
) -> dict:
    """How the candidate's outputs differ from production's on the same rows.

    change = candidate − production of one number per row: binary the probability, multiclass
    the probability of production's top class (see ``_comparable_scores``), regression the value,
    ranking the score. flip_rate is the share of rows whose decision differs (binary: each side at
    its own threshold; multiclass: argmax); flips_up (no → yes) and flips_down are binary only.
    Regression and ranking have no decision: flip_rate None. For ranking with ``groups``,
    ``mean_rank_shift`` is the mean absolute change of each row's rank within its query.
    Multiclass also reports ``mean_l1_distance`` between the two probability vectors.
    """
    _check_task(task_type)
    candidate, production = np.asarray(candidate), np.asarray(production)
    if candidate.shape != production.shape or len(candidate) == 0:
        raise ValueError(f"Candidate {candidate.shape} and production {production.shape} must score the same rows.")
    new, old = _comparable_scores(task_type, candidate, production)
    change = new - old
    magnitude = np.abs(change)
    ids = np.arange(len(change)) if ids is None else _as_1d(ids, "ids")
    movers = np.argsort(-magnitude, kind="stable")[:top]
    result = {
        "rows": len(change),
        "histogram": _histogram(change, bins),
        "mean_change": _num(change.mean()),
        "mean_abs_change": _num(magnitude.mean()),
        "p95_abs_change": _num(np.percentile(magnitude, 95)),
        "max_abs_change": _num(magnitude.max()),
        **_flips(task_type, candidate, production, candidate_threshold, production_threshold, classes),
        "top_movers": [
            {"id": _plain(ids[i]), "candidate": _num(new[i]), "production": _num(old[i]), "change": _num(change[i])}
            for i in movers
        ],
    }
    if task_type == MULTICLASS:
        result["mean_l1_distance"] = _num(np.abs(candidate - production).sum(axis=1).mean())
    if task_type == RANKING and groups is not None:
        shift = np.abs(_within_group_rank(new, groups) - _within_group_rank(old, groups))
        result["mean_rank_shift"] = _num(shift.mean())
    return result


def _downsample(*series: np.ndarray, max_points: int) -> list[list[float]]:
    """Evenly spaced points of aligned arrays, always keeping the first and last."""
    n_points = len(series[0])
    keep = np.unique(np.round(np.linspace(0, n_points - 1, min(max_points, n_points))).astype(int))
    return [[float(v) for v in values[keep]] for values in series]


def curve_points(y_true, scores, max_points=200) -> dict:
    """ROC and precision-recall curves of a binary model, at most ``max_points`` each, for plots.

    Raises ValueError when ``y_true`` holds a single class (neither curve exists)."""
    y = _as_1d(y_true, "y_true").astype(int)
    s = _as_1d(scores, "scores").astype(float)
    _check_rows(y, s)
    if len(np.unique(y)) != 2:
        raise ValueError("ROC and PR curves need both classes in y_true; the hold-out rows have one.")
    fpr, tpr, _ = skm.roc_curve(y, s)
    precision, recall, _ = skm.precision_recall_curve(y, s)
    fpr, tpr = _downsample(fpr, tpr, max_points=max_points)
    recall, precision = _downsample(recall, precision, max_points=max_points)
    return {
        "roc": {"fpr": fpr, "tpr": tpr, "auc": float(skm.roc_auc_score(y, s))},
        "pr": {
            "recall": recall,
            "precision": precision,
            "average_precision": float(skm.average_precision_score(y, s)),
            "prevalence": float(y.mean()),
        },
    }
