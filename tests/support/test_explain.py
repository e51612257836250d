"""support/shap_engine: one prediction's score, decision and SHAP contributions per raw feature, on
the demo upsell model and a few other model kinds, without Django."""

import json
import math
import re
import warnings
from datetime import date

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier, RandomForestRegressor
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from demo.signups import LABEL, generate_signups
from demo.training import CATEGORICAL, FEATURES, NUMERIC, feature_schema, train_upsell_model
from support import shap_engine as ex
from support.shap_engine import explainer_cache, reasons

with warnings.catch_warnings():
    warnings.simplefilter("ignore", PendingDeprecationWarning)  # shap 0.51 on matplotlib 3.11
    import shap

BINARY = "binary_classification"
REASON = re.compile(r"^(?P<feature>\w+) = (?P<value>.+) (?P<verb>raised|lowered) the score by (?P<amount>[0-9.e-]+)$")
HIGH_ROW = {
    "plan": "free-trial-pro",
    "country": "US",
    "event_type": "conference",
    "meeting_minutes": 240.0,
    "attendees": 150,
}


pytestmark = pytest.mark.usefixtures("one_thread")  # tests/support/conftest.py


@pytest.fixture(autouse=True)
def _fresh_cache():
    ex.clear_explainer_cache()
    yield
    ex.clear_explainer_cache()


@pytest.fixture(scope="module")
def warm():
    """shap's model-agnostic explainers jit-compile numba kernels on first use (~8 s, once per process)."""
    assert ex.warm_up() > 0


@pytest.fixture(scope="module")
def signups() -> pd.DataFrame:
    return generate_signups(2_000, start=date(2026, 1, 1), end=date(2026, 6, 30), seed=5)


@pytest.fixture(scope="module")
def trained(signups):
    return train_upsell_model(signups, hyperparameters={"max_iter": 40}, seed=2)


@pytest.fixture(scope="module")
def background(signups):
    return ex.make_background(signups, FEATURES, rows=60, seed=0)


@pytest.fixture(scope="module")
def rows(signups) -> pd.DataFrame:
    return signups[FEATURES].iloc[-40:].reset_index(drop=True)


@pytest.fixture(scope="module")
def logistic(signups):
    """A non-tree pipeline: one-hot + scaled numbers + logistic regression."""
    preprocess = ColumnTransformer(
        [("categorical", OneHotEncoder(handle_unknown="ignore", sparse_output=False), CATEGORICAL)],
        remainder=StandardScaler(),
    )
    return Pipeline([("preprocess", preprocess), ("classifier", LogisticRegression(max_iter=500))]).fit(
        signups[FEATURES], signups[LABEL]
    )


def _explain(model, row, *, background, threshold=0.3, task_type=BINARY, schema=None, **kwargs):
    return ex.explain(
        model,
        row,
        task_type=task_type,
        feature_schema=schema or feature_schema(),
        threshold=threshold,
        background=background,
        **kwargs,
    )


def one_hot_then(model) -> Pipeline:
    """`model` behind a step that one-hot encodes the categorical features and passes the numbers through."""
    one_hot = OneHotEncoder(handle_unknown="ignore", sparse_output=False)
    preprocess = ColumnTransformer([("categorical", one_hot, CATEGORICAL)], remainder="passthrough")
    return Pipeline([("preprocess", preprocess), ("model", model)])


def _total(explanation) -> float:
    return explanation["base_value"] + sum(item["shap"] for item in explanation["contributions"])


def _gate_score(model, row) -> float:
    """What registry/services/gate.py score() shows for a binary model: P(class 1)."""
    return float(model.predict_proba(row)[:, list(model.classes_).index(1)][0])


# --- additivity ---------------------------------------------------------------------------------


