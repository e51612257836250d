"""Feature–label correlation (audits/engine/target.py and checks.target_correlation_findings): a
feature whose link with the label jumps may carry the label (a leak); one whose link falls has drifted
or broken. The statistics are mergeable, so a file profiled in chunks or partitions says the same."""

import importlib.util
import json
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats as scipy_stats

from audits.engine import audit, checks, sources, target
from audits.engine.checks import verdict
from audits.engine.columns import ColumnSpec
from audits.engine.profile import (
    encode_kept_values,
    merge_profiles,
    profile_edges,
    profile_frame,
    without_kept_values,
)
from audits.engine.profile.edges import reference_edges
from audits.engine.suite import ColumnRules, Suite
from demo.batches import clean_batch

LABEL = "upgraded_90d"
SPECS = [
    ColumnSpec("meeting_minutes", "numeric"),
    ColumnSpec("attendees", "numeric"),
    ColumnSpec("days_active", "numeric"),
    ColumnSpec("plan", "categorical"),
    ColumnSpec("event_type", "categorical"),
    ColumnSpec(LABEL, "categorical"),
]


def signups(n: int, seed: int) -> pd.DataFrame:
    """Soom signups with one more feature, days_active, weakly linked to upgrading (r ≈ 0.1)."""
    frame = clean_batch(n, start=date(2026, 1, 1), end=date(2026, 6, 30), seed=seed, first_customer=1)
    rng = np.random.default_rng(seed)
    frame["days_active"] = (rng.normal(20, 6, n) + 2 * frame[LABEL]).round(1)
    return frame


def reference_and(current: pd.DataFrame, *, reference: pd.DataFrame | None = None):
    ref = profile_frame(signups(20_000, seed=11) if reference is None else reference, SPECS, target_column=LABEL)
    cur = profile_frame(current, SPECS, edges=profile_edges(ref), target_column=LABEL)
    return ref, cur


def only(findings, column):
    found = [f for f in findings if f.column == column]
    assert len(found) == 1, [f.to_dict() for f in findings]
    return found[0]


# ---------------------------------------------------------------------------------------------
# The statistics are exact and mergeable
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("n, holes, tolerance", [(900, False, 1e-9), (20_000, True, 2e-3)])
def test_the_stored_statistics_give_spearmans_rank_correlation_on_heavy_tailed_data(n, holes, tolerance):
    """With at most 999 distinct values each value is its own bin, so the score is the rank and ρ is
    scipy's to the last digits; beyond that the ranks are the training percentiles (1,000 bins, over
    all of a column's values, also those whose label is missing), which move ρ by well under 0.002."""
    rng = np.random.default_rng(1)
    x = rng.pareto(1.1, n) * 1e6  # heavy-tailed, far from zero
    y = np.log1p(x) + rng.normal(0, 3, n)
    if holes:
        x[::9] = np.nan
        y[::13] = np.nan
    frame = pd.DataFrame({"x": x, "y": y})
    stats = profile_frame(frame, [ColumnSpec("x", "numeric"), ColumnSpec("y", "numeric")], target_column="y")["target"]
    both = ~np.isnan(x) & ~np.isnan(y)
    expected = scipy_stats.spearmanr(x[both], y[both]).statistic
    got = target.association(stats["features"]["x"])
    assert got["measure"] == "spearman" and got["n"] == both.sum() and stats["labelled"] == (~np.isnan(y)).sum()
    assert got["value"] == pytest.approx(expected, abs=tolerance)
    assert got["value"] != pytest.approx(np.corrcoef(x[both], y[both])[0, 1], abs=0.1)  # Pearson's r is another story


