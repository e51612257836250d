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
]


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


def importance_shift(
    current: list[dict], previous: list[dict] | None, *, jump_ratio=3.0, min_importance=0.01
) -> list[dict]:
    """Current importances next to the previous version's. A feature that suddenly matters a lot
    more (≥ ``min_importance`` and ≥ ``jump_ratio`` × before, or new/non-positive before) is
    ``jumped`` — the typical trace of a target leak sneaking into a feature. With no previous
    importances at all (``previous`` None, e.g. the first version) nothing can have jumped."""
    before = {f["feature"]: f.get("importance") for f in previous or []}
    shifted = []
    for feature in current:
        now, then = feature["importance"], before.get(feature["feature"])
        jumped = (
            previous is not None
            and now is not None
            and now >= min_importance
            and (then is None or then <= 0 or now / then >= jump_ratio)
        )
        shifted.append(
            {
                "feature": feature["feature"],
                "importance": now,
                "std": feature.get("std"),
                "previous": then,
                "change": _num(now - then) if now is not None and then is not None else None,
                "jumped": bool(jumped),
            }
        )
    return shifted
