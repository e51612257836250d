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

Modules: ``inputs`` (schema, coercion, canonical inputs), ``background`` (the stored sample),
``scoring`` (scores and what both paths share), ``tree`` and ``agnostic`` (the two paths),
``explainer_cache`` (built explainers per process) and ``reasons`` (the entry point, ``explain``).
"""

from .agnostic import EXACT_MAX_FEATURES, PERMUTATION_MAX_EVALS, warm_up
from .background import (
    DEFAULT_BACKGROUND_ROWS,
    background_from_records,
    background_to_records,
    make_background,
)
from .explainer_cache import (
    CACHE_SIZE,
    clear_explainer_cache,
    explainer_cache_info,
    is_explainer_cached,
)
from .inputs import (
    CLASSIFICATION,
    DTYPES,
    NUMERIC_TYPES,
    TASK_TYPES,
    ExplainInputError,
    input_key,
    row_frame,
)
from .reasons import ADDITIVITY_TOLERANCE, DEFAULT_THRESHOLD, MAX_REASONS, explain
from .tree import ELEMENTWISE, TREE_MODELS

__all__ = [
    "ADDITIVITY_TOLERANCE",
    "CACHE_SIZE",
    "CLASSIFICATION",
    "DEFAULT_BACKGROUND_ROWS",
    "DEFAULT_THRESHOLD",
    "DTYPES",
    "ELEMENTWISE",
    "EXACT_MAX_FEATURES",
    "MAX_REASONS",
    "NUMERIC_TYPES",
    "PERMUTATION_MAX_EVALS",
    "TASK_TYPES",
    "TREE_MODELS",
    "ExplainInputError",
    "background_from_records",
    "background_to_records",
    "clear_explainer_cache",
    "explain",
    "explainer_cache_info",
    "input_key",
    "is_explainer_cached",
    "make_background",
    "row_frame",
    "warm_up",
]
