"""The validation gate: score the candidate and the current production model on the same hold-out
rows, gather the evidence a reviewer needs, and let the model's policy decide pass or fail.

`promotion_gate_run` is the gate job's one entry: it reads the files and artifacts, and records
progress and the verdict through the promotion services; every number comes from
registry.evaluation, which knows nothing of Django. Artifacts are code: each model is loaded and
scored in an isolated scorer (mlops.sandbox), never in this process; permutation importance runs
here with a predict function that asks the scorer. A scorer that hits a limit, crashes or raises
fails the gate with the reason.
"""

import logging
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from functools import partial

import numpy as np
import pandas as pd
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import OperationalError as DatabaseOperationalError
from threadpoolctl import threadpool_limits

from mlops.clipping import MESSAGE_LIMIT, clip
from mlops.datafiles.reading import DataFileError, read_frame
from mlops.datafiles.storage import resolve_data_path
from mlops.hashing import sha256_stream
from mlops.sandbox import SandboxError, Scorer

from .. import evaluation, selectors
from ..models import HoldoutDataset, ModelVersion, PromotionAction, PromotionRequest, PromotionState
from .gate_robustness import gate_robustness, robustness_evidence
from .promotion import promotion_gate_progress, promotion_gate_record
from .promotion_policy import check_holdout_size

__all__ = ["promotion_gate_fail", "promotion_gate_run"]

log = logging.getLogger(__name__)

NUMERIC_TYPES = ("float", "int")


class GateInputError(ValueError):
    """The hold-out data or an artifact cannot be evaluated; the message says exactly why."""


@dataclass
class Scored:
    version: ModelVersion
    scores: np.ndarray
    classes: list | None
    threshold: float | None
    scorer: Scorer


# --- inputs -------------------------------------------------------------------------------------


def load_holdout(holdout: HoldoutDataset) -> pd.DataFrame:
    """Read the hold-out rows, refusing a file that changed since it was registered."""
    if holdout.file:
        opener = holdout.file.open("rb")
    else:
        try:
            opener = resolve_data_path(holdout.storage_path).open("rb")
        except Exception as exc:
            raise GateInputError(
                f"The hold-out file '{clip(holdout.storage_path)}' cannot be read: {clip(exc, MESSAGE_LIMIT)}"
            ) from exc
    with opener as handle:
        if sha256_stream(handle)[0] != holdout.sha256:
            raise GateInputError(
                "The hold-out file changed since it was registered (sha256 differs); register it again."
            )
        try:
            check_holdout_size(handle, holdout.format)
            frame = read_frame(
                handle,
                holdout.format,
                max_columns=settings.KEEL_MAX_COLUMNS,
                max_cell_chars=settings.KEEL_MAX_CELL_CHARS,
            )
        except DataFileError as exc:
            raise GateInputError(str(exc)) from exc
    if frame.empty:
        raise GateInputError("The hold-out file has no rows.")
    return frame


def _refuse_cut(frame: pd.DataFrame, columns) -> None:
    """A column the gate reads whose cells were cut as the file was read would be judged on values
    that are not the file's: refused, naming the column and the longest cell."""
    cut = frame.attrs.get("cut_cells") or {}
    for name in columns:
        if name in cut:
            cells, longest, limit = cut[name]["cells"], cut[name]["longest"], cut[name]["limit"]
            raise GateInputError(
                f"{cells:,} cell{'s' if cells != 1 else ''} in the hold-out's column '{clip(name)}' "
                f"{'are' if cells != 1 else 'is'} longer than {limit:,} characters (the longest has {longest:,}); "
                "the gate does not judge a model on cut values (KEEL_MAX_CELL_CHARS)."
            )


def prepare_features(frame: pd.DataFrame, version: ModelVersion) -> pd.DataFrame:
    """The version's feature columns, numeric ones coerced; refuses missing or mistyped columns."""
    names = [f["name"] for f in version.feature_schema]
    if not names:
        raise GateInputError(f"v{version.version} has no feature schema; the gate cannot tell which columns it reads.")
    missing = [name for name in names if name not in frame.columns]
    if missing:
        raise GateInputError(
            f"The hold-out lacks feature column(s) v{version.version} needs: {clip(', '.join(missing), MESSAGE_LIMIT)}."
        )
    _refuse_cut(frame, names)
    features = frame[names].copy()
    for feature in version.feature_schema:
        if feature["type"] not in NUMERIC_TYPES:
            continue
        column = features[feature["name"]]
        converted = pd.to_numeric(column, errors="coerce")
        broken = converted.isna() & column.notna()
        if broken.any():
            row = int(np.flatnonzero(broken.to_numpy())[0])
            raise GateInputError(
                f"Column '{clip(feature['name'])}' should be {feature['type']} but holds non-numeric values "
                f"({int(broken.sum())} rows; e.g. {clip(repr(column.iloc[row]))} in data row {row + 1})."
            )
        features[feature["name"]] = converted
    return features


