"""Robustness evidence on DataFrames alone: the perturbed copies of hold-out rows, how they are
scored in few calls, how a failure is traced to its column, and the rule that a candidate must
score what production scores."""

import numpy as np
import pandas as pd
import pytest

from registry import evaluation
from registry.evaluation import robustness

SKLEARN_NAN = (
    "The candidate v2's artifact raised ValueError: Input X contains NaN.\n"
    "LogisticRegression does not accept missing values encoded as NaN natively. For supervised learning, "
    "you might want to consider sklearn.ensemble.HistGradientBoostingClassifier and Regressor which accept "
    "missing values encoded as NaNs natively. Alternatively, it is possible to preprocess the data, for "
    "instance by using an imputer transformer in a pipeline or drop samples with missing values. See "
    "https://scikit-learn.org/stable/modules/impute.html You can find a list of all estimators that handle "
    "NaN values at the following page: https://scikit-learn.org/stable/modules/impute.html#estimators-that-"
    "handle-nan-values"
)


@pytest.fixture
def signups():
    """Skewed, small, like a user's file: a heavy-tailed amount, a count, two categories."""
    rng = np.random.default_rng(3)
    return pd.DataFrame(
        {
            "minutes": rng.lognormal(3, 1.5, 300),
            "attendees": rng.integers(1, 40, 300),
            "plan": rng.choice(["free", "pro", "team"], 300),
            "country": rng.choice(["DE", "FR"], 300),
        }
    )


def plan_for(frame, ranges=None):
    sample = frame.iloc[robustness.sample_rows(len(frame))]
    ranges = ranges or evaluation.numeric_ranges(frame, ["minutes", "attendees"])
    return sample, evaluation.perturbations(
        sample, numeric=["minutes", "attendees"], categorical=["plan", "country"], ranges=ranges
    )


def test_each_perturbation_changes_one_column_of_at_most_200_rows(signups):
    sample, plan = plan_for(signups)
    assert len(sample) == 200
    assert sorted(plan) == sorted(evaluation.ROBUSTNESS_KINDS)
    assert [c.column for c in plan["nulls"]] == ["minutes", "attendees", "plan", "country"]
    for copy in plan["nulls"]:
        assert copy.frame[copy.column].isna().all()
        others = copy.frame.drop(columns=copy.column)
        pd.testing.assert_frame_equal(others, sample.drop(columns=copy.column))
    assert [c.column for c in plan["unseen"]] == ["plan", "country"]
    assert (plan["unseen"][0].frame["plan"] == evaluation.UNSEEN).all()
    share = plan["nulls_95"][0].frame.isna().to_numpy().mean()
    assert 0.92 < share < 0.98


def test_extremes_sit_at_the_training_range_edges_ten_ranges_beyond_and_at_1e300(signups):
    ranges = {"minutes": {"low": 2.0, "high": 12.0, "from": "training reference"}}
    ranges["attendees"] = {"low": 1.0, "high": 39.0, "from": "hold-out"}
    _, plan = plan_for(signups, ranges)
    values = {kind: set(plan[kind][0].frame["minutes"]) for kind in ("edges", "beyond", "huge")}
    assert values == {"edges": {2.0, 12.0}, "beyond": {-98.0, 112.0}, "huge": {-1e300, 1e300}}
    assert plan["edges"][1].frame["attendees"].dtype == float  # an int column takes 1e300 as a float


def test_the_range_comes_from_the_training_reference_when_known_else_from_the_holdout(signups):
    ranges = evaluation.numeric_ranges(signups, ["minutes", "attendees"], {"minutes": (0.5, 900.0)})
    assert ranges["minutes"] == {"low": 0.5, "high": 900.0, "from": "training reference"}
    assert ranges["attendees"]["from"] == "hold-out"
    assert ranges["attendees"]["low"] == signups["attendees"].min()


def linear(frame):
    """A model without an imputer: raises on nulls like scikit-learn, on text it cannot read."""
    numbers = frame[["minutes", "attendees"]].astype(float)
    if numbers.isna().any().any():
        raise ValueError(SKLEARN_NAN)
    return 1 / (1 + np.exp(-np.clip(0.01 * numbers["minutes"] - 0.02 * numbers["attendees"], -50, 50)))


def imputing(frame):
    numbers = frame[["minutes", "attendees"]].astype(float).fillna(0)
    return 1 / (1 + np.exp(-np.clip(0.01 * numbers["minutes"] - 0.02 * numbers["attendees"], -50, 50)))


def probe(model, frame):
    sample, plan = plan_for(frame)
    calls = []

    def score(rows):
        calls.append(len(rows))
        return np.asarray(model(rows))

    return evaluation.robustness_probe(score, score(sample), plan), calls[1:]


def test_a_model_that_copes_costs_one_call_per_kind_and_its_shifts_are_measured(signups):
    found, calls = probe(imputing, signups)
    assert found["calls"] == len(calls) == 6
    assert {r["status"] for r in found["results"]} == {"ok"}
    nulls = next(r for r in found["results"] if r["kind"] == "nulls" and r["column"] == "minutes")
    sample = signups.iloc[robustness.sample_rows(len(signups))]
    shift = np.abs(imputing(sample.assign(minutes=0.0)) - imputing(sample)).to_numpy()
    assert nulls["median_shift"] == pytest.approx(np.median(shift))
    assert nulls["max_shift"] == pytest.approx(shift.max())
    unseen = next(r for r in found["results"] if r["kind"] == "unseen")
    assert unseen["max_shift"] == 0.0


