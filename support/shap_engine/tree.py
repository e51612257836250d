"""Explain one prediction of a registered model: its score, its decision and SHAP contributions per
raw feature, with the top reasons in plain words ("plan = free lowered the score by 0.12").

Pure (numpy, pandas, scikit-learn, shap; no Django): the support pages, the API and the Celery job
call it with an unpickled estimator, the version's feature schema, threshold and stored background.

Two paths, chosen once per model version and cached (see ``explain(..., version_key=)``):

* **tree** — a scikit-learn tree model (HistGradientBoosting, RandomForest, ExtraTrees,
  GradientBoosting, DecisionTree), alone or as the last step of a Pipeline. ``shap.TreeExplainer``
  runs on the final step with the preprocessing applied, and the SHAP values of the encoded columns
  (one-hot dummies) are summed back onto the raw feature they came from. Shapley values are additive,
  so the per-feature sums still add up to the score.
* **exact / permutation** — anything else with ``predict_proba``/``predict``: a model-agnostic
  explainer over the RAW features, wrapping the whole pipeline's score function, with the
  background stored with the version as the masker. Up to ``EXACT_MAX_FEATURES`` features every
  coalition is evaluated (``shap`` exact explainer: exact and deterministic, 2**M x background rows);
  beyond that ``shap``'s permutation explainer samples orderings (seeded). This path needs a
  background and says so with a ValueError when there is none.

Units (the invariant ``base_value + sum(shap) == score`` holds within 1e-6 in the stated units,
checked on every call; for outputs much larger than 1 the bound is 1e-6 relative to their size,
because shap's interventional code accumulates in float32):

* Classifiers are explained in **probability** whenever a background is available: the agent sees a
  probability and compares it with a probability threshold, so "lowered the score by 0.12" must be
  on that scale. For boosted trees (whose leaves are log-odds) that is shap's interventional
  TreeExplainer with ``model_output="probability"``: per background row it takes the exact
  interventional Shapley values of the log-odds and rescales them to sum to p(x) - p(row), then
  averages over the rows, so the values add up exactly to p(x) minus the mean background
  probability (``base_value``). Cost is O(trees x leaves x background rows): ~2 ms for the demo
  model with 100 rows, against ~0.1 ms for the path-dependent algorithm — worth it for words that
  match the score. Forests and single trees already average probabilities in their leaves.
* A boosted-tree classifier WITHOUT a background falls back to the path-dependent algorithm, which
  is exact only for the raw margin: ``units="log-odds"``, and the invariant reads
  ``base_value + sum(shap) == logit(score)``.
* Regression and ranking models are explained in the model's own output: ``units="value"``.

Why the tree path rank-encodes its inputs: shap's interventional algorithm (``tree_shap_indep`` in
shap's C++ extension, still so in 0.51) stores split thresholds as float32 and tests ``x > thres``
against the float64 input. A value equal to a threshold — common with integer or rounded features,
e.g. ``attendees <= 2.0`` or ``meeting_minutes <= 20.8`` in the demo model — then takes the wrong
branch, and the demo model's values missed its score by up to 1.2 log-odds. We therefore give
shap a copy of the trees in which every feature is replaced by its rank among that feature's split
thresholds (an integer, exact in float32) and every threshold ``t_i`` by ``i + 0.5``; the model
computes ``x <= t_i`` exactly when ``rank(x) <= i``, so every branch is taken as the real model
takes it, and the explanation is checked against the model's own score on every call.
"""

from __future__ import annotations

import hashlib
import json
import math
import threading
import time
import warnings
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import numpy as np
import pandas as pd

TASK_TYPES = ("binary_classification", "multiclass_classification", "regression", "ranking")
CLASSIFICATION = ("binary_classification", "multiclass_classification")
NUMERIC_TYPES = ("float", "int")
DTYPES = {"float": "float64", "int": "int64", "bool": "bool", "string": "str", "datetime": "datetime64[ns]"}
DEFAULT_THRESHOLD = 0.5
DEFAULT_BACKGROUND_ROWS = 100
ADDITIVITY_TOLERANCE = 1e-6  # in the explanation's units; relative for outputs larger than 1
EXACT_MAX_FEATURES = 10  # model-agnostic: enumerate every coalition up to this many raw features
PERMUTATION_MAX_EVALS = 500  # model-agnostic beyond that: model calls (x background rows) per row
MAX_REASONS = 5
CACHE_SIZE = 16  # built explainers kept per process (a few versions x task types)

TREE_MODELS = (
    "HistGradientBoostingClassifier", "HistGradientBoostingRegressor",
    "RandomForestClassifier", "RandomForestRegressor",
    "ExtraTreesClassifier", "ExtraTreesRegressor",
    "GradientBoostingClassifier", "GradientBoostingRegressor",
    "DecisionTreeClassifier", "DecisionTreeRegressor",
)
# Transformers whose output column i is computed from input column i alone.
ELEMENTWISE = (
    "StandardScaler", "MinMaxScaler", "MaxAbsScaler", "RobustScaler", "PowerTransformer",
    "QuantileTransformer", "OrdinalEncoder", "Binarizer",
)