def test_eta_equals_a_direct_computation_and_its_chance_correction():
    rng = np.random.default_rng(2)
    plan = rng.choice(["free", "pro", "team", "education"], 3000, p=[0.5, 0.2, 0.2, 0.1])
    y = (rng.random(3000) < pd.Series(plan).map({"free": 0.1, "pro": 0.3, "team": 0.5, "education": 0.2})).astype(int)
    frame = pd.DataFrame({"plan": plan, "y": y})
    stats = profile_frame(
        frame, [ColumnSpec("plan", "categorical"), ColumnSpec("y", "categorical")], target_column="y"
    )["target"]["features"]["plan"]
    means = frame.groupby("plan")["y"].transform("mean")
    eta2 = ((means - y.mean()) ** 2).sum() / ((y - y.mean()) ** 2).sum()
    got = target.eta(stats)
    assert got["eta"] == pytest.approx(np.sqrt(eta2), rel=1e-9)
    assert got["adjusted"] == pytest.approx(np.sqrt(1 - (1 - eta2) * (3000 - 1) / (3000 - 4)), rel=1e-9)
    assert got["groups"] == 4 and got["n"] == 3000


def test_a_feature_with_no_link_to_the_label_has_an_eta_near_zero_even_with_many_small_groups():
    rng = np.random.default_rng(3)
    frame = pd.DataFrame({"city": rng.integers(0, 50, 500).astype(str), "y": rng.integers(0, 2, 500)})
    stats = profile_frame(frame, [ColumnSpec("city", "categorical")], target_column="y")["target"]["features"]["city"]
    got = target.eta(stats)
    assert got["eta"] > 0.25  # fifty groups of ten rows "explain" a quarter of a coin flip by chance
    assert got["adjusted"] < 0.15


def test_a_batch_small_next_to_training_is_not_flagged_for_its_many_small_groups():
    rng = np.random.default_rng(7)
    specs = [ColumnSpec("city", "categorical")]

    def cities(n):
        return pd.DataFrame({"city": rng.integers(0, 50, n).astype(str), "y": rng.integers(0, 2, n)})

    ref = profile_frame(cities(50_000), specs, target_column="y")
    cur = profile_frame(cities(500), specs, edges=profile_edges(ref), target_column="y")
    (finding,) = checks.target_correlation_findings(ref, cur, Suite())
    assert finding.details["current_eta_raw"] > 0.25  # raw η would "jump" by chance alone
    assert finding.status == "pass" and "is stable" in finding.message


def test_merged_chunks_equal_one_pass():
    frame = signups(9_000, seed=4)
    frame.loc[frame.index[::17], "meeting_minutes"] = np.nan
    frame.loc[frame.index[::23], LABEL] = np.nan
    whole = profile_frame(frame, SPECS, target_column=LABEL)
    edges = profile_edges(whole)
    parts = [frame.iloc[a:b] for a, b in ((0, 100), (100, 3_333), (3_333, 8_000), (8_000, 9_000))]
    merged = profile_frame(parts[0], SPECS, edges=edges, target_column=LABEL)
    for part in parts[1:]:
        merged = merge_profiles(merged, profile_frame(part, SPECS, edges=edges, target_column=LABEL))
    a, b = whole["target"], merged["target"]
    assert a["labelled"] == b["labelled"] == frame[LABEL].notna().sum()
    assert (
        a["features"].keys()
        == b["features"].keys()
        == {"meeting_minutes", "attendees", "days_active", "plan", "event_type"}
    )
    for name, fa in a["features"].items():
        fb = b["features"][name]
        if fa["kind"] == "numeric":
            assert fb["n"] == fa["n"] and fb["sums"].keys() == fa["sums"].keys() == set(target.MONOMIALS)
            for key, value in fa["sums"].items():
                assert fb["sums"][key] == pytest.approx(value, rel=1e-12), (name, key)
        else:
            assert fb["groups"].keys() == fa["groups"].keys()
            for k, g in fa["groups"].items():
                assert fb["groups"][k]["n"] == g["n"]
                assert fb["groups"][k]["mean"] == pytest.approx(g["mean"], rel=1e-12)
                assert fb["groups"][k]["m2"] == pytest.approx(g["m2"], rel=1e-9, abs=1e-9)
        assert target.association(fb)["value"] == pytest.approx(target.association(fa)["value"], abs=1e-12)
    json.dumps(without_kept_values(merged))  # JSON-safe as stored (kept values live beside it)


