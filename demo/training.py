"""Train the upsell model on a signups frame and describe it the way the registry records a version.

Pure (pandas and scikit-learn, no Django): the seed command and tests call it on DataFrames alone.
"""

import hashlib
import io
from dataclasses import dataclass
from datetime import date

import joblib
import numpy as np
import pandas as pd
import skops.io
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    f1_score,
    log_loss,
    precision_recall_curve,
    precision_score,
    recall_score,
    roc_auc_score,
)
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder
from threadpoolctl import threadpool_limits

from .signups import LABEL

CATEGORICAL = ["plan", "country", "event_type"]
NUMERIC = {"meeting_minutes": "float", "attendees": "int"}
FEATURES = CATEGORICAL + list(NUMERIC)

DEFAULT_HYPERPARAMETERS = {"learning_rate": 0.1, "max_iter": 150, "max_depth": 4, "l2_regularization": 0.0}
HISTORY_EVERY = 10  # boosting iterations between two points of the learning curve


def _one_thread():
    """One OpenMP thread for fitting and scoring: on a few thousand rows extra threads mostly
    spin-wait, and on a busy two-core box (CI, a laptop running the demo) they made the fit 5-20x
    slower, not faster."""
    return threadpool_limits(limits=1, user_api="openmp")


@dataclass
class TrainedModel:
    pipeline: Pipeline
    hyperparameters: dict
    metrics: dict[str, float]
    decision_threshold: float
    feature_schema: list[dict]
    # (iteration, hold-out ROC AUC, hold-out log loss) every HISTORY_EVERY boosting iterations.
    learning_curve: list[tuple[int, float, float]]
    artifact_bytes: bytes
    artifact_sha256: str
    dataset_sha256: str
    train_window_start: date
    train_window_end: date
    holdout_start: date
    n_train: int
    n_holdout: int


def feature_schema() -> list[dict]:
    schema = [{"name": name, "type": "string", "categorical": True} for name in CATEGORICAL]
    schema += [{"name": name, "type": kind, "categorical": False} for name, kind in NUMERIC.items()]
    return schema


def dataset_sha256(df: pd.DataFrame) -> str:
    """Hash of the frame as CSV: the same rows in the same order always give the same digest."""
    return hashlib.sha256(df.to_csv(index=False, date_format="%Y-%m-%d").encode()).hexdigest()


def time_split(df: pd.DataFrame, holdout_fraction: float) -> tuple[pd.DataFrame, pd.DataFrame, date]:
    """Train on the earlier signups, hold out the latest ones: the model is always used on the future,
    so a random split would flatter it. Whole days go to one side, so no day is split."""
    if not 0 < holdout_fraction < 1:
        raise ValueError("holdout_fraction must be between 0 and 1")
    dates = df["signup_date"].sort_values()
    cutoff = dates.iloc[int(len(dates) * (1 - holdout_fraction))].normalize()
    is_holdout = df["signup_date"] >= cutoff
    train, holdout = df[~is_holdout], df[is_holdout]
    if train.empty or holdout.empty or train[LABEL].nunique() < 2 or holdout[LABEL].nunique() < 2:
        raise ValueError("Both sides of the time split need upgraded and not-upgraded signups.")
    return train, holdout, cutoff.date()


def build_pipeline(hyperparameters: dict, seed: int) -> Pipeline:
    preprocess = ColumnTransformer(
        [("categorical", OneHotEncoder(handle_unknown="ignore", sparse_output=False), CATEGORICAL)],
        # Trees need no scaling, so numbers pass through as they are.
        remainder="passthrough",
        verbose_feature_names_out=False,
    )
    # No early stopping: every boosting iteration is kept, so the learning curve is comparable
    # across runs and the fit is reproducible from the seed.
    classifier = HistGradientBoostingClassifier(**hyperparameters, early_stopping=False, random_state=seed)
    return Pipeline([("preprocess", preprocess), ("classifier", classifier)])


def best_f1_threshold(y_true: np.ndarray, scores: np.ndarray) -> float:
    precision, recall, thresholds = precision_recall_curve(y_true, scores)
    # The last precision/recall pair has no threshold; drop it so the arrays line up.
    f1 = np.divide(
        2 * precision[:-1] * recall[:-1],
        precision[:-1] + recall[:-1],
        out=np.zeros(len(thresholds)),
        where=(precision[:-1] + recall[:-1]) > 0,
    )
    return float(thresholds[int(np.argmax(f1))])