def prepare_labels(frame: pd.DataFrame, holdout: HoldoutDataset, task_type: str) -> np.ndarray:
    name = clip(holdout.label_column)
    if holdout.label_column not in frame.columns:
        raise GateInputError(f"The hold-out has no label column '{name}'.")
    labels = frame[holdout.label_column]
    if labels.isna().any():
        raise GateInputError(f"The label column '{name}' has {int(labels.isna().sum())} empty values.")
    if task_type == "binary_classification":
        return binary_labels(labels, name, holdout.positive_label)
    _refuse_cut(frame, [holdout.label_column])
    if task_type in ("regression", "ranking"):
        numeric = pd.to_numeric(labels, errors="coerce")
        if numeric.isna().any():
            raise GateInputError(f"The label column '{name}' must be numeric.")
        return numeric.to_numpy(dtype=float)
    return labels.to_numpy()


# How yes/no labels are commonly written, in lower case: the positive spellings and the negative ones.
POSITIVE_SPELLINGS = frozenset({"1", "yes", "true", "y"})
NEGATIVE_SPELLINGS = frozenset({"0", "no", "false", "n"})


def spelled(value) -> str:
    """A label value as its user wrote it: ``1`` for 1, 1.0 or np.int64(1), ``True`` for a bool,
    text stripped."""
    if hasattr(value, "item") and not isinstance(value, str):
        value = value.item()  # a numpy scalar
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def _shown(values) -> str:
    return ", ".join(clip(value) for value in values)


def binary_labels(labels: pd.Series, name: str, positive_label: str = "") -> np.ndarray:
    """A binary label as 0/1. ``positive_label`` (any case) names the positive value; without it
    yes/no, true/false, y/n and 1/0 (any case) are understood, and any other pair is refused with
    the two values seen."""
    text = labels.map(spelled)
    by_case: dict[str, str] = {}
    for value in pd.unique(text):
        by_case.setdefault(value.lower(), value)  # Yes and yes are one value
    seen = sorted(by_case.values(), key=lambda v: (v.lower() not in POSITIVE_SPELLINGS, v.lower()))
    if len(seen) > 2:
        raise GateInputError(
            f"A binary label has two values; '{name}' holds {len(seen)}: {_shown(seen[:5])}"
            + (", …" if len(seen) > 5 else "")
            + "."
        )
    if len(seen) < 2:
        raise GateInputError(
            f"Every hold-out row has label {clip(seen[0])}; judging a binary model needs rows of both outcomes."
        )
    lowered = text.str.lower()
    kinds = set(by_case)
    positive = positive_label.strip().lower()
    if positive:
        if positive not in kinds:
            raise GateInputError(
                f"The positive label '{clip(positive_label.strip())}' is not a value of '{name}', which holds "
                f"{_shown(seen)}."
            )
        return (lowered == positive).astype(int).to_numpy()
    if len(kinds & POSITIVE_SPELLINGS) == 1 and len(kinds & NEGATIVE_SPELLINGS) == 1:
        return lowered.isin(POSITIVE_SPELLINGS).astype(int).to_numpy()
    raise GateInputError(
        f"'{name}' holds {' and '.join(clip(v) for v in seen)}: say which one is the positive outcome with "
        "positive_label (yes/no, true/false, y/n and 1/0 are understood without it)."
    )


def open_scorer(stack: ExitStack, version: ModelVersion, role: str) -> Scorer:
    """The version's isolated scorer, closed with ``stack``; "the candidate v3" names it in failures."""
    return stack.enter_context(selectors.artifact_scorer(version, f"the {role} v{version.version}"))


def open_scorer_soon(stack: ExitStack, version: ModelVersion, role: str) -> Future:
    """Start the version's scorer in a thread while this one works (starting one takes seconds); the
    future gives the scorer or the start's SandboxError, and the scorer is closed with ``stack``.
    The artifact is read and checked here, so an ArtifactError is raised at once."""
    start = selectors.artifact_scorer_ready(version, f"the {role} v{version.version}")
    starter = stack.enter_context(ThreadPoolExecutor(max_workers=1, thread_name_prefix="keel-scorer-start"))
    future = starter.submit(start)
    stack.callback(_close_started, future)
    return future


def _close_started(future: Future) -> None:
    if future.exception() is None:  # waits for the start to end
        future.result().close()


# --- the gate -------------------------------------------------------------------------------------