def test_a_file_read_in_small_chunks_gives_the_same_statistics_as_one_read(tmp_path):
    """Read in chunks, a reference takes its bins from a (randomised) quantile sketch instead of exact
    quantiles, so a rank read from them may differ by a bin or two: ρ by far less than any threshold
    (measured: at most 0.0014 over 15 reads)."""
    frame = signups(5_000, seed=5)
    path = tmp_path / "training.csv"
    frame.to_csv(path, index=False)
    one = sources.profile_source(path, "csv", SPECS, target_column=LABEL, chunk_rows=1_000_000)["target"]
    many = sources.profile_source(path, "csv", SPECS, target_column=LABEL, chunk_rows=700)["target"]
    for name in one["features"]:
        exact = 1e-12 if one["features"][name]["kind"] == "categorical" else 5e-3
        assert target.association(many["features"][name])["value"] == pytest.approx(
            target.association(one["features"][name])["value"], abs=exact
        )
    assert one["features"]["meeting_minutes"]["n"] == 5_000


def test_categories_beyond_fifty_are_pooled_so_memory_stays_bounded():
    rng = np.random.default_rng(6)
    frame = pd.DataFrame({"referrer": rng.integers(0, 400, 20_000).astype(str), "y": rng.integers(0, 2, 20_000)})
    specs = [ColumnSpec("referrer", "categorical")]
    halves = [
        profile_frame(frame.iloc[:10_000], specs, target_column="y"),
        profile_frame(frame.iloc[10_000:], specs, target_column="y"),
    ]
    for stats in (halves[0]["target"], merge_profiles(*halves)["target"]):
        groups = stats["features"]["referrer"]["groups"]
        assert len(groups) == target.TARGET_CATEGORIES + 1 and "(other)" in groups
        assert sum(g["n"] for g in groups.values()) == stats["labelled"]


@pytest.mark.parametrize(
    "values, expected",
    [
        ([True, False, None, True], [1.0, 0.0, np.nan, 1.0]),
        (["true", "False", None, " TRUE "], [1.0, 0.0, np.nan, 1.0]),
        (["1", "0", "", "1"], [1.0, 0.0, np.nan, 1.0]),
        ([1.0, 0.0, np.nan, 1.0], [1.0, 0.0, np.nan, 1.0]),
    ],
)
def test_binary_labels_written_as_bools_words_or_digits_become_zero_and_one(values, expected):
    y, reason = target.label_values(pd.Series(values, name="upgraded"), "categorical")
    assert reason is None
    np.testing.assert_array_equal(y, np.array(expected))


def test_a_numeric_label_is_kept_as_it_is():
    y, reason = target.label_values(pd.Series([12.5, 0.0, 300.25], name="revenue"), "numeric")
    assert reason is None and y.tolist() == [12.5, 0.0, 300.25]


# ---------------------------------------------------------------------------------------------
# Stories
# ---------------------------------------------------------------------------------------------


def test_a_feature_that_carries_the_label_is_flagged_as_a_possible_leak():
    current = signups(3_000, seed=21)
    noise = np.random.default_rng(21).normal(0, 0.2, 3_000)
    current["days_active"] = (current[LABEL] + noise).round(2)  # filled in after the upgrade happened
    ref, cur = reference_and(current)
    finding = only(target_correlation(ref, cur), "days_active")
    assert (finding.check, finding.status, finding.severity) == ("target_correlation", "warn", "warning")
    assert "leak" in finding.message and "carries the label" in finding.message
    assert finding.details["reference"] < 0.25 and finding.value > 0.8 and finding.threshold == 0.2
    assert finding.details["pvalue"] < 1e-6 and finding.details["current_n"] == 3_000
    assert verdict([finding]) == "warn"


