"""The explainer's operations inside the isolated scorer (mlops.sandbox): the support explainer calls
them by name (``support.shap_engine.sandboxed:explain``) on the estimator the scorer loaded, so the
artifact never runs in the web or worker process. The scorer imports this module before it installs
its audit hook: shap (and the plotting libraries it pulls in) are imported here then, and shap's numba
kernels compiled (``warm_up``; the hook refuses the library lookups compiling needs). The explainer
cache (``explainer_cache``) lives in the scorer process, warm for as long as the scorer is.

Answers are JSON: ``{"result": ...}``, or ``{"error": "input"|"value", "message", "field"}`` for an
input the explainer refuses, so the caller reports it exactly as it would in process.
"""

from __future__ import annotations

from .agnostic import warm_up
from .explainer_cache import is_explainer_cached
from .inputs import ExplainInputError
from .reasons import explain as explain_row
from .scoring import run_single_threaded

__all__ = ["explain", "is_cached"]

run_single_threaded()
warm_up()


def explain(
    estimator, *, row: dict, task_type: str, feature_schema: list, threshold, background, version_key: str
) -> dict:
    try:
        result = explain_row(
            estimator,
            row,
            task_type=task_type,
            feature_schema=feature_schema,
            threshold=threshold,
            background=background,
            version_key=version_key,
        )
    except ExplainInputError as exc:
        return {"error": "input", "message": str(exc), "field": exc.field}
    except ValueError as exc:  # e.g. no background for the model-agnostic path, no predict_proba
        return {"error": "value", "message": str(exc)}
    return {"result": result}


def is_cached(estimator, *, version_key: str, task_type: str) -> bool:
    """Whether the next explanation of this version would be warm (its explainer is built)."""
    return is_explainer_cached(version_key, task_type)
