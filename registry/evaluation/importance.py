"""Permutation feature importance of a model on the hold-out, and how it shifted from the model it
would replace."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
from sklearn import metrics as skm
from sklearn.inspection import permutation_importance

from .metrics import BINARY, MULTICLASS, _as_1d, _check_task, _clipped_log_loss, _num, _resolve_classes, _rmse

__all__ = [
    "permutation_importance_top",
    "importance_shift",
    "importance_ranks",
    "looks_like_leak",
    "MINOR_OF_TOP",
    "MIN_LEAK_IMPORTANCE",
]

# A feature was minor in the model being replaced when its importance was at most this fraction of
# that model's top feature's (or it was not among its top features at all).
MINOR_OF_TOP = 0.25
# Below this importance (in the scorer's units: ROC AUC points for a binary model) nothing is judged.
MIN_LEAK_IMPORTANCE = 0.01


class _FunctionModel:
    """Lets a bare predict function go through sklearn's permutation_importance, which insists
    on an estimator (something with ``fit``)."""

    def __init__(self, predict_fn: Callable):
        self.predict_fn = predict_fn

    def fit(self, X, y=None):  # pragma: no cover - never called; required by the API check
        return self


def _model_scores(model, X: pd.DataFrame, task_type: str) -> np.ndarray:
    """The model's scores in this module's conventions (binary: P(positive) of classes_[1])."""
    if isinstance(model, _FunctionModel):
        return np.asarray(model.predict_fn(X))
    if task_type == BINARY:
        return model.predict_proba(X)[:, 1]
    if task_type == MULTICLASS:
        return model.predict_proba(X)
    return model.predict(X)


def _importance_scorer(task_type: str, classes) -> Callable:
    """Bigger is better, as permutation_importance expects: binary ROC AUC, multiclass negative
    log loss, regression and ranking negative RMSE (ranking: of the score against relevance)."""

    def score(model, X, y):
        predicted = _model_scores(model, X, task_type)
        if task_type == BINARY:
            return skm.roc_auc_score(y, predicted)
        if task_type == MULTICLASS:
            # An estimator's predict_proba columns follow its classes_, whatever the caller passed.
            labels = getattr(model, "classes_", None)
            labels = classes if labels is None else labels
            return -_clipped_log_loss(y, predicted, labels=_resolve_classes(y, labels))
        return -_rmse(y, predicted)

    return score


def permutation_importance_top(
    predict_fn_or_model, X: pd.DataFrame, y, *, task_type, top=10, n_repeats=3, seed=0, max_rows=5000, classes=None
) -> list[dict]:
    """The ``top`` features whose shuffling hurts the model most: [{"feature","importance","std"}].

    ``predict_fn_or_model`` is a fitted estimator/pipeline that takes the DataFrame, or a function
    DataFrame → scores (in this module's conventions). Rows are subsampled to ``max_rows`` with
    ``seed`` so the job's cost does not grow with the hold-out set.
    """
    _check_task(task_type)
    y = _as_1d(y, "y")
    if len(X) != len(y):
        raise ValueError(f"X has {len(X)} rows but y has {len(y)}.")
    if len(X) > max_rows:
        keep = np.sort(np.random.default_rng(seed).choice(len(X), size=max_rows, replace=False))
        X, y = X.iloc[keep], y[keep]
    model = predict_fn_or_model if hasattr(predict_fn_or_model, "fit") else _FunctionModel(predict_fn_or_model)
    found = permutation_importance(
        model, X, y, scoring=_importance_scorer(task_type, classes), n_repeats=n_repeats, random_state=seed
    )
    features = [
        {"feature": str(name), "importance": _num(mean), "std": _num(std)}
        for name, mean, std in zip(X.columns, found.importances_mean, found.importances_std)
    ]
    features.sort(key=lambda f: -(f["importance"] or 0.0))
    return features[:top]


def importance_ranks(importances: list[dict] | None) -> dict[str, dict]:
    """Each feature's standing among a model's importances: ``rank`` (1 = most important),
    ``of_top`` (its importance as a fraction of the top feature's) and ``share`` (its fraction of the
    summed positive importance). Non-positive importances count as 0 in both fractions."""
    found = [(f["feature"], max(f.get("importance") or 0.0, 0.0)) for f in importances or []]
    found.sort(key=lambda item: -item[1])
    top = found[0][1] if found else 0.0
    total = sum(value for _, value in found)
    return {
        name: {
            "rank": rank,
            "of_top": _num(value / top) if top > 0 else 0.0,
            "share": _num(value / total) if total > 0 else 0.0,
        }
        for rank, (name, value) in enumerate(found, start=1)
    }


def importance_shift(
    current: list[dict], previous: list[dict] | None, *, jump_ratio=3.0, min_importance=0.01
) -> list[dict]:
    """Current importances next to the previous version's. A feature that suddenly matters a lot
    more (≥ ``min_importance`` and ≥ ``jump_ratio`` × before, or new/non-positive before) is
    ``jumped``. With no previous importances at all (``previous`` None, e.g. the first version)
    nothing can have jumped.

    Each row also carries the feature's standing now and before (``rank``/``previous_rank``,
    ``of_top``/``previous_of_top``, ``share``/``previous_share``; see `importance_ranks`; a
    previous standing is None when the feature was not among the previous top features) and
    ``minor_before``: True when the previous model gave it at most ``MINOR_OF_TOP`` of its top
    feature's importance or did not list it, None when there is nothing to compare with. A raw
    jump alone does not tell a leak from a change of model family; `looks_like_leak` does."""
    before = {f["feature"]: f.get("importance") for f in previous or []}
    standing_now, standing_before = importance_ranks(current), importance_ranks(previous)
    shifted = []
    for feature in current:
        now, then = feature["importance"], before.get(feature["feature"])
        jumped = (
            previous is not None
            and now is not None
            and now >= min_importance
            and (then is None or then <= 0 or now / then >= jump_ratio)
        )
        here, there = standing_now.get(feature["feature"], {}), standing_before.get(feature["feature"])
        minor_before = None
        if previous is not None:
            minor_before = there is None or there["of_top"] <= MINOR_OF_TOP
        shifted.append(
            {
                "feature": feature["feature"],
                "importance": now,
                "std": feature.get("std"),
                "previous": then,
                "change": _num(now - then) if now is not None and then is not None else None,
                "jumped": bool(jumped),
                "rank": here.get("rank"),
                "of_top": here.get("of_top"),
                "share": here.get("share"),
                "previous_rank": None if there is None else there["rank"],
                "previous_of_top": None if there is None else there["of_top"],
                "previous_share": None if there is None else there["share"],
                "minor_before": minor_before,
            }
        )
    return shifted


def looks_like_leak(row: dict, *, max_share: float) -> bool:
    """Whether one `importance_shift` row has the trace of a target leak rather than of a change of
    model family.

    A leak: the feature was minor in the model being replaced (``minor_before``: at most
    ``MINOR_OF_TOP`` of that model's top feature's importance, or not among its top features), and
    in the candidate it is the top feature (rank 1) holding more than ``max_share`` of the summed
    positive importance, with an importance of at least ``MIN_LEAK_IMPORTANCE``: one feature now
    explains most of what the model knows. A change of family (linear → trees) reshuffles ranks —
    a minor feature may rise, even to the top — but the importance stays spread over several
    features, so no risen feature holds the dominant share. Without previous importances (a first
    version) nothing looks like a leak."""
    importance, share = row.get("importance"), row.get("share")
    return bool(
        row.get("minor_before") is True
        and row.get("rank") == 1
        and importance is not None
        and importance >= MIN_LEAK_IMPORTANCE
        and share is not None
        and share > max_share
    )
