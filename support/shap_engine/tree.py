"""The tree path: ``shap.TreeExplainer`` on a scikit-learn tree model (alone or as a Pipeline's
last step), with the SHAP values of the encoded columns summed back onto their raw features.

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

import threading

import numpy as np
import pandas as pd

from .inputs import CLASSIFICATION, Feature, typed_frame
from .scoring import Attribution, Scorer, class_name, import_shap, one_thread, split_pipeline

TREE_MODELS = (
    "HistGradientBoostingClassifier",
    "HistGradientBoostingRegressor",
    "RandomForestClassifier",
    "RandomForestRegressor",
    "ExtraTreesClassifier",
    "ExtraTreesRegressor",
    "GradientBoostingClassifier",
    "GradientBoostingRegressor",
    "DecisionTreeClassifier",
    "DecisionTreeRegressor",
)
# Transformers whose output column i is computed from input column i alone.
ELEMENTWISE = (
    "StandardScaler",
    "MinMaxScaler",
    "MaxAbsScaler",
    "RobustScaler",
    "PowerTransformer",
    "QuantileTransformer",
    "OrdinalEncoder",
    "Binarizer",
)


class Unsupported(Exception):
    """The tree path cannot explain this model exactly; the model-agnostic path is used instead."""


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
            raise Unsupported("a nested pipeline's output width could not be traced")
        return sources
    name = class_name(transformer)
    if name == "OneHotEncoder":
        counts = getattr(transformer, "_n_features_outs", None)
        if counts is None or len(counts) != n_in or sum(counts) != n_out:
            raise Unsupported("the one-hot encoder's columns could not be traced to its inputs")
        return [i for i, count in enumerate(counts) for _ in range(count)]
    if name == "SimpleImputer" and not getattr(transformer, "add_indicator", False) and n_out == n_in:
        return list(range(n_in))
    if name == "FunctionTransformer" and transformer.func is None and n_out == n_in:
        return list(range(n_in))
    if name in ELEMENTWISE and n_out == n_in:
        return list(range(n_in))
    raise Unsupported(f"{name} mixes its input columns, so its outputs cannot be given back to one feature")


def _n_out(transformer, n_in: int) -> int:
    try:
        return len(transformer.get_feature_names_out())
    except Exception as exc:  # a transformer without feature names cannot be traced
        raise Unsupported(f"{class_name(transformer)} does not report its output columns ({exc})") from None


def _column_sources(pre, final, names: list[str]) -> np.ndarray:
    """The raw feature (index into `names`) that each column the final estimator reads comes from."""
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline

    n_final = int(final.n_features_in_)
    if pre is None:
        fitted = list(getattr(final, "feature_names_in_", names))
        if len(fitted) != n_final or any(name not in names for name in fitted):
            raise Unsupported("the model's input columns are not the schema's features")
        return np.array([names.index(name) for name in fitted])
    steps = [step for _, step in pre.steps] if isinstance(pre, Pipeline) else [pre]
    sources: list[int] | None = None  # per current column: raw feature index
    for step in steps:
        if step is None or step == "passthrough":
            continue
        if isinstance(step, ColumnTransformer):
            if sources is not None:
                raise Unsupported("a ColumnTransformer after another step cannot be traced")
            fitted_in = list(step.feature_names_in_) if hasattr(step, "feature_names_in_") else names
            if any(name not in names for name in fitted_in):
                raise Unsupported("the preprocessing reads columns outside the feature schema")
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
                raise Unsupported(f"the preprocessing starts with {class_name(step)}, not a ColumnTransformer")
            local = _local_sources(step, len(sources), _n_out(step, len(sources)))
            sources = [sources[i] for i in local]
    if sources is None or len(sources) != n_final or min(sources) < 0:
        raise Unsupported("the preprocessed columns could not be traced to the features")
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
    def compile(cls, pre, features: tuple[Feature, ...]) -> _CompiledOneHot | None:
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
            kind = class_name(transformer)
            identity = transformer == "passthrough" or (
                kind == "FunctionTransformer" and transformer.func is None and transformer.inverse_func is None
            )
            if identity:
                if any(not kinds[feature].numeric for feature in inputs):
                    return None
                blocks += [("pass", feature, out.start + i) for i, feature in enumerate(inputs)]
            elif kind == "OneHotEncoder":
                if (
                    transformer.handle_unknown != "ignore"
                    or transformer.drop_idx_ is not None
                    or getattr(transformer, "_infrequent_enabled", False)
                ):
                    return None
                column = out.start
                for feature, categories in zip(inputs, transformer.categories_):
                    blocks.append(
                        ("onehot", feature, {value: column + i for i, value in enumerate(categories.tolist())})
                    )
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


class TreePath:
    method = "tree"

    def __init__(self, model, task_type: str, features: tuple[Feature, ...], background: pd.DataFrame | None):
        shap = import_shap()
        pre, final = split_pipeline(model)
        if class_name(final) not in TREE_MODELS:
            raise Unsupported(f"the model is a {class_name(final)}, not a scikit-learn tree model")
        if getattr(final, "is_categorical_", None) is not None and np.any(final.is_categorical_):
            raise Unsupported("native categorical splits are not explained by shap's tree explainer")
        if class_name(final) == "HistGradientBoostingRegressor" and final.loss not in (
            "squared_error",
            "absolute_error",
            "quantile",
        ):
            raise Unsupported(f"a {final.loss} loss predicts through a link shap's tree explainer ignores")
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
        self.scorer = Scorer(final, task_type)  # on the preprocessed columns
        self.final = final
        self.lock = threading.Lock()

        try:
            plain = shap.TreeExplainer(final)  # parses the trees; path-dependent, raw margin
        except Exception as exc:  # a tree model shap cannot read is explained the model-agnostic way
            raise Unsupported(f"shap's tree explainer cannot read it ({exc})") from None
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
                raise Unsupported(
                    f"{class_name(final)} with {n_classes} classes has no exact "
                    "probability explanation in shap's tree explainer"
                )
        elif ensemble.tree_output == "raw_value" and outputs == 1:
            self.link = "identity"
        else:
            raise Unsupported(f"{class_name(final)}'s tree output {ensemble.tree_output!r} is not its prediction")

        # The background is canonical already (built by background_frame): its records need no checks.
        records = None if background is None else background.to_dict("records")
        self.compiled = self._compile(pre, final, records)
        if background is None:
            # No background: tree-path-dependent SHAP (training counts in the leaves), exact for the
            # raw output only — log-odds for boosted classifiers.
            self.explainer = plain
            self.units = (
                "log-odds" if self.link == "logistic" else ("probability" if task_type in CLASSIFICATION else "value")
            )
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
            trees.append(
                {
                    "children_left": tree.children_left,
                    "children_right": tree.children_right,
                    "children_default": tree.children_default,
                    "features": tree.features,
                    "thresholds": thresholds,
                    "values": tree.values,
                    "node_sample_weight": tree.node_sample_weight,
                }
            )
        ranked = {
            "trees": trees,
            "base_offset": ensemble.base_offset,
            "tree_output": ensemble.tree_output,
            "objective": ensemble.objective,
            "input_dtype": np.float64,
            "internal_dtype": np.float64,
        }
        model_input, matrix = self._transform(records)
        codes = self._encode(matrix)
        self.explainer = shap.TreeExplainer(
            ranked,
            data=codes,
            feature_perturbation="interventional",
            model_output="probability" if self.link == "logistic" else "raw",
        )
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
            raise Unsupported("shap's reading of the trees does not reproduce the model's predictions")

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
                        records.append(
                            {
                                feature.name: (1 if feature.numeric else value if feature.name == block[1] else "")
                                for feature in self.features
                            }
                        )
        unseen = {feature.name: (0 if feature.numeric else "\x00keel-unseen") for feature in self.features}
        records = [*records, unseen]
        try:
            real = self.pre.transform(typed_frame(records, self.features))
        except Exception:  # the synthetic rows do not suit this preprocessing: keep the real transform
            return None
        real = np.asarray(real.toarray() if hasattr(real, "toarray") else real, dtype=np.float64)
        return (
            compiled
            if real.shape == (len(records), compiled.width) and np.array_equal(real, compiled(records))
            else None
        )

    def _transform(self, records: list[dict]):
        """(what the final estimator is given, the same as a float64 matrix for shap)."""
        if self.compiled is not None:
            X = self.compiled(records)
            return X, X
        frame = typed_frame(records, self.features)
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

    def attribute(self, record: dict) -> Attribution:
        model_input, X = self._transform([record])
        with one_thread():
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
        return Attribution(self.method, self.algorithm, self.units, score, base, phi, target, output)
