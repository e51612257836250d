"""The demo's pure parts: the signup generator and the upsell training, on DataFrames alone."""

import hashlib
from datetime import date

import numpy as np
import pandas as pd
import pytest
import skops.io
from sklearn.metrics import f1_score, roc_auc_score

from demo.signups import COLUMNS, EVENT_TYPES, LABEL, EventProfile, generate_signups
from demo.training import FEATURES, dataset_sha256, time_split, train_upsell_model
from mlops import modelformats

START, END = date(2026, 1, 1), date(2026, 6, 30)
FEATURE_TYPES = {"float", "int", "string", "bool", "datetime"}


@pytest.fixture(scope="module")
def signups() -> pd.DataFrame:
    return generate_signups(15_000, start=START, end=END, seed=11)


@pytest.fixture(scope="module")
def trained(signups):
    return train_upsell_model(signups, hyperparameters={"max_iter": 60}, seed=3)


def test_same_seed_gives_the_same_frame_and_another_seed_does_not():
    first = generate_signups(2_000, start=START, end=END, seed=5)
    pd.testing.assert_frame_equal(first, generate_signups(2_000, start=START, end=END, seed=5))
    assert not first.equals(generate_signups(2_000, start=START, end=END, seed=6))


def test_columns_and_dtypes(signups):
    assert list(signups.columns) == COLUMNS
    assert pd.api.types.is_string_dtype(signups["customer_id"])
    assert pd.api.types.is_datetime64_any_dtype(signups["signup_date"])
    for column in ("plan", "country", "event_type"):
        assert pd.api.types.is_string_dtype(signups[column]), column
    assert pd.api.types.is_float_dtype(signups["meeting_minutes"])
    assert pd.api.types.is_integer_dtype(signups["attendees"])
    assert set(signups[LABEL].unique()) == {0, 1}
    assert not signups.isna().any().any()


def test_values_are_plausible(signups):
    assert signups["customer_id"].is_unique
    assert signups["customer_id"].str.fullmatch(r"C\d{6}").all()
    assert signups["signup_date"].is_monotonic_increasing
    assert signups["signup_date"].min() >= pd.Timestamp(START)
    assert signups["signup_date"].max() <= pd.Timestamp(END)
    assert set(signups["event_type"]) == set(EVENT_TYPES)
    assert signups["country"].nunique() == 12
    assert (signups["meeting_minutes"] > 0).all()
    # Head counts follow the kind of event.
    median_attendees = signups.groupby("event_type")["attendees"].median()
    assert (
        median_attendees["meeting"]
        < median_attendees["meetup"]
        < median_attendees["webinar"]
        < median_attendees["conference"]
    )


def test_label_rate_is_a_realistic_minority(signups):
    assert 0.10 <= signups[LABEL].mean() <= 0.20


def test_customer_ids_can_continue_a_previous_batch():
    batch = generate_signups(3, start=START, end=START, seed=1, first_customer=41)
    assert list(batch["customer_id"]) == ["C000041", "C000042", "C000043"]


def test_event_types_are_a_parameter_for_later_drifted_batches():
    festival = {**EVENT_TYPES, "festival": EventProfile(0.3, 240, 0.4, 800, 100, 0.2)}
    batch = generate_signups(3_000, start=START, end=END, seed=2, event_types=festival)
    assert "festival" in set(batch["event_type"])


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError):
        generate_signups(10, start=END, end=START, seed=1)
    with pytest.raises(ValueError):
        generate_signups(-1, start=START, end=END, seed=1)


def test_time_split_holds_out_the_latest_whole_days(signups):
    train, holdout, holdout_start = time_split(signups, 0.2)
    assert train["signup_date"].max() < pd.Timestamp(holdout_start) <= holdout["signup_date"].min()
    assert len(train) + len(holdout) == len(signups)
    assert 0.15 < len(holdout) / len(signups) < 0.25


def test_model_learns_something_real(trained):
    assert 0.72 <= trained.metrics["roc_auc"] <= 0.9
    assert trained.metrics["pr_auc"] > trained.metrics["positive_rate"]  # better than chance


def test_metrics_match_sklearn_on_the_same_holdout(signups, trained):
    _, holdout, holdout_start = time_split(signups, 0.2)
    assert holdout_start == trained.holdout_start
    assert len(holdout) == trained.n_holdout
    scores = trained.pipeline.predict_proba(holdout[FEATURES])[:, 1]
    assert trained.metrics["roc_auc"] == pytest.approx(roc_auc_score(holdout[LABEL], scores))
    predicted = (scores >= trained.decision_threshold).astype(int)
    assert trained.metrics["f1"] == pytest.approx(f1_score(holdout[LABEL], predicted))


def test_threshold_and_schema(trained):
    assert 0 < trained.decision_threshold < 1
    assert [f["name"] for f in trained.feature_schema] == FEATURES
    assert {f["type"] for f in trained.feature_schema} <= FEATURE_TYPES
    assert all(set(f) == {"name", "type", "categorical"} for f in trained.feature_schema)
    assert {f["name"] for f in trained.feature_schema if f["categorical"]} == {"plan", "country", "event_type"}


def test_learning_curve_covers_every_step(trained):
    steps = [step for step, _, _ in trained.learning_curve]
    assert steps == [1, 10, 20, 30, 40, 50, 60]
    assert trained.learning_curve[-1][1] == pytest.approx(trained.metrics["roc_auc"])


def test_artifact_bytes_round_trip_and_hash(signups, trained):
    assert trained.artifact_sha256 == hashlib.sha256(trained.artifact_bytes).hexdigest()
    assert modelformats.sniff(trained.artifact_bytes) == "skops"
    assert modelformats.untrusted_types(trained.artifact_bytes) == []
    loaded = skops.io.loads(trained.artifact_bytes, trusted=modelformats.trusted_types(trained.artifact_bytes))
    sample = signups.head(50)[FEATURES]
    np.testing.assert_allclose(loaded.predict_proba(sample), trained.pipeline.predict_proba(sample))


def test_unknown_categories_are_scored_not_refused(trained):
    # A drifted batch with a new event type must still get scores (audits flag it, serving goes on).
    frame = generate_signups(20, start=START, end=START, seed=9)
    frame["event_type"] = "festival"
    assert trained.pipeline.predict_proba(frame[FEATURES]).shape == (20, 2)


def test_dataset_hash_follows_the_rows(signups, trained):
    assert trained.dataset_sha256 == dataset_sha256(signups.copy())
    flipped = signups.copy()
    flipped.loc[flipped.index[0], LABEL] = 1 - flipped.loc[flipped.index[0], LABEL]
    assert dataset_sha256(flipped) != trained.dataset_sha256
    assert (trained.train_window_start, trained.train_window_end) == (
        signups["signup_date"].min().date(),
        signups["signup_date"].max().date(),
    )