def test_tree_path_adds_up_to_the_score_in_probability(trained, background, rows):
    for i in range(len(rows)):
        row = rows.iloc[[i]]
        explanation = _explain(trained.pipeline, row, background=background, version_key="v1")
        assert explanation["method"] == "tree"
        assert explanation["units"] == "probability"
        assert explanation["score"] == pytest.approx(_gate_score(trained.pipeline, row), abs=1e-12)
        assert _total(explanation) == pytest.approx(explanation["score"], abs=1e-6)
    # The base value is the average score of the background customers.
    assert explanation["base_value"] == pytest.approx(trained.pipeline.predict_proba(background)[:, 1].mean(), abs=1e-6)


def test_values_on_a_split_threshold_take_the_models_branch(trained, background):
    """shap's interventional code compares against float32 thresholds; an input equal to a split
    threshold (integer attendees, rounded minutes) used to go the other way and break additivity."""
    classifier = trained.pipeline.named_steps["classifier"]
    names = list(trained.pipeline.named_steps["preprocess"].get_feature_names_out())
    thresholds = {name: set() for name in ("meeting_minutes", "attendees")}
    for predictor in classifier._predictors:
        for node in predictor[0].nodes:
            name = names[node["feature_idx"]]
            if not node["is_leaf"] and name in thresholds:
                thresholds[name].add(float(node["num_threshold"]))
    minutes = sorted(thresholds["meeting_minutes"])[len(thresholds["meeting_minutes"]) // 2]
    attendees = min(t for t in thresholds["attendees"] if float(t).is_integer())
    row = {
        "plan": "free",
        "country": "IN",
        "event_type": "meeting",
        "meeting_minutes": minutes,
        "attendees": int(attendees),
    }
    explanation = _explain(trained.pipeline, row, background=background)
    assert explanation["method"] == "tree"
    assert _total(explanation) == pytest.approx(explanation["score"], abs=1e-6)


def test_tree_without_background_explains_the_log_odds(trained, rows):
    for i in range(10):
        explanation = _explain(trained.pipeline, rows.iloc[[i]], background=None)
        assert (explanation["method"], explanation["units"]) == ("tree", "log-odds")
        p = explanation["score"]
        assert _total(explanation) == pytest.approx(math.log(p / (1 - p)), abs=1e-6)
        assert explanation["reasons"][0].endswith(" log-odds")


def test_model_agnostic_path_adds_up_to_the_score(warm, logistic, background, rows):
    for i in range(5):
        row = rows.iloc[[i]]
        explanation = _explain(logistic, row, background=background, version_key="lr")
        assert explanation["method"] == "exact"  # five raw features: every coalition is evaluated
        assert explanation["units"] == "probability"
        assert explanation["score"] == pytest.approx(_gate_score(logistic, row), abs=1e-12)
        assert _total(explanation) == pytest.approx(explanation["score"], abs=1e-6)
    assert explanation["base_value"] == pytest.approx(logistic.predict_proba(background)[:, 1].mean(), abs=1e-9)
    unseen = _explain(logistic, {**HIGH_ROW, "event_type": "festival"}, background=background, version_key="lr")
    assert unseen["score"] == pytest.approx(
        _gate_score(logistic, pd.DataFrame([{**HIGH_ROW, "event_type": "festival"}]))
    )
    assert _total(unseen) == pytest.approx(unseen["score"], abs=1e-6)


def test_many_features_use_the_permutation_explainer_and_still_add_up(warm):
    rng = np.random.default_rng(0)
    names = [f"x{i}" for i in range(12)]
    X = pd.DataFrame(rng.normal(size=(400, 12)), columns=names)
    y = (X["x0"] + 0.5 * X["x1"] - X["x2"] + rng.normal(size=400) > 0).astype(int)
    model = LogisticRegression().fit(X, y)
    schema = [{"name": name, "type": "float", "categorical": False} for name in names]
    background = ex.make_background(X, names, rows=30)
    explanation = _explain(model, X.iloc[[0]], background=background, schema=schema)
    assert explanation["method"] == "permutation"
    assert _total(explanation) == pytest.approx(explanation["score"], abs=1e-6)
    assert explanation["contributions"][0]["feature"] in {"x0", "x1", "x2"}


def test_model_agnostic_path_needs_a_background(logistic, rows):
    with pytest.raises(ValueError, match="background"):
        _explain(logistic, rows.iloc[[0]], background=None)


# --- per raw feature ----------------------------------------------------------------------------


def test_contributions_are_per_raw_feature_sorted_by_size(trained, background, rows):
    explanation = _explain(trained.pipeline, rows.iloc[[3]], background=background)
    assert sorted(item["feature"] for item in explanation["contributions"]) == sorted(FEATURES)
    sizes = [abs(item["shap"]) for item in explanation["contributions"]]
    assert sizes == sorted(sizes, reverse=True)
    shown = {item["feature"]: item["value"] for item in explanation["contributions"]}
    row = rows.iloc[3]
    assert shown["plan"] == row["plan"]
    assert shown["attendees"] == str(int(row["attendees"]))
    assert float(shown["meeting_minutes"]) == pytest.approx(row["meeting_minutes"])
    json.dumps(explanation, allow_nan=False)  # JSON-ready as it is


def test_one_hot_columns_are_summed_back_onto_their_feature(trained, rows):
    """The same row explained by bare shap on the encoded columns: the dummies of each categorical
    feature add up to Keel's value for that feature, and numbers pass straight through."""
    preprocess = trained.pipeline.named_steps["preprocess"]
    classifier = trained.pipeline.named_steps["classifier"]
    row = rows.iloc[[7]]
    bare = shap.TreeExplainer(classifier).shap_values(preprocess.transform(row))[0]
    names = list(preprocess.get_feature_names_out())
    expected = dict.fromkeys(FEATURES, 0.0)
    for name, value in zip(names, bare):
        feature = name if name in NUMERIC else next(f for f in CATEGORICAL if name.startswith(f + "_"))
        expected[feature] += value
    explanation = _explain(trained.pipeline, row, background=None)  # path-dependent, as the bare call
    got = {item["feature"]: item["shap"] for item in explanation["contributions"]}
    assert got == pytest.approx(expected, abs=1e-12)
    assert len(names) > len(FEATURES)  # there really were one-hot columns to fold


def test_a_bare_tree_model_on_numbers_is_explained_in_its_column_order(background):
    rng = np.random.default_rng(1)
    X = pd.DataFrame({"attendees": rng.integers(2, 200, 600), "meeting_minutes": rng.gamma(2, 30, 600)})
    y = ((X["meeting_minutes"] > 60) & (X["attendees"] > 20)).astype(int)
    model = RandomForestClassifier(n_estimators=10, max_depth=4, random_state=0).fit(X, y)
    schema = [
        {"name": "meeting_minutes", "type": "float", "categorical": False},  # not the fitted order
        {"name": "attendees", "type": "int", "categorical": False},
    ]
    row = {"meeting_minutes": 95.0, "attendees": 40}
    explanation = _explain(model, row, background=background[["meeting_minutes", "attendees"]], schema=schema)
    assert explanation["method"] == "tree"
    assert explanation["score"] == pytest.approx(model.predict_proba(pd.DataFrame([row])[X.columns])[0, 1])
    assert _total(explanation) == pytest.approx(explanation["score"], abs=1e-6)


def test_an_unseen_category_is_explained(trained, background):
    row = {**HIGH_ROW, "event_type": "festival"}
    explanation = _explain(trained.pipeline, row, background=background)
    assert {"feature": "event_type", "value": "festival"}.items() <= next(
        item for item in explanation["contributions"] if item["feature"] == "event_type"
    ).items()
    assert _total(explanation) == pytest.approx(explanation["score"], abs=1e-6)


# --- words and decisions ------------------------------------------------------------------------


def test_reasons_say_which_way_and_how_much(trained, background, rows):
    explanation = _explain(trained.pipeline, rows.iloc[[11]], background=background)
    assert 3 <= len(explanation["reasons"]) <= 5
    for reason, item in zip(explanation["reasons"], explanation["contributions"]):
        match = REASON.match(reason)
        assert match, reason
        assert match["feature"] == item["feature"] and match["value"] == item["value"]
        assert match["verb"] == ("raised" if item["shap"] > 0 else "lowered")
        if abs(item["shap"]) >= 0.01:
            assert match["amount"] == f"{abs(item['shap']):.2f}"


def test_reason_wording_for_a_known_contribution():
    item = {"feature": "plan", "value": "free", "shap": -0.1234}
    assert reasons._reason(item, "probability", BINARY, "1") == "plan = free lowered the score by 0.12"
    item = {"feature": "attendees", "value": "150", "shap": 0.004}
    assert reasons._reason(item, "probability", BINARY, "1") == "attendees = 150 raised the score by 0.004"


def test_a_high_scoring_row_is_led_by_what_raised_it(trained, background):
    explanation = _explain(trained.pipeline, HIGH_ROW, background=background, threshold=trained.decision_threshold)
    assert explanation["score"] > explanation["base_value"]
    assert explanation["decision"] == "yes"
    top = explanation["contributions"][0]
    assert top["shap"] > 0
    assert explanation["reasons"][0].startswith(f"{top['feature']} = {top['value']} raised the score by ")


def test_the_decision_follows_the_threshold(trained, background):
    score = _explain(trained.pipeline, HIGH_ROW, background=background)["score"]
    below = _explain(trained.pipeline, HIGH_ROW, background=background, threshold=score - 0.01)
    above = _explain(trained.pipeline, HIGH_ROW, background=background, threshold=score + 0.01)
    assert (below["decision"], above["decision"]) == ("yes", "no")
    assert below["contributions"] == above["contributions"]  # the threshold only moves the decision
    assert _explain(trained.pipeline, HIGH_ROW, background=background, threshold=None)["threshold"] == 0.5


def test_multiclass_explains_the_predicted_class(warm, signups, background, rows):
    target = (
        signups["event_type"].map({"meeting": "small", "meetup": "small", "webinar": "large", "conference": "large"})
        + "-"
        + signups["plan"].str[:4]
    )
    forest = one_hot_then(RandomForestClassifier(n_estimators=15, max_depth=6, random_state=0))
    forest.fit(signups[FEATURES], target)
    boosted = Pipeline(
        [("preprocess", forest.named_steps["preprocess"]), ("model", HistGradientBoostingClassifier(max_iter=10))]
    ).fit(signups[FEATURES], target)
    task = "multiclass_classification"
    for model, method in ((forest, "tree"), (boosted, "exact")):  # boosted multiclass: no exact tree probability
        row = rows.iloc[[2]]
        explanation = _explain(model, row, background=background, task_type=task)
        proba = model.predict_proba(row)[0]
        assert explanation["method"] == method
        assert explanation["decision"] == explanation["explained_class"] == str(model.classes_[proba.argmax()])
        assert explanation["score"] == pytest.approx(proba.max(), abs=1e-12)
        assert _total(explanation) == pytest.approx(explanation["score"], abs=1e-6)
        assert explanation["threshold"] is None


def test_regression_is_explained_in_its_own_units(signups, background, rows):
    target = 2.0 * signups["attendees"] + (signups["plan"] == "free") * 5.0
    model = one_hot_then(RandomForestRegressor(n_estimators=10, max_depth=6, random_state=0))
    model.fit(signups[FEATURES], target)
    explanation = _explain(model, rows.iloc[[4]], background=background, task_type="regression")
    assert (explanation["method"], explanation["units"]) == ("tree", "value")
    assert explanation["score"] == pytest.approx(float(model.predict(rows.iloc[[4]])[0]))
    # shap's interventional code sums in float32: exact to ~1e-7 of the output's size.
    assert _total(explanation) == pytest.approx(explanation["score"], rel=1e-6, abs=1e-6)
    assert float(explanation["decision"]) == pytest.approx(explanation["score"], rel=1e-5)
    assert "the prediction by" in explanation["reasons"][0]


# --- validation ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        (lambda r: {k: v for k, v in r.items() if k != "meeting_minutes"}, "meeting_minutes", "Missing feature"),
        (lambda r: {**r, "colour": "blue"}, "colour", "Unknown feature"),
        (lambda r: {**r, "attendees": "many"}, "attendees", "should be a number"),
        (lambda r: {**r, "attendees": 2.5}, "attendees", "whole number"),
        (lambda r: {**r, "meeting_minutes": float("inf")}, "meeting_minutes", "finite"),
        (lambda r: {**r, "plan": None}, "plan", "value is required"),
        (lambda r: {**r, "country": " "}, "country", "value is required"),
    ],
)
def test_bad_input_names_the_feature(trained, background, change, field, words):
    row = change(dict(HIGH_ROW))
    for call in (
        lambda: _explain(trained.pipeline, pd.DataFrame([row]), background=background),
        lambda: ex.input_key(row, feature_schema()),
        lambda: ex.row_frame(row, feature_schema()),
    ):
        with pytest.raises(ValueError, match=words) as caught:
            call()
        assert isinstance(caught.value, ex.ExplainInputError)
        assert caught.value.field == field
        assert field in str(caught.value)


