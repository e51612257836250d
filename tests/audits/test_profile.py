"""Profiles of DataFrames: the contract of docs/audit-profile-format.md, told as small stories.

Pure engine tests: no database, no Django.
"""

import json
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest

from audits.engine.columns import ColumnSpec, infer_specs, specs_from_schema
from audits.engine.profile import (
    CAPACITY,
    QUANTILES,
    empty_profile,
    encode_kept_values,
    merge_profiles,
    numeric_quantile,
    profile_edges,
    profile_frame,
    profile_reference_chunks,
    reference_edges,
    without_kept_values,
)
from tests.audits.profile_builders import SIGNUP_SPECS

NOW = datetime(2026, 10, 1, tzinfo=UTC)

SPECS = [*SIGNUP_SPECS, ColumnSpec("comment", "text", "string")]


def signups(n=20_000, seed=7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    minutes = rng.gamma(2.0, 20.0, n).round(2).astype(object)
    minutes[rng.random(n) < 0.02] = None
    minutes[rng.random(n) < 0.01] = "n/a-ish"
    days = pd.to_datetime("2026-01-01") + pd.to_timedelta(rng.integers(0, 270, n), "D")
    dates = pd.Series(days.strftime("%Y-%m-%d"), dtype=object)
    dates[rng.random(n) < 0.01] = None
    dates[rng.random(n) < 0.005] = "someday"
    words = np.array(["refund", "please", "great", "call", "me", "slow", "video"])
    comments = pd.Series([" ".join(rng.choice(words, 4)) for _ in range(n)], dtype=object)
    comments[rng.random(n) < 0.05] = None
    comments[rng.random(n) < 0.01] = "  "
    return pd.DataFrame(
        {
            "meeting_minutes": minutes,
            "attendees": rng.integers(1, 6, n),
            "plan": rng.choice(["free", "pro", "team", "education"], n, p=[0.6, 0.2, 0.15, 0.05]),
            "signup_date": dates,
            "comment": comments,
            "customer_id": [f"c{i}" for i in range(n)],
        }
    )


def without_sketches(profile):
    """The exact part of a profile (sketch-derived fields removed; moments compared separately)."""
    out = json.loads(json.dumps(encode_kept_values(profile)))  # kept values compared as their bytes
    for col in out["columns"].values():
        for key in ("sketch", "quantiles", "mean", "m2", "length_mean"):
            col.pop(key, None)
    return out


def test_merging_the_profiles_of_four_chunks_equals_profiling_the_whole_frame():
    frame = signups()
    edges = profile_edges(profile_frame(frame, SPECS, now=NOW))
    whole = profile_frame(frame, SPECS, edges=edges, now=NOW)

    merged = None
    for part in np.array_split(np.arange(len(frame)), 4):
        chunk_profile = profile_frame(frame.iloc[part], SPECS, edges=edges, now=NOW)
        merged = chunk_profile if merged is None else merge_profiles(merged, chunk_profile)

    assert without_sketches(merged) == without_sketches(whole)
    for name in ("meeting_minutes", "attendees"):
        a, b = merged["columns"][name], whole["columns"][name]
        assert a["mean"] == pytest.approx(b["mean"], rel=1e-9)
        assert a["m2"] / (a["count"] - 1) == pytest.approx(b["m2"] / (b["count"] - 1), rel=1e-9)
    assert merged["columns"]["comment"]["length_mean"] == pytest.approx(whole["columns"]["comment"]["length_mean"])

    # Quantiles come from the merged KLL sketch: within its rank error (~1.3% at k=200) of the truth.
    truth = pd.to_numeric(frame["meeting_minutes"], errors="coerce").dropna().to_numpy()
    for q in QUANTILES:
        estimate = merged["columns"]["meeting_minutes"]["quantiles"][str(q)]
        assert abs(np.mean(truth <= estimate) - q) < 0.015


def test_moments_match_numpy():
    frame = signups(5_000)
    col = profile_frame(frame, SPECS, now=NOW)["columns"]["meeting_minutes"]
    x = pd.to_numeric(frame["meeting_minutes"], errors="coerce").dropna().to_numpy(dtype=float)
    assert col["count"] == x.size
    assert col["mean"] == pytest.approx(x.mean(), rel=1e-12)
    assert col["m2"] / (col["count"] - 1) == pytest.approx(x.var(ddof=1), rel=1e-9)
    assert (col["min"], col["max"]) == (x.min(), x.max())


def test_histogram_binning_matches_the_contract_by_hand():
    # Edges (1, 2.5, 4): bins (-inf,1], (1,2.5], (2.5,4], (4,inf). A value equal to an edge goes left.
    frame = pd.DataFrame({"x": [0.0, 1.0, 1.0001, 2.5, 2.6, 4.0, 4.0, 9.0, None]})
    profile = profile_frame(frame, [ColumnSpec("x", "numeric")], edges={"x": ([1.0, 2.5, 4.0], [2.5])})
    col = profile["columns"]["x"]
    assert col["hist"] == [2, 2, 3, 1]
    assert col["psi_hist"] == [4, 4]
    assert col["nulls"] == 1 and col["count"] == 8
    # ... which is exactly the searchsorted rule the contract names
    x = frame["x"].dropna().to_numpy()
    assert col["hist"] == np.bincount(np.searchsorted([1.0, 2.5, 4.0], x, side="left"), minlength=4).tolist()


def test_a_reference_with_five_distinct_integers_gets_them_as_edges():
    frame = pd.DataFrame({"attendees": [3, 1, 2, 5, 4, 2, 2, 5] * 100})
    col = profile_frame(frame, [ColumnSpec("attendees", "numeric", "int")])["columns"]["attendees"]
    assert col["edges"] == [1.0, 2.0, 3.0, 4.0, 5.0]
    assert col["psi_edges"] == [1.0, 2.0, 3.0, 4.0, 5.0]
    # every bin holds exactly one value; the last bin (> 5) is empty in the reference
    assert col["hist"] == [100, 300, 100, 100, 200, 0]


def test_reference_edges_of_a_continuous_column_are_its_quantiles():
    x = np.random.default_rng(0).normal(size=100_000)
    fine, psi = reference_edges(x)
    assert len(fine) == 999 and fine == sorted(set(fine))
    assert len(psi) == 9
    assert psi[4] == pytest.approx(np.quantile(x, 0.5))
    assert fine[0] == pytest.approx(np.quantile(x, 0.001))
    hist = profile_frame(pd.DataFrame({"x": x}), [ColumnSpec("x", "numeric")])["columns"]["x"]["hist"]
    assert max(hist) - min(hist) <= 2  # equal-mass bins
    assert reference_edges(np.array([np.nan, np.inf])) == ([], [])


def test_numeric_column_counts_nulls_and_words_that_are_not_numbers():
    frame = pd.DataFrame({"minutes": ["12", "3.5", None, "", "abc", "1e3", "inf", float("nan"), " 7 "]})
    col = profile_frame(frame, [ColumnSpec("minutes", "numeric")])["columns"]["minutes"]
    assert col["nulls"] == 3  # None, blank, NaN
    assert col["non_numeric"] == 1  # "abc"
    assert col["non_finite"] == 1  # "inf": a number, but not a finite one
    assert col["count"] == 4  # 12, 3.5, 1000, 7
    assert (col["min"], col["max"]) == (3.5, 1000.0)
    assert col["count"] + col["nulls"] + col["non_numeric"] + col["non_finite"] == len(frame)


def test_categorical_counts_values_as_strings_and_counts_nulls():
    frame = pd.DataFrame({"plan": ["free", "pro", None, "free", "NA", None]})
    col = profile_frame(frame, [ColumnSpec("plan", "categorical")])["columns"]["plan"]
    assert col == {"kind": "categorical", "count": 4, "nulls": 2, "counts": {"free": 2, "NA": 1, "pro": 1}, "other": 0}
    ints = profile_frame(pd.DataFrame({"tier": [1, 2, 2]}), [ColumnSpec("tier", "categorical")])["columns"]["tier"]
    assert ints["counts"] == {"2": 2, "1": 1}


def test_categories_beyond_capacity_fold_into_other():
    values = [f"v{i:05d}" for i in range(CAPACITY + 200)] + ["popular"] * 50
    col = profile_frame(pd.DataFrame({"c": values}), [ColumnSpec("c", "categorical")])["columns"]["c"]
    assert len(col["counts"]) == CAPACITY
    assert col["counts"]["popular"] == 50
    assert col["other"] == 201  # 1,200 singletons, 999 kept (the smallest values win ties)
    assert sum(col["counts"].values()) + col["other"] == col["count"] == len(values)
    assert "v00000" in col["counts"] and f"v{CAPACITY + 199:05d}" not in col["counts"]

    # Merging two halves that are each under capacity folds again, keeping totals exact.
    half = len(values) // 2
    spec = [ColumnSpec("c", "categorical")]
    a = profile_frame(pd.DataFrame({"c": values[:half]}), spec)
    b = profile_frame(pd.DataFrame({"c": values[half:]}), spec)
    merged = merge_profiles(a, b)["columns"]["c"]
    assert len(merged["counts"]) == CAPACITY and merged["other"] == 201
    assert merged["counts"] == col["counts"]


def test_a_date_column_that_flips_from_day_month_to_month_day_shows_two_formats():
    european = ["25-01-2026", "13-02-2026", "28-03-2026", "03-04-2026"]  # last one is ambiguous
    american = ["01-25-2026", "02-13-2026", "03-28-2026"]
    frame = pd.DataFrame({"signup_date": european * 10 + american * 10})
    col = profile_frame(frame, [ColumnSpec("signup_date", "timestamp")], now=NOW)["columns"]["signup_date"]
    assert col["formats"] == {"%d-%m-%Y": 40, "%m-%d-%Y": 30}
    assert col["ambiguous_day_month"] == 10
    assert col["unparseable"] == 0 and col["count"] == 70
    assert col["min"] == "2026-01-25T00:00:00" and col["max"] == "2026-04-03T00:00:00"


def test_ambiguous_dates_are_attributed_to_the_format_most_unambiguous_values_use():
    # Mostly American dates: "03-04-2026" is read as March 4th, and counted as ambiguous.
    frame = pd.DataFrame({"d": ["12-25-2026", "01-31-2026", "02-28-2026", "13-01-2026", "03-04-2026", "05-05-2026"]})
    col = profile_frame(frame, [ColumnSpec("d", "timestamp")], now=NOW)["columns"]["d"]
    assert col["formats"] == {"%d-%m-%Y": 1, "%m-%d-%Y": 5}
    assert col["ambiguous_day_month"] == 2  # 03-04 and 05-05 parse both ways
    assert col["min"] == "2026-01-13T00:00:00"  # 13-01 can only be dd-mm
    assert col["future"] == 1  # Christmas is after NOW (1 October 2026)


def test_future_and_eighteenth_century_dates_are_counted():
    frame = pd.DataFrame(
        {"d": ["2026-05-01", "1789-07-14", "2031-01-01", "2026-09-30T23:59:59", None, "soon", "1899-12-31"]}
    )
    col = profile_frame(frame, [ColumnSpec("d", "timestamp")], now=NOW)["columns"]["d"]
    assert col["future"] == 1
    assert col["ancient"] == 2
    assert col["nulls"] == 1 and col["unparseable"] == 1 and col["count"] == 5
    assert col["formats"] == {"%Y-%m-%d": 4, "%Y-%m-%dT%H:%M:%S": 1}
    assert col["min"] == "1789-07-14T00:00:00" and col["max"] == "2031-01-01T00:00:00"


def test_timezones_and_native_datetimes():
    frame = pd.DataFrame({"d": ["2026-09-30T23:30:00+00:00", "2026-10-01T01:30:00+02:00"]})
    col = profile_frame(frame, [ColumnSpec("d", "timestamp")], now=NOW)["columns"]["d"]
    assert col["max"] == "2026-09-30T23:30:00" and col["future"] == 0
    native = pd.DataFrame({"d": pd.to_datetime(["2026-01-01", None, "2027-01-01"])})
    col = profile_frame(native, [ColumnSpec("d", "timestamp")], now=NOW)["columns"]["d"]
    assert (col["count"], col["nulls"], col["future"], col["formats"]) == (2, 1, 1, {})


def test_format_detection_samples_but_still_recognises_rare_formats():
    iso = pd.date_range("2020-01-01", periods=5_000, freq="h").strftime("%Y-%m-%d %H:%M:%S").tolist()
    frame = pd.DataFrame({"d": iso + ["2026/03/01"]})
    col = profile_frame(frame, [ColumnSpec("d", "timestamp")], now=NOW)["columns"]["d"]
    assert col["formats"] == {"%Y-%m-%d %H:%M:%S": 5_000, "%Y/%m/%d": 1}


def test_text_column_lengths_blanks_and_words():
    frame = pd.DataFrame({"comment": ["Refund please!", "refund, REFUND", "   ", None, "great call"]})
    col = profile_frame(frame, [ColumnSpec("comment", "text")])["columns"]["comment"]
    assert (col["count"], col["nulls"], col["empty"], col["length_max"]) == (4, 1, 1, 14)
    assert col["length_mean"] == pytest.approx((14 + 14 + 3 + 10) / 4)
    assert col["words"] == {"refund": 3, "call": 1, "great": 1, "please": 1}


def test_id_column_counts_duplicates_within_the_frame():
    frame = pd.DataFrame({"customer_id": ["a", "b", "a", None, "c", "b", "a"]})
    col = profile_frame(frame, [ColumnSpec("customer_id", "id")])["columns"]["customer_id"]
    assert col == {"kind": "id", "count": 6, "nulls": 1, "duplicates": 3, "duplicate_examples": ["a", "b"]}


def test_columns_missing_from_the_frame_are_skipped_and_profiles_are_json_safe():
    frame = signups(500).drop(columns=["comment"])
    profile = profile_frame(frame, SPECS, now=NOW)
    assert list(profile["columns"]) == ["meeting_minutes", "attendees", "plan", "signup_date", "customer_id"]
    assert profile["rows"] == 500
    stored = without_kept_values(profile)  # what is stored: kept values live beside the JSON (kept.py)
    assert json.loads(json.dumps(stored, allow_nan=False)) == stored


def test_merge_refuses_profiles_on_different_edges():
    spec = [ColumnSpec("x", "numeric")]
    a = profile_frame(pd.DataFrame({"x": [1.0, 2.0]}), spec, edges={"x": ([1.5], [1.5])})
    b = profile_frame(pd.DataFrame({"x": [1.0, 2.0]}), spec, edges={"x": ([1.0], [1.0])})
    with pytest.raises(ValueError, match="different bin edges"):
        merge_profiles(a, b)


def test_empty_profile_is_the_identity_of_merge():
    frame = signups(1_000)
    edges = profile_edges(profile_frame(frame, SPECS, now=NOW))
    profile = profile_frame(frame, SPECS, edges=edges, now=NOW)
    merged = merge_profiles(empty_profile(SPECS, edges), profile)
    assert without_sketches(merged) == without_sketches(profile)
    assert merged["columns"]["attendees"]["mean"] == profile["columns"]["attendees"]["mean"]
    empty = empty_profile(SPECS, edges)["columns"]["meeting_minutes"]
    assert empty["count"] == 0 and len(empty["hist"]) == len(edges["meeting_minutes"][0]) + 1


def test_numeric_quantile_reads_the_sketch():
    x = np.arange(1, 101, dtype=float)
    col = profile_frame(pd.DataFrame({"x": x}), [ColumnSpec("x", "numeric")])["columns"]["x"]
    assert numeric_quantile(col, 0.5) == 50.0  # exact while the sketch holds every value
    # A column small enough to keep its values has numpy's exact quantiles, not the sketch's.
    assert col["quantiles"]["0.99"] == np.quantile(x, 0.99) and col["quantile_rank_error"] == 0.0
    assert numeric_quantile(empty_profile([ColumnSpec("x", "numeric")], None)["columns"]["x"], 0.5) is None


def test_a_large_reference_is_profiled_in_two_passes_with_sketch_edges():
    frame = signups(40_000)
    chunks = lambda: (frame.iloc[i : i + 10_000] for i in range(0, len(frame), 10_000))  # noqa: E731
    seen = []
    profile = profile_reference_chunks(chunks, SPECS, now=NOW, progress=seen.append)
    exact = profile_frame(frame, SPECS, now=NOW)

    minutes = profile["columns"]["meeting_minutes"]
    truth = pd.to_numeric(frame["meeting_minutes"], errors="coerce").dropna().to_numpy()
    # Sketch-chosen edges cut the data within the sketch's rank error of their nominal quantiles.
    cum = np.cumsum(minutes["psi_hist"])[:-1] / minutes["count"]
    assert np.all(np.abs(cum - np.arange(1, 10) / 10) < 0.02)
    assert minutes["count"] == exact["columns"]["meeting_minutes"]["count"]
    assert minutes["mean"] == pytest.approx(truth.mean(), rel=1e-9)
    # few distinct values: exact edges even from the sketch pass
    assert (
        profile["columns"]["attendees"]["edges"] == exact["columns"]["attendees"]["edges"] == [1.0, 2.0, 3.0, 4.0, 5.0]
    )
    assert profile["columns"]["plan"] == exact["columns"]["plan"]
    assert seen == sorted(seen) and seen[-1] == len(frame)


def test_a_reference_of_one_chunk_is_profiled_with_exact_edges():
    frame = signups(2_000)
    profile = profile_reference_chunks(lambda: iter([frame]), SPECS, now=NOW)
    exact = profile_frame(frame, SPECS, now=NOW)
    assert without_sketches(profile) == without_sketches(exact)  # KLL compaction is randomised
    assert (
        profile["columns"]["meeting_minutes"]["edges"]
        == reference_edges(pd.to_numeric(frame["meeting_minutes"], errors="coerce").to_numpy(dtype=float))[0]
    )


# -------------------------------------------------------------------------------------- column specs


def test_specs_from_a_model_schema():
    schema = [
        {"name": "plan", "type": "string", "categorical": True},
        {"name": "meeting_minutes", "type": "float", "categorical": False, "min": 0, "max": 1440},
        {"name": "attendees", "type": "int", "categorical": False},
        {"name": "is_trial", "type": "bool", "categorical": False},
        {"name": "region_code", "type": "int", "categorical": True},
        {"name": "signup_date", "type": "datetime", "categorical": False},
    ]
    specs = specs_from_schema(
        schema,
        id_columns=["customer_id"],
        text_columns=["comment"],
        extra={"upgraded": "categorical", "score": "numeric"},
    )
    kinds = {s.name: s.kind for s in specs}
    assert kinds == {
        "plan": "categorical",
        "meeting_minutes": "numeric",
        "attendees": "numeric",
        "is_trial": "categorical",
        "region_code": "categorical",
        "signup_date": "timestamp",
        "customer_id": "id",
        "comment": "text",
        "upgraded": "categorical",
        "score": "numeric",
    }
    minutes = specs[1]
    assert (minutes.dtype, minutes.min_value, minutes.max_value) == ("float", 0.0, 1440.0)
    assert ColumnSpec.from_dict(minutes.to_dict()) == minutes
    with pytest.raises(ValueError):
        ColumnSpec("x", "fuzzy")


def test_infer_specs_from_a_sample():
    rng = np.random.default_rng(3)
    n = 2_000
    sample = pd.DataFrame(
        {
            "meeting_minutes": rng.gamma(2, 20, n),
            "attendees": rng.integers(1, 50, n),
            "plan": rng.choice(["free", "pro"], n),
            "signup_date": pd.date_range("2026-01-01", periods=n, freq="h").strftime("%d/%m/%Y %H:%M:%S"),
            "customer_id": [f"cus_{i:06d}" for i in range(n)],
            "account_id": np.arange(n) + 10_000,
            "comment": [f"customer {i} asked about the webinar pricing tiers again" for i in range(n)],
            "city": [f"city{i % 400}" for i in range(n)],
            "is_trial": rng.random(n) < 0.3,
        }
    )
    kinds = {s.name: (s.kind, s.dtype) for s in infer_specs(sample)}
    assert kinds == {
        "meeting_minutes": ("numeric", "float"),
        "attendees": ("numeric", "int"),
        "plan": ("categorical", "string"),
        "signup_date": ("timestamp", "datetime"),
        "customer_id": ("id", "string"),
        "account_id": ("id", "int"),
        "comment": ("text", "string"),
        "city": ("categorical", "string"),
        "is_trial": ("categorical", "bool"),
    }
