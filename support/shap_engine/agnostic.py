"""The model-agnostic path: shap's exact explainer (every coalition, up to EXACT_MAX_FEATURES raw
features) or its permutation explainer beyond that, over the raw features, wrapping the whole
pipeline's score function, with the version's background as the masker."""

from __future__ import annotations

import threading
import time

import numpy as np
import pandas as pd

from .inputs import CLASSIFICATION, DTYPES, Feature
from .scoring import Attribution, Scorer, class_name, import_shap, one_thread, split_pipeline

EXACT_MAX_FEATURES = 10  # model-agnostic: enumerate every coalition up to this many raw features
PERMUTATION_MAX_EVALS = 500  # model-agnostic beyond that: model calls (x background rows) per row


def warm_up() -> float:
    """Compile the numba kernels behind shap's model-agnostic explainers, once per process.

    shap's exact and permutation explainers jit-compile their masking helpers with numba on first
    use and do not cache them on disk: the first model-agnostic explanation in a fresh process takes
    ~8-10 s longer than the next one. A worker can call this at start (e.g. Celery's
    ``worker_process_init``) so no agent waits for it. Returns the seconds spent."""
    started = time.perf_counter()
    shap = import_shap()
    background = np.array([[0.0, 1.0], [1.0, 0.0], [0.5, 0.5]])
    row = np.array([[1.0, 1.0]])
    for score in (lambda X: X.sum(axis=1), lambda X: np.stack([X.sum(axis=1), -X.sum(axis=1)], axis=1)):
        masker = shap.maskers.Independent(background, max_samples=len(background))
        shap.explainers.Exact(score, masker)(row, silent=True)
        shap.explainers.Permutation(score, masker, seed=0)(row, silent=True, max_evals=10)
    return time.perf_counter() - started


class _Codec:
    """Raw feature values <-> the float matrix shap's maskers need: numbers as themselves, other
    values as their index among the background's values. A value of the explained row that the
    background lacks (e.g. a new event type) gets the next index for that one call only, so the
    vocabulary never grows; callers hold the explainer's lock from encode_row() to the last decode()."""

    def __init__(self, features: tuple[Feature, ...], background: pd.DataFrame):
        self.features = features
        self.codes: dict[str, dict] = {}
        self.lookup: dict[str, np.ndarray] = {}
        for feature in features:
            if not feature.numeric:
                values = list(dict.fromkeys(background[feature.name].tolist()))
                self.codes[feature.name] = {value: code for code, value in enumerate(values)}
                self.lookup[feature.name] = _objects(values)
        self.row_lookup: dict[str, np.ndarray] = {}
        self.background = self._encode(background.to_dict("records"))

    def _encode(self, records: list[dict]) -> np.ndarray:
        out = np.empty((len(records), len(self.features)), dtype=np.float64)
        for j, feature in enumerate(self.features):
            if feature.numeric:
                out[:, j] = [record[feature.name] for record in records]
            else:
                out[:, j] = [self.codes[feature.name][record[feature.name]] for record in records]
        return out

    def encode_row(self, record: dict) -> np.ndarray:
        self.row_lookup = {}
        known = {}
        for feature in self.features:
            value = record[feature.name]
            if not feature.numeric and value not in self.codes[feature.name]:
                self.row_lookup[feature.name] = _objects([*self.lookup[feature.name], value])
                known[feature.name] = len(self.lookup[feature.name])
        return np.array(
            [
                [
                    known.get(
                        feature.name,
                        record[feature.name] if feature.numeric else self.codes[feature.name].get(record[feature.name]),
                    )
                    for feature in self.features
                ]
            ],
            dtype=np.float64,
        )

    def decode(self, codes: np.ndarray) -> pd.DataFrame:
        columns = {}
        for j, feature in enumerate(self.features):
            if feature.numeric:
                column = codes[:, j]
                columns[feature.name] = column.astype(np.int64) if feature.kind == "int" else column
                continue
            lookup = self.row_lookup.get(feature.name, self.lookup[feature.name])
            values = lookup[codes[:, j].astype(np.int64)]
            if feature.kind == "datetime":
                columns[feature.name] = pd.to_datetime(pd.Series(values)).astype("datetime64[ns]")
            else:
                columns[feature.name] = pd.Series(values, dtype=DTYPES[feature.kind])
        return pd.DataFrame(columns)