def test_numbers_typed_as_text_are_accepted(trained, background):
    typed = {**HIGH_ROW, "meeting_minutes": "240", "attendees": "150"}
    assert _explain(trained.pipeline, typed, background=background)["score"] == pytest.approx(
        _explain(trained.pipeline, HIGH_ROW, background=background)["score"], abs=1e-15
    )


def test_one_row_only(trained, background, rows):
    with pytest.raises(ValueError, match="one row"):
        _explain(trained.pipeline, rows.iloc[:2], background=background)


def test_unknown_task_type(trained, background):
    with pytest.raises(ValueError, match="task type"):
        _explain(trained.pipeline, HIGH_ROW, background=background, task_type="clustering")


# --- background and keys ------------------------------------------------------------------------


def test_background_is_a_deterministic_sample(signups):
    first = ex.make_background(signups, FEATURES, rows=50, seed=1)
    assert len(first) == 50 and list(first.columns) == FEATURES
    pd.testing.assert_frame_equal(first, ex.make_background(signups, FEATURES, rows=50, seed=1))
    assert not first.equals(ex.make_background(signups, FEATURES, rows=50, seed=2))
    assert len(ex.make_background(signups.head(20), FEATURES, rows=50)) == 20
    with pytest.raises(ValueError, match="attendees"):
        ex.make_background(signups.drop(columns="attendees"), FEATURES)


