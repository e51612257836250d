"""What both explainer paths share: the model's score as the agent sees it (as the registry's gate
computes it), the attribution each path returns, and shap itself, imported on first use."""

from __future__ import annotations

import contextlib
import warnings
from dataclasses import dataclass

import numpy as np

from .inputs import CLASSIFICATION


class Scorer:
    def __init__(self, model, task_type: str):
        self.model = model
        self.task_type = task_type
        self.classes: list | None = None
        self.positive = None
        if task_type in CLASSIFICATION:
            if not hasattr(model, "predict_proba"):
                raise ValueError(f"A {task_type.replace('_', ' ')} model needs predict_proba to be explained.")
            self.classes = list(model.classes_)
            if task_type == "binary_classification":
                if len(self.classes) != 2:
                    raise ValueError(f"A binary model should have two classes; this one has {len(self.classes)}.")
                self.positive = self.classes.index(1) if 1 in self.classes else len(self.classes) - 1

    def __call__(self, X) -> np.ndarray:
        """(n,) scores for binary/regression/ranking; (n, classes) probabilities for multiclass."""
        if self.task_type == "binary_classification":
            return np.asarray(self.model.predict_proba(X), dtype=float)[:, self.positive]
        if self.task_type == "multiclass_classification":
            return np.asarray(self.model.predict_proba(X), dtype=float)
        return np.asarray(self.model.predict(X), dtype=float).reshape(-1)


@dataclass
class Attribution:
    method: str
    algorithm: str
    units: str
    score: float  # the model's score as the agent sees it (probability / value)
    base_value: float  # in `units`
    phi: np.ndarray  # per raw feature, in `units`
    target: int | None  # class index explained (classification)
    output: float  # what base_value + sum(phi) must equal: the score, or its log-odds


def class_name(obj) -> str:
    return type(obj).__name__


def split_pipeline(model):
    from sklearn.pipeline import Pipeline

    if isinstance(model, Pipeline):
        final = model.steps[-1][1]
        pre = model[:-1] if len(model.steps) > 1 else None
        return pre, final
    return None, model


def import_shap():
    """shap, imported on first use (it takes ~1 s; input checks and keys do not need it)."""
    with warnings.catch_warnings():
        # shap 0.51's colormap setup uses setters matplotlib 3.11 plans to deprecate.
        warnings.simplefilter("ignore", PendingDeprecationWarning)
        import shap
    return shap


_THREADS = None
_SINGLE_THREADED = False


def run_single_threaded() -> None:
    """This process's native libraries already run one thread (the isolated scorer's environment
    says so, and it refuses threadpoolctl's library loading): one_thread() then does nothing."""
    global _SINGLE_THREADED
    _SINGLE_THREADED = True


def one_thread():
    """One OpenMP thread while scoring a row (as demo.training does for fitting): for a single
    row, HistGradientBoosting's thread pool costs more than it saves. The controller is built once:
    ``threadpool_limits()`` rescans the loaded libraries on each use (~3 ms)."""
    global _THREADS
    if _SINGLE_THREADED:
        return contextlib.nullcontext()
    from threadpoolctl import ThreadpoolController

    if _THREADS is None:
        _THREADS = ThreadpoolController()
    return _THREADS.limit(limits=1, user_api="openmp")