def evaluate(pipeline: Pipeline, df: pd.DataFrame, threshold: float) -> dict[str, float]:
    """The registry's metrics of a fitted model on labelled signups, at a decision threshold."""
    y_true = df[LABEL].to_numpy()
    with _one_thread():
        scores = pipeline.predict_proba(df[FEATURES])[:, 1]
    y_pred = (scores >= threshold).astype(int)
    return {
        "roc_auc": float(roc_auc_score(y_true, scores)),
        "pr_auc": float(average_precision_score(y_true, scores)),
        "log_loss": float(log_loss(y_true, scores, labels=[0, 1])),
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "precision": float(precision_score(y_true, y_pred, zero_division=0)),
        "recall": float(recall_score(y_true, y_pred, zero_division=0)),
        "f1": float(f1_score(y_true, y_pred, zero_division=0)),
        "positive_rate": float(y_true.mean()),
    }


def _learning_curve(pipeline: Pipeline, holdout: pd.DataFrame) -> list[tuple[int, float, float]]:
    y_true = holdout[LABEL].to_numpy()
    features = pipeline.named_steps["preprocess"].transform(holdout[FEATURES])
    curve = []
    for iteration, proba in enumerate(pipeline.named_steps["classifier"].staged_predict_proba(features), 1):
        if iteration % HISTORY_EVERY == 0 or iteration == 1:
            curve.append(
                (
                    iteration,
                    float(roc_auc_score(y_true, proba[:, 1])),
                    float(log_loss(y_true, proba[:, 1], labels=[0, 1])),
                )
            )
    return curve


def serialise(pipeline: Pipeline) -> bytes:
    """The artifact: the pipeline saved with skops, which builds only the types it lists."""
    return skops.io.dumps(pipeline)


def serialise_pickle(pipeline: Pipeline) -> bytes:
    """The pipeline as a joblib pickle, for a model whose reviewers allow pickle artifacts."""
    buffer = io.BytesIO()
    joblib.dump(pipeline, buffer)
    return buffer.getvalue()


def train_upsell_model(
    df: pd.DataFrame, *, hyperparameters: dict | None = None, seed: int, holdout_fraction: float = 0.2
) -> TrainedModel:
    """Fit on the earlier signups, measure on the latest `holdout_fraction` of them.

    The artifact is the model that was measured (not a refit on all rows), so its registered
    metrics describe exactly the bytes that are served.
    """
    hyperparameters = {**DEFAULT_HYPERPARAMETERS, **(hyperparameters or {})}
    missing = [c for c in [*FEATURES, LABEL, "signup_date"] if c not in df.columns]
    if missing:
        raise ValueError(f"The frame lacks columns: {', '.join(missing)}")
    train, holdout, holdout_start = time_split(df, holdout_fraction)

    with _one_thread():
        pipeline = build_pipeline(hyperparameters, seed).fit(train[FEATURES], train[LABEL])
        # Tuned on the hold-out it is then reported on: slightly optimistic, acceptable for a demo
        # (a production pipeline would pick it on a separate validation slice).
        scores = pipeline.predict_proba(holdout[FEATURES])[:, 1]
        threshold = round(best_f1_threshold(holdout[LABEL].to_numpy(), scores), 6)
        metrics = evaluate(pipeline, holdout, threshold)
        curve = _learning_curve(pipeline, holdout)
    artifact = serialise(pipeline)
    return TrainedModel(
        pipeline=pipeline,
        hyperparameters=hyperparameters,
        metrics=metrics,
        decision_threshold=threshold,
        feature_schema=feature_schema(),
        learning_curve=curve,
        artifact_bytes=artifact,
        artifact_sha256=hashlib.sha256(artifact).hexdigest(),
        dataset_sha256=dataset_sha256(df),
        train_window_start=df["signup_date"].min().date(),
        train_window_end=df["signup_date"].max().date(),
        holdout_start=holdout_start,
        n_train=len(train),
        n_holdout=len(holdout),
    )