def test_background_round_trips_through_json_with_its_dtypes(signups, trained):
    background = ex.make_background(signups, FEATURES, rows=40)
    records = json.loads(json.dumps(ex.background_to_records(background, trained.feature_schema)))
    assert set(records[0]) == set(FEATURES)
    assert isinstance(records[0]["attendees"], int) and isinstance(records[0]["meeting_minutes"], float)
    back = ex.background_from_records(records, trained.feature_schema)
    pd.testing.assert_frame_equal(back, background)
    assert str(back["attendees"].dtype) == "int64" and str(back["meeting_minutes"].dtype) == "float64"
    broken = [*records[:3], {**records[3], "meeting_minutes": "long"}]
    with pytest.raises(ValueError, match="Background row 4: meeting_minutes"):
        ex.background_from_records(broken, trained.feature_schema)


def test_bool_and_date_features_are_typed_and_keyed():
    schema = [
        {"name": "trial", "type": "bool", "categorical": True},
        {"name": "signed_up", "type": "datetime", "categorical": False},
    ]
    frame = ex.row_frame({"trial": "yes", "signed_up": "2026-03-01"}, schema)
    assert frame["trial"].dtype == bool and bool(frame["trial"].iloc[0]) is True
    assert str(frame["signed_up"].dtype) == "datetime64[ns]"
    assert ex.input_key({"trial": True, "signed_up": "2026-03-01"}, schema) == ex.input_key(
        {"trial": 1, "signed_up": pd.Timestamp("2026-03-01")}, schema
    )
    with pytest.raises(ex.ExplainInputError, match="trial should be true or false"):
        ex.row_frame({"trial": "maybe", "signed_up": "2026-03-01"}, schema)
    records = ex.background_to_records(frame, schema)
    assert records == [{"trial": True, "signed_up": "2026-03-01T00:00:00"}]
    pd.testing.assert_frame_equal(ex.background_from_records(records, schema), frame)