def _objects(values: list) -> np.ndarray:
    array = np.empty(len(values), dtype=object)
    array[:] = values
    return array


class AgnosticPath:
    def __init__(self, model, task_type: str, features: tuple[Feature, ...], background: pd.DataFrame | None):
        shap = import_shap()
        if background is None:
            raise ValueError(
                f"A {class_name(split_pipeline(model)[1])} is explained by the model-agnostic explainer, "
                "which needs a background sample stored with the version; none was given."
            )
        self.task_type = task_type
        self.features = features
        self.scorer = Scorer(model, task_type)
        self.codec = _Codec(features, background)
        self.lock = threading.Lock()
        masker = shap.maskers.Independent(self.codec.background, max_samples=len(background))

        self.pending: np.ndarray | None = None  # the explained row's codes, while shap runs
        self.row_score = None

        def score(codes: np.ndarray) -> np.ndarray:
            # The explained row rides along with shap's first batch, so the score the agent sees
            # costs no model call of its own (a pipeline call has a fixed cost of several ms).
            extra = self.pending
            if extra is not None:
                self.pending = None
                out = self.scorer(self.codec.decode(np.vstack([codes, extra])))
                self.row_score, out = out[-1], out[:-1]
            else:
                out = self.scorer(self.codec.decode(codes))
            # C order, float64: the array types warm_up() compiled shap's numba kernels for (some
            # models' predict_proba returns Fortran-ordered arrays, which would compile anew).
            return np.ascontiguousarray(out, dtype=np.float64)

        names = [feature.name for feature in features]
        if len(features) <= EXACT_MAX_FEATURES:
            self.method = "exact"
            self.explainer = shap.explainers.Exact(score, masker, feature_names=names)
            self.call_args = {}
            self.algorithm = (
                f"shap ExactExplainer over {len(features)} raw features ({len(background)} background rows)"
            )
        else:
            self.method = "permutation"
            self.explainer = shap.explainers.Permutation(score, masker, feature_names=names, seed=0)
            self.call_args = {"max_evals": max(PERMUTATION_MAX_EVALS, 2 * len(features) + 1)}
            self.algorithm = (
                f"shap PermutationExplainer over {len(features)} raw features "
                f"({len(background)} background rows, {self.call_args['max_evals']} evaluations)"
            )
        self.units = "probability" if task_type in CLASSIFICATION else "value"

    def attribute(self, record: dict) -> Attribution:
        with self.lock, one_thread():  # shap's maskers and the codec's row values are per call
            codes = self.codec.encode_row(record)
            self.pending, self.row_score = codes, None
            explanation = self.explainer(codes, silent=True, **self.call_args)
            if self.row_score is None:  # shap made no model call (cannot happen with a background)
                self.pending = None
                self.row_score = self.scorer(self.codec.decode(codes))[0]
            scores = np.asarray(self.row_score, dtype=float)[None, ...]
        values = np.asarray(explanation.values, dtype=float)[0]
        base_values = np.atleast_1d(np.asarray(explanation.base_values, dtype=float)[0])
        target = None
        if self.task_type == "multiclass_classification":
            target = int(np.argmax(scores[0]))
            score, phi, base = float(scores[0, target]), values[:, target], float(base_values[target])
        else:
            score, phi, base = float(scores[0]), values.reshape(len(values), -1)[:, 0], float(base_values[0])
            if self.task_type == "binary_classification":
                target = self.scorer.positive
        return Attribution(
            self.method, self.algorithm, self.units, score, base, np.asarray(phi, dtype=float), target, score
        )