def test_a_feature_that_lost_its_link_with_the_label_is_flagged_as_drift():
    reference = signups(20_000, seed=11)
    reference["days_active"] = reference[LABEL] * 10 + np.random.default_rng(0).normal(0, 3, 20_000)
    current = signups(3_000, seed=22)
    current["days_active"] = np.random.default_rng(1).permutation(
        current[LABEL] * 10 + np.random.default_rng(2).normal(0, 3, 3_000)
    )  # the join now matches wrong rows
    ref, cur = reference_and(current, reference=reference)
    finding = only(target_correlation(ref, cur), "days_active")
    assert finding.status == "warn"
    assert "fell" in finding.message and "hints at drift or a broken feature" in finding.message
    assert finding.details["reference"] > 0.55 and abs(finding.value) < 0.1  # ranks against a 0/1 label: at most ~0.87


def test_a_categorical_feature_that_starts_to_decide_the_label_is_flagged():
    current = signups(3_000, seed=23)
    current["event_type"] = np.where(current[LABEL] == 1, "webinar", "meeting")
    ref, cur = reference_and(current)
    finding = only(target_correlation(ref, cur), "event_type")
    assert finding.status == "warn" and "leak" in finding.message and "η" in finding.message
    assert finding.details["test"] == "interaction_f" and finding.details["pvalue"] < 0.01


def test_a_clean_labelled_batch_of_a_thousand_rows_passes():
    ref, cur = reference_and(signups(1_000, seed=24))
    findings = target_correlation(ref, cur)
    assert {f.column for f in findings} == {"meeting_minutes", "attendees", "days_active", "plan", "event_type"}
    assert all(f.status == "pass" for f in findings), [f.message for f in findings if f.status != "pass"]
    assert "is stable" in only(findings, "days_active").message


def test_a_change_in_a_tiny_batch_that_noise_explains_does_not_warn():
    rng = np.random.default_rng(0)
    reference = pd.DataFrame({"x": rng.normal(size=20_000)})
    reference["y"] = 0.3 * reference["x"] + rng.normal(size=20_000)
    for seed in range(1000):  # a 20-row batch from the same population whose r happens to be 0.25 off
        r = np.random.default_rng(seed)
        current = pd.DataFrame({"x": r.normal(size=20)})
        current["y"] = 0.3 * current["x"] + r.normal(size=20)
        if abs(np.corrcoef(current["x"], current["y"])[0, 1] - 0.29) > 0.25:
            break
    specs = [ColumnSpec("x", "numeric"), ColumnSpec("y", "numeric")]
    ref = profile_frame(reference, specs, target_column="y")
    cur = profile_frame(current, specs, edges=profile_edges(ref), target_column="y")
    (finding,) = checks.target_correlation_findings(ref, cur, Suite())
    assert abs(finding.details["delta"]) >= 0.2  # the effect alone would warn ...
    assert finding.details["pvalue"] >= 0.01  # ... but twenty rows cannot tell it from chance
    assert finding.status == "pass" and "no more than sampling noise explains with 20 labelled rows" in finding.message


def test_a_batch_with_one_plan_says_nothing_about_how_plan_goes_with_the_label():
    reference = signups(20_000, seed=11)
    current = signups(2_000, seed=29)
    current["plan"] = "free"
    ref, cur = reference_and(current, reference=reference)
    finding = only(target_correlation(ref, cur), "plan")
    assert finding.details["reference"] - finding.value >= 0.2 and finding.details["pvalue"] is None
    assert (finding.status, finding.severity) == ("pass", "info") and "cannot be told from chance" in finding.message