def test_input_key_is_stable_and_tells_inputs_apart(trained, background):
    schema = feature_schema()
    key = ex.input_key(HIGH_ROW, schema)
    reordered = dict(reversed(list(HIGH_ROW.items())))
    assert ex.input_key(reordered, schema) == key
    assert ex.input_key({**HIGH_ROW, "meeting_minutes": "240", "attendees": 150.0}, schema) == key
    assert ex.input_key(pd.DataFrame([HIGH_ROW]), schema) == key
    assert ex.input_key({**HIGH_ROW, "meeting_minutes": 240.5}, schema) != key
    assert ex.input_key({**HIGH_ROW, "plan": "free"}, schema) != key
    assert len(key) == 64
    assert _explain(trained.pipeline, HIGH_ROW, background=background)["input_key"] == key


# --- explainer cache ----------------------------------------------------------------------------


def test_explainers_are_built_once_per_version(trained, background, rows):
    loads = []

    def load():
        loads.append(1)
        return trained.pipeline

    cold = _explain(trained.pipeline, rows.iloc[[0]], background=background)
    for i in range(3):
        warm = _explain(load, rows.iloc[[i]], background=background, version_key="sha-1")
    assert loads == [1]  # the artifact loader runs only when the explainer is built
    info = ex.explainer_cache_info()
    assert (info["misses"], info["hits"], info["size"]) == (1, 2, 1)
    assert ex.is_explainer_cached("sha-1", BINARY) and not ex.is_explainer_cached("sha-2", BINARY)
    again = _explain(load, rows.iloc[[0]], background=background, version_key="sha-1")
    assert again == cold  # a cached explainer gives what a fresh one gives
    assert warm["input_key"] != cold["input_key"]