def test_a_crash_is_traced_to_its_column_and_perturbation_with_a_short_message(signups):
    found, calls = probe(linear, signups)
    failed = {(r["kind"], r["column"]): r for r in found["results"] if r["status"] == "failed"}
    assert set(failed) == {("nulls", "minutes"), ("nulls", "attendees"), ("nulls_95", None)}
    assert failed["nulls", "minutes"]["message"] == "ValueError: Input X contains NaN."
    ok = {(r["kind"], r["column"]) for r in found["results"] if r["status"] == "ok"}
    assert ("nulls", "plan") in ok and ("huge", "minutes") in ok
    assert found["calls"] == 6 + 4  # the failed nulls batch, then its four columns one by one


def test_localising_stops_at_its_call_limit(signups, monkeypatch):
    monkeypatch.setattr(robustness, "MAX_LOCALISE_CALLS", 1)
    found, _ = probe(linear, signups)
    nulls = [r for r in found["results"] if r["kind"] == "nulls"]
    assert [r["status"] for r in nulls] == ["failed", "not_run", "not_run", "not_run"]
    assert nulls[1]["message"] == "not tried alone (call limit)"


def test_scores_that_are_not_finite_count_as_rows_not_scored(signups):
    def overflowing(frame):
        with np.errstate(over="ignore"):
            return np.exp(frame["minutes"].astype(float).fillna(0).to_numpy()) / 1e300

    found, _ = probe(overflowing, signups)
    huge = next(r for r in found["results"] if r["kind"] == "huge" and r["column"] == "minutes")
    assert huge["status"] == "failed" and huge["unscored"] == 100
    assert huge["message"] == "100 of 200 rows got no finite score"


def test_a_scorer_that_ended_leaves_the_rest_not_run(signups):
    state = {"alive": True}

    def dying(frame):
        state["alive"] = False
        raise RuntimeError("The candidate v2's artifact crashed (signal 11) while scoring.")

    sample, plan = plan_for(signups)
    found = evaluation.robustness_probe(dying, imputing(sample), plan, alive=lambda: state["alive"])
    assert found["calls"] == 1
    failed = [r for r in found["results"] if r["status"] != "not_run"]
    assert [(r["kind"], r["column"], r["status"]) for r in failed] == [("nulls", None, "failed")]
    assert failed[0]["message"] == "The candidate v2's artifact crashed (signal 11) while scoring."


def test_many_columns_stay_within_the_cell_budget(monkeypatch):
    monkeypatch.setattr(robustness, "CELL_BUDGET", 20_000)
    frame = pd.DataFrame(np.random.default_rng(0).normal(size=(300, 60)), columns=[f"c{i}" for i in range(60)])
    sample = frame.iloc[robustness.sample_rows(300)]
    plan = evaluation.perturbations(sample, numeric=[], categorical=[], ranges={})
    sizes = []
    found = evaluation.robustness_probe(
        lambda rows: sizes.append(rows.size) or np.zeros(len(rows)), np.zeros(200), plan
    )
    assert max(sizes) <= 20_000
    statuses = [r["status"] for r in found["results"] if r["kind"] == "nulls"]
    assert statuses.count("ok") == 33 and statuses.count("not_run") == 27


def comparison(candidate_model, production_model, frame):
    candidate, _ = probe(candidate_model, frame)
    production, _ = probe(production_model, frame)
    rows = evaluation.robustness_compare(candidate, production)
    return evaluation.robustness_checks({"perturbations": rows}, production_version=1)


def test_a_candidate_that_crashes_where_production_survives_fails_naming_column_and_perturbation(signups):
    [check] = comparison(linear, imputing, signups)
    assert not check["passed"]
    assert check["detail"].startswith(
        "The candidate fails on nulls in 'minutes' (ValueError: Input X contains NaN.); nulls in 'attendees'"
    )
    assert "95% of cells null" in check["detail"] and "production v1 scores every row" in check["detail"]
    assert len(check["detail"]) < 400


def test_a_failure_production_shares_does_not_block(signups):
    [check] = comparison(linear, linear, signups)
    assert check["passed"] and "as production v1 does" in check["detail"]
    [check] = comparison(imputing, linear, signups)
    assert check["passed"] and check["detail"] == "The candidate scores every row of all 13 perturbations."


@pytest.mark.parametrize(
    "error, expected",
    [
        (SKLEARN_NAN, "ValueError: Input X contains NaN."),
        ("\n\n  KeyError: 'plan'\nmore", "KeyError: 'plan'"),
        ("x" * 600, "x" * 159 + "…"),
    ],
)
def test_messages_are_the_first_meaningful_line_and_short(error, expected):
    assert evaluation.short_message(error) == expected


def test_the_page_table_has_one_row_per_kind_and_copes_with_older_evidence(signups):
    from registry import evidence_display

    candidate, _ = probe(linear, signups)
    production, _ = probe(imputing, signups)
    evidence = {"robustness": {"rows": 200, "perturbations": evaluation.robustness_compare(candidate, production)}}
    table = evidence_display.robustness_table(evidence)
    nulls = next(row for row in table["rows"] if row["kind"] == "nulls")
    mine, theirs = nulls["sides"]
    assert mine["failed"] == ["minutes", "attendees"] and theirs["failed"] == [] and theirs["scored"] == 4
    assert [f["label"] for f in table["failures"]][:2] == ["nulls in 'minutes'", "nulls in 'attendees'"]
    assert evidence_display.robustness_table({"metrics": {}}) is None  # a gate run before robustness existed