def test_an_unlabelled_batch_gets_no_correlation_finding():
    current = signups(1_000, seed=25)
    ref, cur = reference_and(current.drop(columns=[LABEL]))
    assert "target" not in cur
    assert target_correlation(ref, cur) == []
    current[LABEL] = None  # the export keeps the column, empty until the outcome is known
    _, cur = reference_and(current)
    assert cur["target"]["labelled"] == 0 and target_correlation(ref, cur) == []


def test_a_multiclass_label_is_reported_as_not_checkable():
    frame = signups(2_000, seed=26)
    frame["next_plan"] = np.random.default_rng(26).choice(["free", "pro", "team"], 2_000)
    specs = [*SPECS[:-1], ColumnSpec("next_plan", "categorical")]
    ref = profile_frame(frame, specs, target_column="next_plan")
    assert ref["target"]["numeric"] is False and ref["target"]["features"] == {}
    cur = profile_frame(frame, specs, edges=profile_edges(ref), target_column="next_plan")
    (finding,) = checks.target_correlation_findings(ref, cur, Suite())
    assert (finding.column, finding.severity, finding.status) == ("next_plan", "info", "not_checked")
    assert "neither numbers nor true/false" in finding.message and "'" in finding.message


def test_a_label_of_class_numbers_beyond_zero_and_one_is_multiclass():
    y, reason = target.label_values(pd.Series([0, 1, 2, 1], name="tier"), "categorical")
    assert y is None and "classes other than 0 and 1 (e.g. 2)" in reason
    y, reason = target.label_values(pd.Series([0, 1, 2, 1], name="seats"), "numeric")  # a count is a number
    assert reason is None and y.tolist() == [0, 1, 2, 1]


def test_a_reference_built_without_the_label_says_how_to_get_the_check():
    current = signups(1_000, seed=27)
    ref = profile_frame(signups(5_000, seed=11), SPECS)  # an older reference: no label statistics
    cur = profile_frame(current, SPECS, edges=profile_edges(ref), target_column=LABEL)
    (finding,) = checks.target_correlation_findings(ref, cur, Suite())
    assert finding.severity == "info" and "rebuild it with the label named" in finding.message


# ---------------------------------------------------------------------------------------------
# Suite thresholds
# ---------------------------------------------------------------------------------------------


def test_thresholds_come_from_the_columns_rules_and_an_old_suite_still_loads():
    current = signups(3_000, seed=21)
    current["days_active"] = current[LABEL] + np.random.default_rng(21).normal(0, 0.2, 3_000)
    ref, cur = reference_and(current)
    strict = Suite(
        columns={
            "days_active": ColumnRules(
                kind="numeric",
                target_corr_warn=0.1,
                target_corr_fail=0.5,
                severity_overrides={"target_correlation": "error"},
            )
        }
    )
    finding = only(checks.target_correlation_findings(ref, cur, strict), "days_active")
    assert (finding.status, finding.severity, finding.threshold) == ("fail", "error", 0.1)
    assert "fail at 0.5" in finding.message
    data = json.loads(json.dumps(strict.to_dict()))
    assert data["columns"]["days_active"]["target_corr_fail"] == 0.5 and Suite.from_dict(data) == strict
    old = {"columns": {"days_active": {"kind": "numeric", "drift_psi_warn": 0.1}}}
    rules = Suite.from_dict(old).columns["days_active"]
    assert (rules.target_corr_warn, rules.target_corr_fail) == (0.2, None)
    with pytest.raises(ValueError, match="target_corr_fail must lie between"):
        ColumnRules(kind="numeric", target_corr_warn=0.3, target_corr_fail=0.2)


def test_callers_that_name_no_label_get_the_profile_they_always_got(tmp_path):
    frame = signups(1_000, seed=28)
    assert "target" not in profile_frame(frame, SPECS)
    path = tmp_path / "batch.csv"
    frame.to_csv(path, index=False)
    facts = audit.check_file(path, "csv", max_bytes=10**8)
    reference = audit.build_reference(path, "csv", SPECS, facts)
    assert "target" not in reference
    assert "target" not in audit.profile_rows(path, "csv", reference=reference, specs=SPECS, facts=facts)
    labelled = audit.build_reference(path, "csv", SPECS, facts, target_column=LABEL)
    assert without_sketches(labelled) == without_sketches(reference) and labelled["target"]["labelled"] == 1_000