class ExplainInputError(ValueError):
    """An input the explainer cannot use; ``field`` names the feature so a form can show it there."""

    def __init__(self, message: str, *, field: str | None = None):
        super().__init__(message)
        self.field = field


class _Unsupported(Exception):
    """The tree path cannot explain this model exactly; the model-agnostic path is used instead."""


# --------------------------------------------------------------------------------------------
# Feature schema, coercion and canonical inputs


@dataclass(frozen=True)
class _Feature:
    name: str
    kind: str  # float | int | bool | string | datetime; anything else is read as string

    @property
    def numeric(self) -> bool:
        return self.kind in NUMERIC_TYPES


def _parse_schema(feature_schema: list[dict]) -> tuple[_Feature, ...]:
    if not feature_schema:
        raise ValueError("The version has no feature schema; an explanation needs to know which columns it reads.")
    features, seen = [], set()
    for entry in feature_schema:
        name = entry.get("name") if isinstance(entry, Mapping) else None
        if not isinstance(name, str) or not name:
            raise ValueError(f"Feature schema entry {entry!r} has no name.")
        if name in seen:
            raise ValueError(f"Feature schema names '{name}' twice.")
        seen.add(name)
        kind = entry.get("type") or "string"
        if kind not in DTYPES:
            kind = "string"
        features.append(_Feature(name, kind))
    return tuple(features)


def _is_missing(value: Any) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    if isinstance(value, (float, np.floating)):
        return math.isnan(value)
    if isinstance(value, str):
        return value.strip() == ""
    return False


_TRUE = {"true", "yes", "1", "y", "t"}
_FALSE = {"false", "no", "0", "n", "f"}


def _coerce(feature: _Feature, value: Any) -> Any:
    """The value as the plain Python type the schema says (float, int, bool, str, Timestamp)."""
    name = feature.name
    if _is_missing(value):
        raise ExplainInputError(f"{name}: a value is required.", field=name)
    if feature.numeric:
        if isinstance(value, (bool, np.bool_)):
            raise ExplainInputError(f"{name} should be a number, not {value!r}.", field=name)
        if isinstance(value, (int, np.integer)):
            number: float | int = int(value)
        elif isinstance(value, (float, np.floating)):
            number = float(value)
        elif isinstance(value, str):
            try:
                number = float(value.strip())
            except ValueError:
                raise ExplainInputError(f"{name} should be a number; got {value!r}.", field=name) from None
        else:
            raise ExplainInputError(f"{name} should be a number; got {value!r}.", field=name)
        if isinstance(number, float) and not math.isfinite(number):
            raise ExplainInputError(f"{name} should be a finite number; got {value!r}.", field=name)
        if feature.kind == "int":
            if isinstance(number, float):
                if not number.is_integer():
                    raise ExplainInputError(f"{name} should be a whole number; got {value!r}.", field=name)
                number = int(number)
            return number
        return float(number) + 0.0  # + 0.0 turns -0.0 into 0.0, so both give one cache key
    if feature.kind == "bool":
        if isinstance(value, (bool, np.bool_)):
            return bool(value)
        if isinstance(value, (int, np.integer)) and value in (0, 1):
            return bool(value)
        text = str(value).strip().lower()
        if text in _TRUE or text in _FALSE:
            return text in _TRUE
        raise ExplainInputError(f"{name} should be true or false; got {value!r}.", field=name)
    if feature.kind == "datetime":
        try:
            stamp = pd.Timestamp(value)
        except (ValueError, TypeError):
            raise ExplainInputError(f"{name} should be a date or date-time; got {value!r}.", field=name) from None
        if stamp is pd.NaT:
            raise ExplainInputError(f"{name}: a value is required.", field=name)
        return stamp.tz_localize(None) if stamp.tzinfo is not None else stamp
    return str(value)


def _record(row: Any, features: tuple[_Feature, ...]) -> dict[str, Any]:
    """One input row (one-row DataFrame, Series or mapping) as {feature: coerced value}."""
    if isinstance(row, pd.DataFrame):
        if len(row) != 1:
            raise ExplainInputError(f"An explanation is for one row; got {len(row)} rows.")
        raw = {column: row[column].iloc[0] for column in row.columns}
    elif isinstance(row, pd.Series):
        raw = row.to_dict()
    elif isinstance(row, Mapping):
        raw = dict(row)
    else:
        raise ExplainInputError(f"An input row must be a one-row DataFrame or a mapping, not {type(row).__name__}.")
    names = [feature.name for feature in features]
    missing = [name for name in names if name not in raw]
    if missing:
        raise ExplainInputError(f"Missing feature{'s' if len(missing) > 1 else ''}: {', '.join(missing)}.",
                                field=missing[0])
    unknown = [str(key) for key in raw if key not in names]
    if unknown:
        raise ExplainInputError(
            f"Unknown feature{'s' if len(unknown) > 1 else ''}: {', '.join(unknown)} "
            f"(this model reads {', '.join(names)}).", field=unknown[0])
    return {feature.name: _coerce(feature, raw[feature.name]) for feature in features}