def promotion_gate_run(*, promotion_id: int) -> PromotionRequest:
    """Validate one request. Idempotent: a request no longer validating is returned as it is."""
    promotion = PromotionRequest.objects.select_related("model", "version", "holdout").get(pk=promotion_id)
    if promotion.state != PromotionState.VALIDATING:
        return promotion
    compared = selectors.alias_map(promotion.model).get(promotion.target_alias)
    blocking = promotion.target_alias != "shadow"
    try:
        # One native thread: the gate makes many small predict calls, and OpenMP's thread team spinning
        # against other processes on the worker made each call ~20x slower than single-threaded. The
        # scorers run with one thread too (their environment says so).
        with threadpool_limits(limits=1), ExitStack() as scorers:
            evidence = _evidence(promotion, compared, scorers)
    except (GateInputError, selectors.ArtifactError, SandboxError) as exc:
        # A recorded failure, never an exception: a scorer's limit or crash is not retried.
        return _record_failure(promotion, compared, str(exc))
    except DatabaseOperationalError:
        raise  # transient: the task retries
    except SoftTimeLimitExceeded:
        raise  # the task records the time limit reached
    except Exception as exc:  # a bug must not leave the request validating forever
        log.exception("Promotion gate crashed on request %s", promotion.pk)
        return _record_failure(promotion, compared, f"The gate could not finish ({type(exc).__name__}: {exc}).")
    failures = [check["detail"] for check in evidence.get("checks", []) if not check["passed"]]
    proposed = (evidence.get("threshold") or {}).get("threshold")
    return promotion_gate_record(
        promotion_id=promotion.pk,
        evidence=evidence,
        failures=failures,
        proposed_threshold=proposed,
        compared_version_id=compared.pk if compared else None,
        blocking=blocking,
    )


def promotion_gate_fail(*, promotion_id: int, reason: str) -> PromotionRequest:
    """Fail a request's gate with the reason (a time limit, a worker that kept dying); a request no
    longer validating is returned as it is."""
    promotion = PromotionRequest.objects.select_related("model").get(pk=promotion_id)
    if promotion.state != PromotionState.VALIDATING:
        return promotion
    return _record_failure(promotion, selectors.alias_map(promotion.model).get(promotion.target_alias), reason)


def _record_failure(promotion: PromotionRequest, compared: ModelVersion | None, reason: str) -> PromotionRequest:
    return promotion_gate_record(
        promotion_id=promotion.pk,
        evidence={"error": reason},
        failures=[reason],
        proposed_threshold=None,
        compared_version_id=compared.pk if compared else None,
        blocking=True,
    )


