"""Evidence for the promotion validation gate: metrics, baselines, thresholds, prediction diffs,
curves, feature importance, slices and the policy checks that turn them into pass/fail.

Plain numpy/pandas/scikit-learn, no Django: the Celery job (registry/gate.py) loads the hold-out
rows and the two model versions, calls these functions and stores what they return as JSON. So
every number leaving this module is a plain Python float/int/str (never a numpy scalar) and an
undefined value is ``None`` (never NaN, which JSON cannot carry and reviewers cannot read).

Task types are the strings in ``TASK_TYPES``. Score conventions, shared by every function:

* binary_classification — ``scores`` is a 1-D array of P(positive); ``y_true`` is 0/1.
* multiclass_classification — ``scores`` is (n, k) probabilities, columns in the order of
  ``classes`` (default: the sorted labels of ``y_true``).
* regression — ``scores`` are the predicted values.
* ranking — ``scores`` are per-row scores, ``groups`` the query id of each row and ``y_true`` a
  relevance >= 0 (an item is "relevant" when its relevance is > 0).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable

import numpy as np
import pandas as pd
from sklearn import metrics as skm
from sklearn.inspection import permutation_importance

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
THRESHOLD_RULES = ("max_f1", "min_recall", "min_precision", "keep")
MISSING_SLICE = "(missing)"
MAX_SLICES = 50


# --------------------------------------------------------------------------------------------
# small helpers


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


# --------------------------------------------------------------------------------------------
# metrics


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


# --------------------------------------------------------------------------------------------
# baseline


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


# --------------------------------------------------------------------------------------------
# threshold


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


# --------------------------------------------------------------------------------------------
# comparing two models' outputs


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
    return pd.Series(scores).groupby(pd.Series(_as_1d(groups, "groups"))).rank(ascending=False, method="average").to_numpy()


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


# --------------------------------------------------------------------------------------------
# curves


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


# --------------------------------------------------------------------------------------------
# feature importance


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


def importance_shift(current: list[dict], previous: list[dict] | None, *, jump_ratio=3.0, min_importance=0.01) -> list[dict]:
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


# --------------------------------------------------------------------------------------------
# slices


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
            task_type, y_true[mask], _subset(scores, mask), threshold=cut, classes=classes,
            groups=_subset(groups, mask), k=k,
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


# --------------------------------------------------------------------------------------------
# policy


def _fmt(value) -> str:
    if value is None:
        return "n/a"
    return f"{value:.4f}" if abs(value) < 100 else f"{value:,.2f}"


def _pct(value) -> str:
    return "n/a" if value is None else f"{100 * value:.2f}%"


def _check(name: str, passed: bool, detail: str) -> dict:
    return {"name": name, "passed": bool(passed), "detail": detail}


def _improvement(metric: str, new: float, old: float) -> float:
    """How much better ``new`` is than ``old`` (negative = worse), whatever the metric's direction."""
    return new - old if HIGHER_IS_BETTER[metric] else old - new


_TOLERANCE = 1e-12  # float noise must not flip a check that is met exactly


def policy_checks(evidence: dict, policy: dict) -> list[dict]:
    """The gate's verdict, one check per policy rule, each explained with its numbers.

    Direction-aware throughout: for a lower-is-better metric (rmse, mae, log_loss)
    "min_primary_metric" is the worst acceptable value (an upper bound), a regression is an
    increase, and beating the baseline means being lower. When the primary metric is missing
    only ``primary_metric_available`` is reported (failed) among the metric checks: there is no
    number to compare. A missing ``max_regression``/``min_margin_over_baseline`` means 0; an
    explicit None skips that check (as None skips min_primary_metric, max_flip_rate and
    max_slice_gap). "beats_baseline" needs a strictly positive improvement, at least the margin.
    """
    metric = policy.get("primary_metric") or evidence.get("primary_metric")
    metrics = evidence.get("metrics") or {}
    candidate = (metrics.get("candidate") or {}).get(metric)
    available = _check_primary_available(metric, metrics.get("candidate") or {})
    checks = [available]
    if available["passed"]:
        checks += _metric_checks(metric, candidate, metrics, policy)
    checks += _flip_check(evidence.get("prediction_diff"), policy.get("max_flip_rate"))
    checks += _slice_checks(evidence.get("slices") or {}, policy.get("max_slice_gap"))
    checks += _threshold_check(evidence.get("threshold"), policy.get("threshold_rule"), policy.get("threshold_target"))
    return checks


def _check_primary_available(metric, candidate_metrics: dict) -> dict:
    defined = sorted(name for name, value in candidate_metrics.items() if value is not None)
    listing = ", ".join(defined) or "none"
    if metric not in HIGHER_IS_BETTER or metric in DESCRIPTIVE_METRICS:
        return _check("primary_metric_available", False, f"{metric!r} is not a quality metric Keel knows; the candidate has: {listing}.")
    if candidate_metrics.get(metric) is None:
        return _check("primary_metric_available", False, f"The candidate has no {metric} value; it has: {listing}.")
    return _check("primary_metric_available", True, f"The candidate's {metric} is {_fmt(candidate_metrics[metric])}.")