def test_the_cache_keeps_the_most_recent_versions(trained, background, monkeypatch):
    monkeypatch.setattr(explainer_cache._CACHE, "maxsize", 2)
    for key in ("a", "b", "a", "c"):
        _explain(trained.pipeline, HIGH_ROW, background=background, version_key=key)
    assert ex.is_explainer_cached("a", BINARY) and ex.is_explainer_cached("c", BINARY)
    assert not ex.is_explainer_cached("b", BINARY)


def test_threads_share_a_cached_explainer(trained, background, rows):
    from concurrent.futures import ThreadPoolExecutor

    expected = [_explain(trained.pipeline, rows.iloc[[i]], background=background) for i in range(8)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        got = list(
            pool.map(
                lambda i: _explain(trained.pipeline, rows.iloc[[i]], background=background, version_key="shared"),
                range(8),
            )
        )
    assert got == expected


def test_the_waterfall_of_a_real_explanation(trained, background):
    from support import plots as explain_plots

    explanation = _explain(trained.pipeline, HIGH_ROW, background=background)
    bars = explain_plots.waterfall_bars(explanation)
    assert len(bars) == len(FEATURES)
    assert bars[0].end == pytest.approx(explanation["score"], abs=1e-6)
    assert explain_plots.waterfall_png(explanation).startswith(b"\x89PNG\r\n\x1a\n")