def _evidence(promotion: PromotionRequest, compared: ModelVersion | None, scorers: ExitStack) -> dict:
    if promotion.action == PromotionAction.REMOVE:
        return {"action": "remove", "note": f"Stops {promotion.target_alias} traffic to v{promotion.version.version}."}
    if promotion.holdout is None:
        return {"note": "No hold-out data was named: shadow traffic will provide the evidence."}

    model, candidate_version, holdout = promotion.model, promotion.version, promotion.holdout
    # Written outside any transaction so the request page shows it while the job runs.
    progress = partial(promotion_gate_progress, promotion_id=promotion.pk)
    task_type = model.task_type
    policy = selectors.policy_as_dict(selectors.policy_for(model))
    progress(stage="Reading hold-out data", share=0.05)
    frame = load_holdout(holdout)
    progress(stage="Checking columns and types", share=0.15)
    y_true = prepare_labels(frame, holdout, task_type)
    groups = frame[holdout.group_column].to_numpy() if holdout.group_column else None
    candidate_features = prepare_features(frame, candidate_version)

    production = production_note = production_start = None
    production_version = selectors.alias_map(model).get(selectors.PRODUCTION)
    if production_version is not None and production_version != candidate_version:
        try:
            production_features = prepare_features(frame, production_version)
            # Production's scorer starts while the candidate's starts and scores.
            production_start = open_scorer_soon(scorers, production_version, "production")
        except (GateInputError, selectors.ArtifactError) as exc:
            # Not the candidate's fault: reviewers see why production could not be compared.
            production_note = f"Production v{production_version.version} could not be scored: {exc}"

    progress(stage=f"Scoring candidate v{candidate_version.version}", share=0.3)
    candidate_scorer = open_scorer(scorers, candidate_version, "candidate")
    candidate_scores, classes = candidate_scorer.scores(candidate_features, task_type)

    if production_start is not None:
        progress(stage=f"Scoring production v{production_version.version}", share=0.45)
        try:
            scorer = production_start.result()
            scores, _ = scorer.scores(production_features, task_type)
            production = Scored(
                production_version,
                scores,
                classes,
                selectors.applicable_threshold(production_version, approved=True),
                scorer,
            )
        except SandboxError as exc:
            production_note = f"Production v{production_version.version} could not be scored: {exc}"

    progress(stage="Metrics and threshold", share=0.6)
    threshold = None
    if task_type == "binary_classification":
        threshold = evaluation.learn_threshold(
            y_true, candidate_scores, policy["threshold_rule"], policy["threshold_target"]
        )
        threshold["threshold"] = selectors.applicable_threshold(candidate_version, threshold["threshold"])
    candidate_threshold = (threshold or {}).get("threshold") or selectors.applicable_threshold(candidate_version) or 0.5
    metric_args = dict(classes=classes, groups=groups, k=policy["ranking_k"])
    baseline = evaluation.baseline_scores(task_type, y_true, classes=classes, groups=groups)
    metrics = {
        "candidate": evaluation.metrics_for(
            task_type, y_true, candidate_scores, threshold=candidate_threshold, **metric_args
        ),
        "production": None
        if production is None
        else evaluation.metrics_for(
            task_type, y_true, production.scores, threshold=production.threshold or 0.5, **metric_args
        ),
        "baseline": evaluation.metrics_for(task_type, y_true, baseline, threshold=0.5, **metric_args),
    }

    progress(stage="Prediction differences", share=0.7)
    ids = frame[frame.columns[0]].astype(str).to_numpy() if frame.columns[0] != holdout.label_column else None
    diff = (
        None
        if production is None
        else evaluation.prediction_diff(
            task_type,
            candidate_scores,
            production.scores,
            ids=ids,
            candidate_threshold=candidate_threshold,
            production_threshold=production.threshold,
            classes=classes,
            groups=groups,
        )
    )
    curves = None
    if task_type == "binary_classification":
        curves = {
            "candidate": evaluation.curve_points(y_true, candidate_scores),
            "production": None if production is None else evaluation.curve_points(y_true, production.scores),
        }

    progress(stage="Feature importance", share=0.8)
    importance_now = evaluation.permutation_importance_top(
        candidate_scorer.predict_fn(task_type), candidate_features, y_true, task_type=task_type, classes=classes
    )
    importance_before = None
    if production is not None:
        try:
            importance_before = evaluation.permutation_importance_top(
                production.scorer.predict_fn(task_type),
                production_features,
                y_true,
                task_type=task_type,
                classes=classes,
            )
        except SandboxError as exc:
            production_note = f"Production v{production.version.version}'s importances could not be computed: {exc}"

    progress(stage="Slices", share=0.9)
    slices = evaluation.slice_metrics(
        task_type,
        frame,
        y_true,
        candidate_scores,
        None if production is None else production.scores,
        columns=policy["slice_columns"],
        metric=policy["primary_metric"],
        threshold=candidate_threshold,
        production_threshold=None if production is None else production.threshold,
        min_rows=policy["min_slice_rows"],
        classes=classes,
        groups=groups,
        k=policy["ranking_k"],
    )

    progress(stage="Robustness to perturbed rows", share=0.93)
    robustness = gate_robustness(task_type, candidate_version, candidate_features, candidate_scorer, candidate_scores)
    if production is not None:
        robustness = gate_robustness(
            task_type, production.version, production_features, production.scorer, production.scores, robustness
        )

    primary = policy["primary_metric"]
    evidence = {
        "task_type": task_type,
        "rows": int(len(frame)),
        "holdout": {"id": holdout.pk, "name": holdout.name, "sha256": holdout.sha256},
        "candidate": {"version": candidate_version.version, "threshold": candidate_threshold},
        "production": None
        if production is None
        else {"version": production.version.version, "threshold": production.threshold},
        "production_note": production_note,
        "primary_metric": primary,
        "metrics": metrics,
        "threshold": threshold,
        "prediction_diff": diff,
        "curves": curves,
        "importance": evaluation.importance_shift(importance_now, importance_before),
        "slices": slices,
        "audit": selectors.audit_status_for_holdout(holdout),
    }
    evidence["beats_production"] = _beats(metrics, primary)
    evidence["checks"] = evaluation.policy_checks(evidence, policy)
    evidence["robustness"] = robustness_evidence(robustness, task_type)
    evidence["checks"] += evaluation.robustness_checks(
        evidence["robustness"], production_version=None if production is None else production.version.version
    )
    progress(stage="Recording the verdict", share=0.97)
    return evidence


def _beats(metrics: dict, primary: str) -> bool:
    candidate, production = metrics["candidate"].get(primary), (metrics["production"] or {}).get(primary)
    if candidate is None or production is None:
        return False
    higher = evaluation.HIGHER_IS_BETTER.get(primary, True)
    return candidate > production if higher else candidate < production
