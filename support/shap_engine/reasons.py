"""The entry point: one row's score, decision and SHAP contributions per raw feature, checked to
add up to the score, with the top reasons in plain words ("plan = free lowered the score by 0.12")."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from .explainer_cache import explainer_for
from .inputs import (
    CLASSIFICATION,
    TASK_TYPES,
    Feature,
    canonical_record,
    parse_schema,
    record_key,
)

DEFAULT_THRESHOLD = 0.5
ADDITIVITY_TOLERANCE = 1e-6  # in the explanation's units; relative for outputs larger than 1
MAX_REASONS = 5


def _display(feature: Feature, value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return np.format_float_positional(value, precision=6, unique=True, fractional=False, trim="-")
    if isinstance(value, pd.Timestamp):
        return value.date().isoformat() if value == value.normalize() else value.isoformat()
    return str(value)


def _amount(value: float) -> str:
    value = abs(value)
    if value >= 1000:
        return f"{value:,.0f}"
    if value >= 0.01:
        return f"{value:.2f}"
    return f"{value:.2g}"


def _reason(item: dict, units: str, task_type: str, explained_class: str | None) -> str:
    noun = "the score" if task_type in CLASSIFICATION else "the prediction"
    if task_type == "multiclass_classification":
        noun = f"the score of {explained_class}"
    subject = f"{item['feature']} = {item['value']}"
    shap_value = item["shap"]
    if shap_value == 0:
        return f"{subject} did not change {noun}"
    verb = "raised" if shap_value > 0 else "lowered"
    suffix = " log-odds" if units == "log-odds" else ""
    return f"{subject} {verb} {noun} by {_amount(shap_value)}{suffix}"


def _decision(task_type: str, score: float, threshold: float | None, explained_class: str | None) -> str:
    if task_type == "binary_classification":
        return "yes" if score >= threshold else "no"
    if task_type == "multiclass_classification":
        return str(explained_class)
    return _display(Feature("", "float"), float(score))


def explain(
    estimator,
    row: pd.DataFrame | Mapping[str, Any],
    *,
    task_type: str,
    feature_schema: list[dict],
    threshold: float | None,
    background: pd.DataFrame | list[dict] | None,
    version_key: str | None = None,
    max_reasons: int = MAX_REASONS,
) -> dict:
    """Score, decision and SHAP contributions per raw feature for ONE row, as JSON-ready data.

    ``estimator``: the fitted model (or a zero-argument callable returning it, called only when no
    explainer is cached, so a caller need not unpickle the artifact on a warm call).
    ``row``: one-row DataFrame (or mapping) of exactly the schema's features; a missing, unknown or
    mistyped feature raises ExplainInputError (a ValueError) whose ``field`` names it.
    ``threshold``: the version's decision threshold (binary; 0.5 when None).
    ``background``: the sample stored with the version (DataFrame or its JSON records); required
    for the model-agnostic path, optional for trees (without it a boosted classifier is explained
    in log-odds).
    ``version_key``: an opaque key for the version (e.g. its artifact sha256). When given, the built
    explainer is kept in a per-process LRU under (version_key, task_type), so repeated single-row
    calls skip building it; the key must change whenever the artifact or the background does.

    The result: method, algorithm, task_type, score, decision, threshold, explained_class,
    base_value, units, contributions [{feature, value, shap}] by |shap| descending, reasons (plain
    words for the top few), input_key. ``base_value + sum(shap) == score`` within 1e-6 in ``units``
    (for units "log-odds", == logit(score)).
    """
    if task_type not in TASK_TYPES:
        raise ValueError(f"Unknown task type {task_type!r}; use one of {', '.join(TASK_TYPES)}.")
    features = parse_schema(feature_schema)
    record = canonical_record(row, features)
    if task_type == "binary_classification":
        threshold = DEFAULT_THRESHOLD if threshold is None else float(threshold)
    else:
        threshold = None

    engine = explainer_for(estimator, task_type, features, background, version_key=version_key)
    attribution = engine.attribute(record)

    classes = engine.scorer.classes
    explained_class = None if attribution.target is None or classes is None else str(classes[attribution.target])
    explained_output = attribution.output
    total = attribution.base_value + float(np.sum(attribution.phi))
    size = max(1.0, abs(explained_output), abs(attribution.base_value), float(np.sum(np.abs(attribution.phi))))
    tolerance = ADDITIVITY_TOLERANCE * size
    if not abs(total - explained_output) <= tolerance:
        raise RuntimeError(
            f"The explanation does not add up: base {attribution.base_value:.6g} + contributions "
            f"{float(np.sum(attribution.phi)):.6g} != {explained_output:.6g} ({attribution.method} path)."
        )

    contributions = [
        {"feature": feature.name, "value": _display(feature, record[feature.name]), "shap": float(phi)}
        for feature, phi in zip(features, attribution.phi)
    ]
    contributions.sort(key=lambda item: -abs(item["shap"]))  # stable: schema order breaks ties
    reasons = [
        _reason(item, attribution.units, task_type, explained_class)
        for item in contributions[:max_reasons]
        if item["shap"] != 0
    ]
    return {
        "method": attribution.method,
        "algorithm": attribution.algorithm,
        "task_type": task_type,
        "score": attribution.score,
        "decision": _decision(task_type, attribution.score, threshold, explained_class),
        "threshold": threshold,
        "explained_class": explained_class,
        "base_value": attribution.base_value,
        "units": attribution.units,
        "contributions": contributions,
        "reasons": reasons,
        "input_key": record_key(record),
    }