def without_sketches(profile):
    """Columns minus the KLL sketch and its quantiles, which are randomised from one run to the next."""
    return {
        name: {k: v for k, v in col.items() if k not in ("sketch", "quantiles")}
        for name, col in encode_kept_values(profile)["columns"].items()  # kept arrays compared as bytes
    }


def target_correlation(ref, cur):
    return checks.target_correlation_findings(ref, cur, Suite())


# ---------------------------------------------------------------------------------------------
# Skewed real data: no false leak alarms
# ---------------------------------------------------------------------------------------------


def breast_cancer() -> pd.DataFrame:
    """The Wisconsin breast cancer data shipped inside scikit-learn (569 rows, 30 numeric features,
    several heavy-tailed: skewness up to 5.4; label 0/1), read as a CSV without importing sklearn."""
    here = importlib.util.find_spec("sklearn").submodule_search_locations[0]
    raw = pd.read_csv(Path(here) / "datasets" / "data" / "breast_cancer.csv", skiprows=1, header=None)
    return raw.set_axis([f"f{i}" for i in range(30)] + ["label"], axis=1)


def test_random_halves_of_a_small_skewed_data_set_raise_no_more_leak_alarms_than_chance():
    """A user audits one random half of a real data set against the other, 50 times: nothing
    changed, so a warning is a false alarm. With Pearson's r and Fisher's z, the most skewed
    features ("area error", "concavity error") had p < 0.01 in about a quarter of the splits and
    one of them warned in 11 of 50. Rank correlations with a variance taken from the data keep every
    feature at the noise level the suite names (drift_noise_pvalue = 0.01)."""
    frame = breast_cancer()
    features = list(frame.columns[:30])
    specs = [ColumnSpec(c, "numeric") for c in features] + [ColumnSpec("label", "categorical")]
    suite = Suite()
    alpha = suite.rules_for("f0", "numeric").drift_noise_pvalue
    warned, significant = np.zeros(30, int), np.zeros(30, int)
    leaks = 0
    for seed in range(50):
        order = np.random.default_rng(seed).permutation(len(frame))
        half, other = frame.iloc[order[:284]], frame.iloc[order[284:]]
        edges = {c: reference_edges(half[c].to_numpy())[0] for c in features}
        ref = {"target": target.target_stats(half, specs, "label", edges)}
        cur = {"target": target.target_stats(other, specs, "label", edges)}
        for finding in checks.target_correlation_findings(ref, cur, suite):
            i = features.index(finding.column)
            warned[i] += finding.status != "pass"
            significant[i] += finding.details["pvalue"] < alpha
            leaks += finding.status != "pass" and "leak" in finding.message
    skewed = [features.index(c) for c in frame[features].skew().nlargest(2).index]
    assert significant[skewed].max() <= 3, significant[skewed]  # 50 × 0.01, plus binomial noise
    assert warned.max() <= 2, warned
    assert leaks <= alpha * 50 * 30, leaks


def test_a_reference_with_pearsons_statistics_from_an_older_keel_asks_to_be_rebuilt():
    ref, cur = reference_and(signups(1_000, seed=30))
    ref["target"]["features"]["days_active"] = {
        "kind": "numeric",
        "n": 20_000,
        "mean_x": 20.0,
        "mean_y": 0.2,
        "cxx": 7.2e5,
        "cyy": 3.2e3,
        "cxy": 2.6e3,
    }
    finding = only(target_correlation(ref, cur), "days_active")
    assert (finding.status, finding.severity) == ("not_checked", "info") and "rebuild it" in finding.message