def _metric_checks(metric: str, candidate: float, metrics: dict, policy: dict) -> list[dict]:
    checks = []
    floor = policy.get("min_primary_metric")
    if floor is not None:
        checks.append(_min_primary_check(metric, candidate, floor))
    production = metrics.get("production")
    allowed = policy.get("max_regression", 0.0)
    if production is not None and allowed is not None:
        checks.append(_regression_check(metric, candidate, production.get(metric), allowed))
    margin = policy.get("min_margin_over_baseline", 0.0)
    if margin is not None:
        checks.append(_baseline_check(metric, candidate, (metrics.get("baseline") or {}).get(metric), margin))
    return checks


def _min_primary_check(metric, candidate, floor) -> dict:
    if HIGHER_IS_BETTER[metric]:
        passed, bound = candidate >= floor - _TOLERANCE, "at least"
    else:
        passed, bound = candidate <= floor + _TOLERANCE, "at most"
    return _check("min_primary_metric", passed, f"Candidate {metric} is {_fmt(candidate)}; the policy requires {bound} {_fmt(floor)}.")


def _regression_check(metric, candidate, production, allowed) -> dict:
    name = "no_regression_vs_production"
    if production is None:
        return _check(name, True, f"Production has no {metric} value on these rows, so there is nothing to regress from.")
    loss = -_improvement(metric, candidate, production)
    verdict = f"worse by {_fmt(loss)}" if loss > 0 else f"better by {_fmt(-loss)}" if loss < 0 else "equal"
    return _check(
        name,
        loss <= allowed + _TOLERANCE,
        f"Candidate {metric} is {_fmt(candidate)} vs production {_fmt(production)} ({verdict}); "
        f"the policy allows a loss of at most {_fmt(allowed)}.",
    )


def _baseline_check(metric, candidate, baseline, margin) -> dict:
    if baseline is None:
        return _check("beats_baseline", False, f"The naive baseline has no {metric} value, so the candidate cannot be shown to beat it.")
    gain = _improvement(metric, candidate, baseline)
    return _check(
        "beats_baseline",
        gain > 0 and gain >= margin - _TOLERANCE,
        f"Candidate {metric} is {_fmt(candidate)} vs the naive baseline's {_fmt(baseline)} "
        f"(improvement {_fmt(gain)}); the policy requires an improvement of at least {_fmt(margin)}.",
    )


def _flip_check(diff: dict | None, limit) -> list[dict]:
    if limit is None or not diff or diff.get("flip_rate") is None:
        return []
    rate = diff["flip_rate"]
    moves = ""
    if diff.get("flips_up") is not None:
        moves = f" ({diff['flips_up']} from no to yes, {diff['flips_down']} from yes to no)"
    return [
        _check(
            "max_flip_rate",
            rate <= limit + _TOLERANCE,
            f"The candidate changes the decision on {_pct(rate)} of {diff.get('rows', 'the')} rows{moves}; "
            f"the policy allows at most {_pct(limit)}.",
        )
    ]


def _slice_checks(slices: dict, limit) -> list[dict]:
    if limit is None:
        return []
    checks = []
    for column, found in slices.items():
        name, gap = f"max_slice_gap:{column}", found.get("gap")
        metric, min_rows = found.get("metric", "the metric"), found.get("min_rows")
        large = f" with at least {min_rows} rows" if min_rows is not None else ""
        if gap is None:
            checks.append(_check(name, True, f"No {column} slice{large} has a {metric} value, so there is no gap to judge."))
            continue
        checks.append(
            _check(
                name,
                gap <= limit + _TOLERANCE,
                f"Candidate {metric} differs by {_fmt(gap)} across {column} slices{large} "
                f"(worst: {found.get('worst')!r}); the policy allows at most {_fmt(limit)}.",
            )
        )
    return checks


def _threshold_check(threshold: dict | None, rule, target) -> list[dict]:
    if rule not in ("min_recall", "min_precision"):
        return []
    measure = "recall" if rule == "min_recall" else "precision"
    if not threshold or threshold.get("threshold") is None:
        return [_check("threshold_requirement", False, f"No threshold could be learned for {measure} ≥ {_fmt(target)}.")]
    met = bool(threshold.get("met"))
    if threshold.get("target") is not None:
        target = threshold["target"]
    how = "meets" if met else "does not meet"
    return [
        _check(
            "threshold_requirement",
            met,
            f"At threshold {_fmt(threshold['threshold'])} the candidate has precision {_fmt(threshold.get('precision'))} "
            f"and recall {_fmt(threshold.get('recall'))}, which {how} the required {measure} ≥ "
            f"{_fmt(target)}.",
        )
    ]