def _jsonable(value: Any) -> Any:
    if isinstance(value, (pd.Timestamp, datetime, date)):
        return value.isoformat()
    return value


def _frame(records: list[dict], features: tuple[_Feature, ...]) -> pd.DataFrame:
    """Coerced records as a DataFrame with the dtypes a model trained on the schema's columns saw."""
    columns = {}
    for feature in features:
        values = [record[feature.name] for record in records]
        if feature.kind == "datetime":
            columns[feature.name] = pd.to_datetime(pd.Series(values, dtype=object)).astype("datetime64[ns]")
        else:
            columns[feature.name] = pd.Series(values, dtype=DTYPES[feature.kind])
    return pd.DataFrame(columns)


def row_frame(values: Mapping[str, Any], feature_schema: list[dict]) -> pd.DataFrame:
    """A form's or an API body's values as the one-row, typed DataFrame ``explain`` takes.
    Raises ExplainInputError naming the feature on a missing, unknown or mistyped value."""
    features = _parse_schema(feature_schema)
    return _frame([_record(values, features)], features)


def _key(record: dict[str, Any]) -> str:
    canonical = json.dumps({name: _jsonable(value) for name, value in record.items()},
                           sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def input_key(row_dict: Mapping[str, Any], feature_schema: list[dict]) -> str:
    """sha256 of the canonical input: the same customer typed as "45", 45 or 45.0 (for a float
    feature), with keys in any order, gives the same key; any changed value gives another.
    Cache explanations per (version, input_key). Raises like ``row_frame`` on bad input."""
    return _key(_record(row_dict, _parse_schema(feature_schema)))


# --------------------------------------------------------------------------------------------
# Background sample stored with a version


def make_background(frame: pd.DataFrame, features: list[str], *, rows: int = DEFAULT_BACKGROUND_ROWS,
                    seed: int = 0) -> pd.DataFrame:
    """A small, deterministic sample of complete rows (the same frame and seed always give the same
    rows, in their original order) to store with a version as the explainers' background."""
    if rows < 1:
        raise ValueError("A background needs at least one row.")
    missing = [name for name in features if name not in frame.columns]
    if missing:
        raise ValueError(f"The frame lacks feature column(s): {', '.join(missing)}.")
    complete = frame.loc[frame[features].notna().all(axis=1), list(features)]
    if complete.empty:
        raise ValueError("The frame has no row with every feature filled in.")
    rng = np.random.default_rng(seed)
    picked = np.sort(rng.choice(len(complete), size=min(rows, len(complete)), replace=False))
    return complete.iloc[picked].reset_index(drop=True)


def background_to_records(background: pd.DataFrame, feature_schema: list[dict]) -> list[dict]:
    """JSON-ready records (plain str/int/float/bool, ISO dates) of a background, in schema order."""
    features = _parse_schema(feature_schema)
    return [{name: _jsonable(value) for name, value in record.items()}
            for record in _background_records(background, features)]


def background_from_records(records: list[dict], feature_schema: list[dict]) -> pd.DataFrame:
    """The stored records back as a DataFrame with the schema's dtypes (str, float64, int64, ...)."""
    features = _parse_schema(feature_schema)
    if not records:
        raise ValueError("The stored background has no rows.")
    return _frame(_background_records(pd.DataFrame(list(records)), features), features)


def _background_records(background: pd.DataFrame, features: tuple[_Feature, ...]) -> list[dict]:
    names = [feature.name for feature in features]
    missing = [name for name in names if name not in background.columns]
    if missing:
        raise ValueError(f"The background lacks feature column(s): {', '.join(missing)}.")
    out = []
    for number, raw in enumerate(background[names].to_dict("records"), 1):
        try:
            out.append({feature.name: _coerce(feature, raw[feature.name]) for feature in features})
        except ExplainInputError as exc:
            raise ValueError(f"Background row {number}: {exc}") from None
    return out


def _background_frame(background: pd.DataFrame | list[dict] | None,
                      features: tuple[_Feature, ...]) -> pd.DataFrame | None:
    if background is None:
        return None
    if not isinstance(background, pd.DataFrame):
        background = pd.DataFrame(list(background))
    if background.empty:
        raise ValueError("The background has no rows.")
    return _frame(_background_records(background, features), features)


# --------------------------------------------------------------------------------------------
# Scores, as registry.gate.score computes them


class _Scorer:
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
class _Attribution:
    method: str
    algorithm: str
    units: str
    score: float  # the model's score as the agent sees it (probability / value)
    base_value: float  # in `units`
    phi: np.ndarray  # per raw feature, in `units`
    target: int | None  # class index explained (classification)
    output: float  # what base_value + sum(phi) must equal: the score, or its log-odds


def _class_name(obj) -> str:
    return type(obj).__name__


# --------------------------------------------------------------------------------------------
# Tree path


def _split_pipeline(model):
    from sklearn.pipeline import Pipeline

    if isinstance(model, Pipeline):
        final = model.steps[-1][1]
        pre = model[:-1] if len(model.steps) > 1 else None
        return pre, final
    return None, model


def _local_sources(transformer, n_in: int, n_out: int) -> list[int]:
    """For a fitted transformer with n_in inputs, the input index each of its n_out outputs reads."""
    from sklearn.pipeline import Pipeline

    if transformer == "passthrough":
        return list(range(n_in))
    if n_in == 1:
        return [0] * n_out
    if isinstance(transformer, Pipeline):
        sources = list(range(n_in))
        for _, step in transformer.steps:
            if step is None or step == "passthrough":
                continue
            width = _n_out(step, len(sources))
            sources = [sources[i] for i in _local_sources(step, len(sources), width)]
        if len(sources) != n_out:
            raise _Unsupported("a nested pipeline's output width could not be traced")
        return sources
    name = _class_name(transformer)
    if name == "OneHotEncoder":
        counts = getattr(transformer, "_n_features_outs", None)
        if counts is None or len(counts) != n_in or sum(counts) != n_out:
            raise _Unsupported("the one-hot encoder's columns could not be traced to its inputs")
        return [i for i, count in enumerate(counts) for _ in range(count)]
    if name == "SimpleImputer" and not getattr(transformer, "add_indicator", False) and n_out == n_in:
        return list(range(n_in))
    if name == "FunctionTransformer" and transformer.func is None and n_out == n_in:
        return list(range(n_in))
    if name in ELEMENTWISE and n_out == n_in:
        return list(range(n_in))
    raise _Unsupported(f"{name} mixes its input columns, so its outputs cannot be given back to one feature")


def _n_out(transformer, n_in: int) -> int:
    try:
        return len(transformer.get_feature_names_out())
    except Exception as exc:  # a transformer without feature names cannot be traced
        raise _Unsupported(f"{_class_name(transformer)} does not report its output columns ({exc})") from None


def _column_sources(pre, final, names: list[str]) -> np.ndarray:
    """The raw feature (index into `names`) that each column the final estimator reads comes from."""
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline

    n_final = int(final.n_features_in_)
    if pre is None:
        fitted = list(getattr(final, "feature_names_in_", names))
        if len(fitted) != n_final or any(name not in names for name in fitted):
            raise _Unsupported("the model's input columns are not the schema's features")
        return np.array([names.index(name) for name in fitted])
    steps = [step for _, step in pre.steps] if isinstance(pre, Pipeline) else [pre]
    sources: list[int] | None = None  # per current column: raw feature index
    for step in steps:
        if step is None or step == "passthrough":
            continue
        if isinstance(step, ColumnTransformer):
            if sources is not None:
                raise _Unsupported("a ColumnTransformer after another step cannot be traced")
            fitted_in = list(step.feature_names_in_) if hasattr(step, "feature_names_in_") else names
            if any(name not in names for name in fitted_in):
                raise _Unsupported("the preprocessing reads columns outside the feature schema")
            width = len(step.get_feature_names_out())
            sources = [-1] * width
            for name, transformer, _ in step.transformers_:
                out = step.output_indices_.get(name, slice(0, 0))
                if transformer == "drop" or out.stop <= out.start:
                    continue
                inputs = step._transformer_to_input_indices[name]
                local = _local_sources(transformer, len(inputs), out.stop - out.start)
                for offset, index in enumerate(local):
                    sources[out.start + offset] = names.index(fitted_in[inputs[index]])
        else:
            if sources is None:
                raise _Unsupported(f"the preprocessing starts with {_class_name(step)}, not a ColumnTransformer")
            local = _local_sources(step, len(sources), _n_out(step, len(sources)))
            sources = [sources[i] for i in local]
    if sources is None or len(sources) != n_final or min(sources) < 0:
        raise _Unsupported("the preprocessed columns could not be traced to the features")
    return np.array(sources)


class _CompiledOneHot:
    """A ColumnTransformer of one-hot encoders and passthrough columns, applied to coerced records
    with dict look-ups instead of pandas: ~20 us instead of ~5 ms for one row, which is most of a
    warm single-row explanation. Only built when the fitted transformer is of exactly that shape, and
    only used after it reproduced the real transform on the background and on unseen categories."""

    def __init__(self, width: int, blocks: list[tuple]):
        self.width = width
        self.blocks = blocks  # ("onehot", feature, {category: column}) | ("pass", feature, column)

    @classmethod
    def compile(cls, pre, features: tuple[_Feature, ...]) -> _CompiledOneHot | None:
        from sklearn.compose import ColumnTransformer
        from sklearn.pipeline import Pipeline

        if isinstance(pre, Pipeline):
            steps = [step for _, step in pre.steps if step is not None and step != "passthrough"]
            if len(steps) != 1:
                return None
            pre = steps[0]
        if not isinstance(pre, ColumnTransformer) or getattr(pre, "sparse_output_", False):
            return None
        if (getattr(pre, "_sklearn_output_config", None) or {}).get("transform") not in (None, "default"):
            return None
        kinds = {feature.name: feature for feature in features}
        fitted_in = list(getattr(pre, "feature_names_in_", []))
        if any(name not in kinds for name in fitted_in):
            return None
        blocks = []
        for name, transformer, _ in pre.transformers_:
            out = pre.output_indices_.get(name, slice(0, 0))
            if transformer == "drop" or out.stop <= out.start:
                continue
            inputs = [fitted_in[i] for i in pre._transformer_to_input_indices[name]]
            kind = _class_name(transformer)
            identity = transformer == "passthrough" or (
                kind == "FunctionTransformer" and transformer.func is None and transformer.inverse_func is None)
            if identity:
                if any(not kinds[feature].numeric for feature in inputs):
                    return None
                blocks += [("pass", feature, out.start + i) for i, feature in enumerate(inputs)]
            elif kind == "OneHotEncoder":
                if (transformer.handle_unknown != "ignore" or transformer.drop_idx_ is not None
                        or getattr(transformer, "_infrequent_enabled", False)):
                    return None
                column = out.start
                for feature, categories in zip(inputs, transformer.categories_):
                    blocks.append(("onehot", feature, {value: column + i for i, value in enumerate(categories.tolist())}))
                    column += len(categories)
                if column != out.stop:
                    return None
            else:
                return None
        return cls(len(pre.get_feature_names_out()), blocks)

    def __call__(self, records: list[dict]) -> np.ndarray:
        X = np.zeros((len(records), self.width), dtype=np.float64)
        for r, record in enumerate(records):
            for block in self.blocks:
                if block[0] == "pass":
                    X[r, block[2]] = record[block[1]]
                else:
                    column = block[2].get(record[block[1]])
                    if column is not None:
                        X[r, column] = 1.0
        return X


def _shap():
    """shap, imported on first use (it takes ~1 s; input checks and keys do not need it)."""
    with warnings.catch_warnings():
        # shap 0.51's colormap setup uses setters matplotlib 3.11 plans to deprecate.
        warnings.simplefilter("ignore", PendingDeprecationWarning)
        import shap
    return shap


def warm_up() -> float:
    """Compile the numba kernels behind shap's model-agnostic explainers, once per process.

    shap's exact and permutation explainers jit-compile their masking helpers with numba on first
    use and do not cache them on disk: the first model-agnostic explanation in a fresh process takes
    ~8-10 s longer than the next one. A worker can call this at start (e.g. Celery's
    ``worker_process_init``) so no agent waits for it. Returns the seconds spent."""
    started = time.perf_counter()
    shap = _shap()
    background = np.array([[0.0, 1.0], [1.0, 0.0], [0.5, 0.5]])
    row = np.array([[1.0, 1.0]])
    for score in (lambda X: X.sum(axis=1), lambda X: np.stack([X.sum(axis=1), -X.sum(axis=1)], axis=1)):
        masker = shap.maskers.Independent(background, max_samples=len(background))
        shap.explainers.Exact(score, masker)(row, silent=True)
        shap.explainers.Permutation(score, masker, seed=0)(row, silent=True, max_evals=10)
    return time.perf_counter() - started


_THREADS = None


def _one_thread():
    """One OpenMP thread while scoring a row (as mlops.demo.training does for fitting): for a single
    row, HistGradientBoosting's thread pool costs more than it saves. The controller is built once:
    ``threadpool_limits()`` rescans the loaded libraries on each use (~3 ms)."""
    global _THREADS
    from threadpoolctl import ThreadpoolController

    if _THREADS is None:
        _THREADS = ThreadpoolController()
    return _THREADS.limit(limits=1, user_api="openmp")


class _TreePath:
    method = "tree"

    def __init__(self, model, task_type: str, features: tuple[_Feature, ...], background: pd.DataFrame | None):
        shap = _shap()
        pre, final = _split_pipeline(model)
        if _class_name(final) not in TREE_MODELS:
            raise _Unsupported(f"the model is a {_class_name(final)}, not a scikit-learn tree model")
        if getattr(final, "is_categorical_", None) is not None and np.any(final.is_categorical_):
            raise _Unsupported("native categorical splits are not explained by shap's tree explainer")
        if _class_name(final) == "HistGradientBoostingRegressor" and final.loss not in (
                "squared_error", "absolute_error", "quantile"):
            raise _Unsupported(f"a {final.loss} loss predicts through a link shap's tree explainer ignores")
        self.task_type = task_type
        self.pre = pre
        self.features = features
        self.compiled = None
        self.names = [feature.name for feature in features]
        self.sources = _column_sources(pre, final, self.names)
        # Without preprocessing the model reads the raw columns in the order it was fitted with
        # (as a DataFrame only if it was fitted on one).
        self.columns = [self.names[j] for j in self.sources] if pre is None else self.names
        self.named_input = pre is not None or hasattr(final, "feature_names_in_")
        self.scorer = _Scorer(final, task_type)  # on the preprocessed columns
        self.final = final
        self.lock = threading.Lock()

        try:
            plain = shap.TreeExplainer(final)  # parses the trees; path-dependent, raw margin
        except Exception as exc:  # a tree model shap cannot read is explained the model-agnostic way
            raise _Unsupported(f"shap's tree explainer cannot read it ({exc})") from None
        ensemble = plain.model
        outputs = int(ensemble.num_outputs)
        self.tree_output = ensemble.tree_output
        self.input_dtype = ensemble.input_dtype
        if task_type in CLASSIFICATION:
            n_classes = len(self.scorer.classes)
            if ensemble.tree_output == "probability" and outputs == n_classes:
                self.link = "identity"  # leaves hold class probabilities (forests, single trees)
            elif ensemble.tree_output == "log_odds" and outputs == 1 and n_classes == 2:
                self.link = "logistic"  # leaves hold log-odds of classes_[1] (boosting, binary)
            else:
                raise _Unsupported(f"{_class_name(final)} with {n_classes} classes has no exact "
                                   "probability explanation in shap's tree explainer")
        elif ensemble.tree_output == "raw_value" and outputs == 1:
            self.link = "identity"
        else:
            raise _Unsupported(f"{_class_name(final)}'s tree output {ensemble.tree_output!r} is not its prediction")

        # The background is canonical already (built by _background_frame): its records need no checks.
        records = None if background is None else background.to_dict("records")
        self.compiled = self._compile(pre, final, records)
        if background is None:
            # No background: tree-path-dependent SHAP (training counts in the leaves), exact for the
            # raw output only — log-odds for boosted classifiers.
            self.explainer = plain
            self.units = "log-odds" if self.link == "logistic" else ("probability" if task_type in CLASSIFICATION
                                                                     else "value")
            self.cuts = None
            self.algorithm = "shap.TreeExplainer (tree_path_dependent, raw output)"
            return

        # Interventional against the background, on rank-encoded copies of the trees (see the
        # module docstring for the float32-threshold problem this avoids).
        cuts: dict[int, list] = {}
        for tree in ensemble.trees:
            internal = tree.children_left >= 0
            for feature, threshold in zip(tree.features[internal], tree.thresholds[internal]):
                cuts.setdefault(int(feature), []).append(float(threshold))
        width = len(self.sources)
        self.cuts = [np.unique(np.array(cuts.get(j, []), dtype=np.float64)) for j in range(width)]
        trees = []
        for tree in ensemble.trees:
            thresholds = np.zeros(len(tree.thresholds), dtype=np.float64)
            for node in np.flatnonzero(tree.children_left >= 0):
                j = int(tree.features[node])
                thresholds[node] = float(np.searchsorted(self.cuts[j], float(tree.thresholds[node]))) + 0.5
            trees.append({
                "children_left": tree.children_left, "children_right": tree.children_right,
                "children_default": tree.children_default, "features": tree.features,
                "thresholds": thresholds, "values": tree.values, "node_sample_weight": tree.node_sample_weight,
            })
        ranked = {"trees": trees, "base_offset": ensemble.base_offset, "tree_output": ensemble.tree_output,
                  "objective": ensemble.objective, "input_dtype": np.float64, "internal_dtype": np.float64}
        model_input, matrix = self._transform(records)
        codes = self._encode(matrix)
        self.explainer = shap.TreeExplainer(
            ranked, data=codes, feature_perturbation="interventional",
            model_output="probability" if self.link == "logistic" else "raw")
        self.units = "probability" if task_type in CLASSIFICATION else "value"
        self.algorithm = f"shap.TreeExplainer (interventional, {len(background)} background rows)"
        # The rank-encoded trees must predict what the model predicts, or the tree path is not used.
        # Its predict answers in the explained units (probabilities for model_output="probability").
        predicted = np.asarray(self.explainer.model.predict(codes), dtype=float)
        if self.link == "logistic":
            mine = predicted.reshape(-1)
            theirs = np.asarray(final.predict_proba(model_input), dtype=float)[:, 1]
        elif task_type in CLASSIFICATION:
            mine = predicted.reshape(len(codes), -1)
            theirs = np.asarray(final.predict_proba(model_input), dtype=float)
        else:
            mine = predicted.reshape(-1)
            theirs = np.asarray(final.predict(model_input), dtype=float).reshape(-1)
        tolerance = 1e-9 * max(1.0, float(np.max(np.abs(theirs))))
        if mine.shape != theirs.shape or not np.allclose(mine, theirs, rtol=0, atol=tolerance):
            raise _Unsupported("shap's reading of the trees does not reproduce the model's predictions")

    def _compile(self, pre, final, background: list[dict] | None) -> _CompiledOneHot | None:
        compiled = _CompiledOneHot.compile(pre, self.features) if pre is not None else None
        if compiled is None:
            return None
        # Checked against the real transform: the background's rows (or, without one, one row of
        # each fitted category) and a row of categories the encoders never saw.
        if background is not None:
            records = list(background)
        else:
            records = []
            for block in compiled.blocks:
                if block[0] == "onehot":
                    for value in block[2]:
                        records.append({feature.name: (1 if feature.numeric else value if feature.name == block[1]
                                                       else "") for feature in self.features})
        unseen = {feature.name: (0 if feature.numeric else "\x00keel-unseen") for feature in self.features}
        records = [*records, unseen]
        try:
            real = self.pre.transform(_frame(records, self.features))
        except Exception:  # the synthetic rows do not suit this preprocessing: keep the real transform
            return None
        real = np.asarray(real.toarray() if hasattr(real, "toarray") else real, dtype=np.float64)
        return compiled if real.shape == (len(records), compiled.width) and np.array_equal(real, compiled(records)) \
            else None

    def _transform(self, records: list[dict]):
        """(what the final estimator is given, the same as a float64 matrix for shap)."""
        if self.compiled is not None:
            X = self.compiled(records)
            return X, X
        frame = _frame(records, self.features)
        X = frame[self.columns] if self.pre is None else self.pre.transform(frame)
        if not self.named_input:
            X = X.to_numpy(dtype=np.float64)
        matrix = X.toarray() if hasattr(X, "toarray") else X
        return X, np.asarray(matrix, dtype=np.float64)

    def _encode(self, X: np.ndarray) -> np.ndarray:
        """Each column as its rank among that column's split thresholds: rank(x) <= i iff x <= t_i."""
        # The model compares in its own input dtype (float32 for scikit-learn's classic trees).
        X = X.astype(self.input_dtype).astype(np.float64)
        codes = np.empty_like(X)
        for j, cuts in enumerate(self.cuts):
            codes[:, j] = np.searchsorted(cuts, X[:, j], side="left")
        codes[np.isnan(X)] = np.nan
        return codes

    def attribute(self, record: dict) -> _Attribution:
        model_input, X = self._transform([record])
        with _one_thread():
            scores = self.scorer(model_input)
        with self.lock:
            if self.cuts is None:
                values = self.explainer.shap_values(X, check_additivity=False)
            else:
                values = self.explainer.shap_values(self._encode(X), check_additivity=False)
            expected = np.atleast_1d(np.asarray(self.explainer.expected_value, dtype=float))
        values = np.asarray(values, dtype=float)[0]  # (columns,) or (columns, outputs)
        if values.ndim == 1:
            values = values[:, None]
        target = None
        if self.task_type == "binary_classification":
            score = float(scores[0])
            target = self.scorer.positive
            if self.link == "logistic":
                column, flip = 0, target == 0  # the margin is for classes_[1]
            else:
                column, flip = target, False
        elif self.task_type == "multiclass_classification":
            target = int(np.argmax(scores[0]))
            score = float(scores[0, target])
            column, flip = target, False
        else:
            score = float(scores[0])
            column, flip = 0, False
        column_phi = values[:, column]
        base = float(expected[column] if len(expected) > 1 else expected[0])
        if flip:  # explain classes_[0]: p0 = 1 - p1, logit(p0) = -logit(p1)
            column_phi = -column_phi
            base = -base if self.units == "log-odds" else 1.0 - base
        phi = np.zeros(len(self.names))
        np.add.at(phi, self.sources, column_phi)
        output = score
        if self.units == "log-odds":  # the model's own margin, exact even where p rounds to 0 or 1
            margin = float(np.ravel(self.final.decision_function(model_input))[0])
            output = -margin if flip else margin
        return _Attribution(self.method, self.algorithm, self.units, score, base, phi, target, output)


# --------------------------------------------------------------------------------------------
# Model-agnostic path


class _Codec:
    """Raw feature values <-> the float matrix shap's maskers need: numbers as themselves, other
    values as their index among the background's values. A value of the explained row that the
    background lacks (e.g. a new event type) gets the next index for that one call only, so the
    vocabulary never grows; callers hold the explainer's lock from encode_row() to the last decode()."""

    def __init__(self, features: tuple[_Feature, ...], background: pd.DataFrame):
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
        return np.array([[known.get(feature.name, record[feature.name] if feature.numeric
                                    else self.codes[feature.name].get(record[feature.name]))
                          for feature in self.features]], dtype=np.float64)

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


class _AgnosticPath:
    def __init__(self, model, task_type: str, features: tuple[_Feature, ...], background: pd.DataFrame | None):
        shap = _shap()
        if background is None:
            raise ValueError(
                f"A {_class_name(_split_pipeline(model)[1])} is explained by the model-agnostic explainer, "
                "which needs a background sample stored with the version; none was given.")
        self.task_type = task_type
        self.features = features
        self.scorer = _Scorer(model, task_type)
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
            self.algorithm = (f"shap ExactExplainer over {len(features)} raw features "
                              f"({len(background)} background rows)")
        else:
            self.method = "permutation"
            self.explainer = shap.explainers.Permutation(score, masker, feature_names=names, seed=0)
            self.call_args = {"max_evals": max(PERMUTATION_MAX_EVALS, 2 * len(features) + 1)}
            self.algorithm = (f"shap PermutationExplainer over {len(features)} raw features "
                              f"({len(background)} background rows, {self.call_args['max_evals']} evaluations)")
        self.units = "probability" if task_type in CLASSIFICATION else "value"

    def attribute(self, record: dict) -> _Attribution:
        with self.lock, _one_thread():  # shap's maskers and the codec's row values are per call
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
        return _Attribution(self.method, self.algorithm, self.units, score, base, np.asarray(phi, dtype=float),
                            target, score)


# --------------------------------------------------------------------------------------------
# Per-process cache of built explainers


class _ExplainerCache:
    def __init__(self, maxsize: int):
        self.maxsize = maxsize
        self.entries: OrderedDict = OrderedDict()
        self.lock = threading.Lock()
        self.hits = self.misses = 0

    def get(self, key):
        with self.lock:
            entry = self.entries.get(key)
            if entry is not None:
                self.entries.move_to_end(key)
                self.hits += 1
            return entry

    def put(self, key, entry) -> None:
        with self.lock:
            self.misses += 1
            self.entries[key] = entry
            self.entries.move_to_end(key)
            while len(self.entries) > self.maxsize:
                self.entries.popitem(last=False)

    def clear(self) -> None:
        with self.lock:
            self.entries.clear()
            self.hits = self.misses = 0


_CACHE = _ExplainerCache(CACHE_SIZE)


def clear_explainer_cache() -> None:
    _CACHE.clear()


def explainer_cache_info() -> dict:
    with _CACHE.lock:
        return {"hits": _CACHE.hits, "misses": _CACHE.misses, "size": len(_CACHE.entries),
                "maxsize": _CACHE.maxsize}


def is_explainer_cached(version_key: str, task_type: str) -> bool:
    """Whether an explanation for this version would be warm (no explainer to build)."""
    with _CACHE.lock:
        return (version_key, task_type) in _CACHE.entries


def _build(estimator, task_type, features, background):
    model = estimator() if callable(estimator) and not hasattr(estimator, "fit") else estimator
    background_frame = _background_frame(background, features)
    try:
        return _TreePath(model, task_type, features, background_frame)
    except _Unsupported:
        return _AgnosticPath(model, task_type, features, background_frame)


# --------------------------------------------------------------------------------------------
# Entry point


def _display(feature: _Feature, value: Any) -> str:
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
    return _display(_Feature("", "float"), float(score))


def explain(estimator, row: pd.DataFrame | Mapping[str, Any], *, task_type: str, feature_schema: list[dict],
            threshold: float | None, background: pd.DataFrame | list[dict] | None,
            version_key: str | None = None, max_reasons: int = MAX_REASONS) -> dict:
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
    features = _parse_schema(feature_schema)
    record = _record(row, features)
    if task_type == "binary_classification":
        threshold = DEFAULT_THRESHOLD if threshold is None else float(threshold)
    else:
        threshold = None

    if version_key is None:
        engine = _build(estimator, task_type, features, background)
    else:
        key = (version_key, task_type)
        engine = _CACHE.get(key)
        if engine is None:
            engine = _build(estimator, task_type, features, background)
            _CACHE.put(key, engine)
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
            f"{float(np.sum(attribution.phi)):.6g} != {explained_output:.6g} ({attribution.method} path).")

    contributions = [
        {"feature": feature.name, "value": _display(feature, record[feature.name]), "shap": float(phi)}
        for feature, phi in zip(features, attribution.phi)
    ]
    contributions.sort(key=lambda item: -abs(item["shap"]))  # stable: schema order breaks ties
    reasons = [_reason(item, attribution.units, task_type, explained_class)
               for item in contributions[:max_reasons] if item["shap"] != 0]
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
        "input_key": _key(record),
    }
