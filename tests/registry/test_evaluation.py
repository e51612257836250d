"""registry/evaluation/ against scikit-learn and brute force, on seeded random data. No database."""

import json
import math

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm
from sklearn.linear_model import LinearRegression, LogisticRegression

from registry import evaluation as ev


@pytest.fixture
def rng():
    return np.random.default_rng(42)


@pytest.fixture
def binary(rng):
    """Labels and informative-but-imperfect probabilities strictly inside (0, 1)."""
    y = rng.integers(0, 2, 600)
    p = np.clip(0.3 * y + rng.uniform(0, 0.7, 600), 0.001, 0.999)
    return y, p


def _all_plain(values: dict) -> bool:
    """JSON-safe: plain floats (or None), never numpy scalars or NaN."""
    json.dumps(values, allow_nan=False)
    return all(v is None or type(v) is float for v in values.values())


# ---------------------------------------------------------------------------------- metrics_for


def test_binary_metrics_equal_sklearn(binary):
    y, p = binary
    found = ev.metrics_for("binary_classification", y, p, threshold=0.42)
    decided = (p >= 0.42).astype(int)
    assert found["roc_auc"] == pytest.approx(skm.roc_auc_score(y, p))
    assert found["pr_auc"] == pytest.approx(skm.average_precision_score(y, p))
    assert found["log_loss"] == pytest.approx(skm.log_loss(y, p, labels=[0, 1]))
    assert found["precision"] == pytest.approx(skm.precision_score(y, decided))
    assert found["recall"] == pytest.approx(skm.recall_score(y, decided))
    assert found["f1"] == pytest.approx(skm.f1_score(y, decided))
    assert found["accuracy"] == pytest.approx(skm.accuracy_score(y, decided))
    assert found["positive_rate"] == pytest.approx(decided.mean())
    assert found["prevalence"] == pytest.approx(y.mean())
    assert _all_plain(found)
    assert set(found) <= set(ev.HIGHER_IS_BETTER)


def test_binary_default_threshold_is_half(binary):
    y, p = binary
    assert ev.metrics_for("binary_classification", y, p)["recall"] == pytest.approx(skm.recall_score(y, p >= 0.5))


def test_binary_log_loss_clips_certain_mistakes():
    found = ev.metrics_for("binary_classification", [1, 0], [0.0, 0.0])
    assert found["log_loss"] == pytest.approx(-math.log(1e-15) / 2, rel=1e-6)


def test_binary_single_class_has_no_auc_but_keeps_the_rest():
    found = ev.metrics_for("binary_classification", [1, 1, 1], [0.9, 0.2, 0.7])
    assert found["roc_auc"] is None and found["pr_auc"] is None
    assert found["recall"] == pytest.approx(2 / 3)
    assert _all_plain(found)


def test_multiclass_metrics_equal_sklearn(rng):
    classes = np.array(["cat", "dog", "eel"])
    y = rng.choice(classes, 500)
    logits = rng.normal(size=(500, 3)) + 1.5 * (y[:, None] == classes[None, :])
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    found = ev.metrics_for("multiclass_classification", y, p, classes=classes)
    predicted = classes[p.argmax(axis=1)]
    assert found["roc_auc"] == pytest.approx(
        skm.roc_auc_score(y, p, multi_class="ovr", average="macro", labels=classes)
    )
    assert found["log_loss"] == pytest.approx(skm.log_loss(y, p, labels=classes))
    assert found["accuracy"] == pytest.approx(skm.accuracy_score(y, predicted))
    assert found["macro_f1"] == pytest.approx(skm.f1_score(y, predicted, average="macro"))
    assert found["macro_precision"] == pytest.approx(skm.precision_score(y, predicted, average="macro"))
    assert found["macro_recall"] == pytest.approx(skm.recall_score(y, predicted, average="macro"))
    assert _all_plain(found)


def test_multiclass_rejects_scores_that_do_not_match_classes(rng):
    with pytest.raises(ValueError, match="one column per class"):
        ev.metrics_for("multiclass_classification", ["a", "b"], np.full((2, 3), 1 / 3), classes=["a", "b"])


def test_regression_metrics_equal_sklearn(rng):
    y = rng.normal(10, 3, 400)
    predicted = y + rng.normal(0, 1.5, 400)
    found = ev.metrics_for("regression", y, predicted)
    assert found["rmse"] == pytest.approx(math.sqrt(skm.mean_squared_error(y, predicted)))
    assert found["mae"] == pytest.approx(skm.mean_absolute_error(y, predicted))
    assert found["r2"] == pytest.approx(skm.r2_score(y, predicted))
    assert _all_plain(found)


def test_regression_single_row_r2_is_none_not_nan():
    assert ev.metrics_for("regression", [1.0], [2.0])["r2"] is None


def test_ranking_metrics_equal_per_query_sklearn_and_brute_force(rng):
    groups = np.repeat(np.arange(30), 12)
    relevance = rng.integers(0, 4, groups.size) * (rng.uniform(size=groups.size) < 0.4)
    relevance[groups == 7] = 0  # a query without relevant items: skipped
    scores = relevance + rng.normal(0, 1.5, groups.size)
    found = ev.metrics_for("ranking", relevance, scores, groups=groups, k=5)
    ndcgs, recalls = [], []
    for g in np.unique(groups):
        rel, sc = relevance[groups == g], scores[groups == g]
        if rel.sum() == 0:
            continue
        ndcgs.append(skm.ndcg_score([rel], [sc], k=5))
        top5 = np.argsort(-sc)[:5]
        recalls.append((rel[top5] > 0).sum() / (rel > 0).sum())
    assert len(ndcgs) < 30
    assert found["ndcg_at_k"] == pytest.approx(np.mean(ndcgs))
    assert found["recall_at_k"] == pytest.approx(np.mean(recalls))
    assert found["k"] == 5.0
    assert _all_plain(found)


def test_ranking_single_row_query_with_relevant_item_is_perfect():
    found = ev.metrics_for("ranking", [2, 0, 1, 0], [0.1, 0.9, 0.3, 0.2], groups=["solo", "q", "q", "q"], k=10)
    assert found["ndcg_at_k"] == pytest.approx((1.0 + skm.ndcg_score([[0, 1, 0]], [[0.9, 0.3, 0.2]])) / 2)
    assert found["recall_at_k"] == 1.0


def test_ranking_without_relevant_items_is_none():
    found = ev.metrics_for("ranking", [0, 0], [0.1, 0.2], groups=[1, 1])
    assert found["ndcg_at_k"] is None and found["recall_at_k"] is None


def test_unknown_task_type_is_refused():
    with pytest.raises(ValueError, match="Unknown task type"):
        ev.metrics_for("clustering", [1], [1])


def test_every_metric_key_has_a_direction(binary, rng):
    y, p = binary
    keys = set(ev.metrics_for("binary_classification", y, p)) | set(ev.metrics_for("regression", p, p))
    keys |= set(ev.metrics_for("ranking", y, p, groups=y)) | set(
        ev.metrics_for("multiclass_classification", y, np.c_[1 - p, p])
    )
    assert keys <= set(ev.HIGHER_IS_BETTER)
    assert [m for m in ("log_loss", "rmse", "mae") if ev.HIGHER_IS_BETTER[m]] == []


# ---------------------------------------------------------------------------------- baseline


def test_binary_baseline_is_constant_prevalence_with_chance_auc(binary):
    y, _ = binary
    base = ev.baseline_scores("binary_classification", y)
    assert np.all(base == y.mean())
    found = ev.metrics_for("binary_classification", y, base)
    assert found["roc_auc"] == 0.5
    assert found["pr_auc"] == pytest.approx(y.mean())


def test_binary_baseline_uses_reference_labels():
    base = ev.baseline_scores("binary_classification", [0, 0, 0, 1], reference_y=[1, 1, 0, 0, 0])
    assert np.allclose(base, 0.4) and len(base) == 4


def test_multiclass_and_regression_baselines():
    multi = ev.baseline_scores("multiclass_classification", ["a", "b", "b", "c"], classes=["c", "b", "a"])
    assert multi.shape == (4, 3) and np.allclose(multi, [0.25, 0.5, 0.25])
    assert np.allclose(ev.baseline_scores("regression", [1.0, 2.0, 6.0]), 3.0)


def test_ranking_baseline_is_item_popularity():
    items = ["x", "y", "x", "z", "x", "y"]
    relevance = [1, 0, 2, 0, 0, 1]
    assert ev.baseline_scores("ranking", relevance, items=items).tolist() == [2, 1, 2, 0, 2, 1]
    from_reference = ev.baseline_scores(
        "ranking", relevance, items=items, reference_y=[1, 1, 1], reference_items=["z", "z", "y"]
    )
    assert from_reference.tolist() == [0, 1, 0, 2, 0, 1]
    assert np.all(ev.baseline_scores("ranking", relevance) == 0)


# ---------------------------------------------------------------------------------- learn_threshold


def _at(y, p, threshold):
    """(precision, recall, f1) of the decision p >= threshold, counted by hand."""
    decided = p >= threshold
    tp = int((decided & (y == 1)).sum())
    precision = tp / decided.sum() if decided.any() else 0.0
    recall = tp / (y == 1).sum()
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def _brute_force(y, p):
    """(threshold, precision, recall, f1) for every distinct score, the only thresholds that matter."""
    return [(t, *_at(y, p, t)) for t in np.unique(p)]


def test_hand_counting_agrees_with_sklearn(binary):
    y, p = binary
    assert _at(y, p, 0.4) == pytest.approx(
        (skm.precision_score(y, p >= 0.4), skm.recall_score(y, p >= 0.4), skm.f1_score(y, p >= 0.4))
    )


@pytest.mark.parametrize("target", [0.5, 0.8, 0.95])
def test_min_recall_is_the_highest_threshold_meeting_the_target(binary, target):
    y, p = binary
    found = ev.learn_threshold(y, p, "min_recall", target)
    best = max(t for t, _, recall, _ in _brute_force(y, p) if recall >= target)
    assert found["met"] is True
    assert found["threshold"] == best
    assert found["recall"] >= target
    assert found["threshold"] in p  # an actual score, so `scores >= threshold` reproduces it exactly:
    precision, recall, f1 = _at(y, p, found["threshold"])
    assert (found["precision"], found["recall"]) == (precision, recall)
    assert found["f1"] == pytest.approx(f1)


@pytest.mark.parametrize("target", [0.6, 0.75])
def test_min_precision_is_the_lowest_threshold_meeting_the_target(binary, target):
    y, p = binary
    found = ev.learn_threshold(y, p, "min_precision", target)
    best = min(t for t, precision, _, _ in _brute_force(y, p) if precision >= target)
    assert found["met"] is True and found["threshold"] == best
    assert (found["precision"], found["recall"], found["f1"]) == pytest.approx(_at(y, p, found["threshold"]))


def test_max_f1_equals_brute_force_best(binary):
    y, p = binary
    found = ev.learn_threshold(y, p, "max_f1")
    scan = _brute_force(y, p)
    best_f1 = max(f1 for *_, f1 in scan)
    assert found["f1"] == pytest.approx(best_f1)
    assert found["threshold"] == max(t for t, *_, f1 in scan if f1 == pytest.approx(best_f1, abs=1e-12))
    assert (found["precision"], found["recall"], found["f1"]) == pytest.approx(_at(y, p, found["threshold"]))


def test_max_f1_ties_go_to_the_higher_threshold():
    # Thresholds 0.9 (precision 1, recall 1/2) and 0.1 (precision 1/2, recall 1) both give F1 = 2/3.
    y = np.array([1, 0, 0, 1])
    p = np.array([0.9, 0.8, 0.7, 0.1])
    assert _at(y, p, 0.1)[2] == pytest.approx(_at(y, p, 0.9)[2]) == pytest.approx(2 / 3)
    assert ev.learn_threshold(y, p, "max_f1")["threshold"] == 0.9


def test_unmeetable_precision_target_is_reported_not_met(binary):
    y, p = binary
    found = ev.learn_threshold(y, p, "min_precision", 1.01)
    assert found["met"] is False
    assert found["precision"] == pytest.approx(max(precision for _, precision, _, _ in _brute_force(y, p)))


def test_unmeetable_without_positives():
    found = ev.learn_threshold([0, 0, 0], [0.2, 0.5, 0.9], "min_recall", 0.8)
    assert found["met"] is False and found["threshold"] is None


def test_keep_learns_nothing(binary):
    found = ev.learn_threshold(*binary, "keep")
    assert found["threshold"] is None and found["met"] is True and found["rule"] == "keep"


def test_threshold_rule_needs_a_target(binary):
    with pytest.raises(ValueError, match="needs a target"):
        ev.learn_threshold(*binary, "min_recall")


def test_learned_threshold_is_json_safe(binary):
    json.dumps(ev.learn_threshold(*binary, "min_recall", 0.9), allow_nan=False)


# ---------------------------------------------------------------------------------- prediction_diff


def test_identical_scores_change_nothing(binary):
    _, p = binary
    diff = ev.prediction_diff("binary_classification", p, p)
    assert diff["rows"] == len(p)
    assert diff["mean_change"] == diff["mean_abs_change"] == diff["max_abs_change"] == 0.0
    assert diff["flip_rate"] == 0.0 and diff["flips_up"] == 0 and diff["flips_down"] == 0
    assert sum(diff["histogram"]["counts"]) == len(p)
    json.dumps(diff, allow_nan=False)


def test_known_shift_gives_expected_flips():
    production = np.array([0.10, 0.45, 0.49, 0.55, 0.70, 0.95])
    candidate = production + 0.1  # 0.45 and 0.49 cross 0.5
    diff = ev.prediction_diff("binary_classification", candidate, production)
    assert diff["flips_up"] == 2 and diff["flips_down"] == 0
    assert diff["flip_rate"] == pytest.approx(2 / 6)
    assert diff["mean_change"] == pytest.approx(0.1)
    # Each side keeps its own threshold: the candidate's at 0.6 undoes the 0.49 flip and drops 0.55.
    own = ev.prediction_diff("binary_classification", candidate, production, candidate_threshold=0.6)
    assert (own["flips_up"], own["flips_down"]) == (0, 0)
    own = ev.prediction_diff("binary_classification", candidate, production, candidate_threshold=0.66)
    assert (own["flips_up"], own["flips_down"]) == (0, 1)


def test_top_movers_are_the_largest_changes(rng):
    production = rng.uniform(size=200)
    candidate = production + rng.normal(0, 0.05, 200)
    ids = [f"row-{i}" for i in range(200)]
    diff = ev.prediction_diff("regression", candidate, production, ids=ids, top=5)
    expected = np.argsort(-np.abs(candidate - production))[:5]
    assert [m["id"] for m in diff["top_movers"]] == [ids[i] for i in expected]
    assert [m["change"] for m in diff["top_movers"]] == pytest.approx((candidate - production)[expected])
    assert diff["flip_rate"] is None
    assert diff["max_abs_change"] == pytest.approx(np.abs(candidate - production).max())
    assert diff["p95_abs_change"] == pytest.approx(np.percentile(np.abs(candidate - production), 95))


def test_multiclass_diff_uses_productions_top_class_and_argmax_flips():
    production = np.array([[0.7, 0.2, 0.1], [0.2, 0.5, 0.3]])
    candidate = np.array([[0.4, 0.5, 0.1], [0.1, 0.6, 0.3]])
    diff = ev.prediction_diff("multiclass_classification", candidate, production, ids=np.array([10, 11]))
    assert [m["change"] for m in diff["top_movers"]] == pytest.approx([-0.3, 0.1])
    assert diff["top_movers"][0]["id"] == 10 and type(diff["top_movers"][0]["id"]) is int
    assert diff["flip_rate"] == 0.5 and diff["flips_up"] is None
    assert diff["mean_l1_distance"] == pytest.approx((0.6 + 0.2) / 2)


def test_ranking_diff_reports_rank_shift():
    groups = [1, 1, 1, 2, 2]
    production = np.array([0.9, 0.5, 0.1, 0.3, 0.2])
    candidate = np.array([0.1, 0.5, 0.9, 0.3, 0.2])  # query 1 reversed, query 2 unchanged
    diff = ev.prediction_diff("ranking", candidate, production, groups=groups)
    assert diff["flip_rate"] is None
    assert diff["mean_rank_shift"] == pytest.approx((2 + 0 + 2 + 0 + 0) / 5)


def test_decisions():
    assert ev.decisions("binary_classification", [0.2, 0.5, 0.7], threshold=0.6).tolist() == [False, False, True]
    assert ev.decisions("multiclass_classification", [[0.1, 0.9], [0.8, 0.2]], classes=["a", "b"]).tolist() == [
        "b",
        "a",
    ]
    assert ev.decisions("regression", [1.0]) is None


# ---------------------------------------------------------------------------------- curves


def test_curve_points_are_downsampled_and_keep_endpoints(binary):
    y, p = binary
    curves = ev.curve_points(y, p, max_points=50)
    fpr, tpr, _ = skm.roc_curve(y, p)
    assert len(fpr) > 50 >= len(curves["roc"]["fpr"])
    assert (curves["roc"]["fpr"][0], curves["roc"]["fpr"][-1]) == (0.0, 1.0)
    assert (curves["roc"]["tpr"][0], curves["roc"]["tpr"][-1]) == (0.0, 1.0)
    assert curves["roc"]["auc"] == pytest.approx(skm.roc_auc_score(y, p))
    assert curves["pr"]["recall"][0] == 1.0 and curves["pr"]["recall"][-1] == 0.0
    assert curves["pr"]["average_precision"] == pytest.approx(skm.average_precision_score(y, p))
    assert curves["pr"]["prevalence"] == pytest.approx(y.mean())
    json.dumps(curves, allow_nan=False)


def test_curve_points_need_both_classes():
    with pytest.raises(ValueError, match="both classes"):
        ev.curve_points([1, 1], [0.3, 0.6])


# ---------------------------------------------------------------------------------- importance


@pytest.fixture
def leak_frame(rng):
    X = pd.DataFrame({"a": rng.normal(size=800), "b": rng.normal(size=800), "c": rng.normal(size=800)})
    return X


def test_importance_ranks_the_only_informative_column_first(leak_frame, rng):
    y = (leak_frame["a"] + rng.normal(0, 0.3, 800) > 0).astype(int).to_numpy()
    model = LogisticRegression().fit(leak_frame, y)
    top = ev.permutation_importance_top(model, leak_frame, y, task_type="binary_classification", top=2, max_rows=500)
    assert [f["feature"] for f in top][0] == "a" and len(top) == 2
    assert top[0]["importance"] > 0.2 > abs(top[1]["importance"])
    json.dumps(top, allow_nan=False)


def test_importance_with_a_predict_function_for_regression(leak_frame):
    y = 3 * leak_frame["a"].to_numpy()
    model = LinearRegression().fit(leak_frame, y)
    top = ev.permutation_importance_top(model.predict, leak_frame, y, task_type="regression")
    assert top[0]["feature"] == "a"
    assert [f["importance"] for f in top] == sorted((f["importance"] for f in top), reverse=True)


def test_importance_multiclass(leak_frame):
    y = np.where(leak_frame["a"] > 0.5, "hi", np.where(leak_frame["a"] < -0.5, "lo", "mid"))
    model = LogisticRegression().fit(leak_frame, y)
    top = ev.permutation_importance_top(model, leak_frame, y, task_type="multiclass_classification", top=1)
    assert top[0]["feature"] == "a"


def test_importance_shift_flags_a_fivefold_jump():
    current = [
        {"feature": "account_age", "importance": 0.25, "std": 0.01},
        {"feature": "spend", "importance": 0.06, "std": 0.01},
        {"feature": "brand_new", "importance": 0.04, "std": 0.0},
        {"feature": "noise", "importance": 0.002, "std": 0.001},
    ]
    previous = [
        {"feature": "account_age", "importance": 0.05},
        {"feature": "spend", "importance": 0.05},
        {"feature": "noise", "importance": 0.0001},
    ]
    shifted = {f["feature"]: f for f in ev.importance_shift(current, previous)}
    assert shifted["account_age"]["jumped"] is True and shifted["account_age"]["change"] == pytest.approx(0.2)
    assert shifted["spend"]["jumped"] is False
    assert shifted["brand_new"]["jumped"] is True and shifted["brand_new"]["previous"] is None
    assert shifted["noise"]["jumped"] is False  # ×20 but too small to matter
    first_version = ev.importance_shift(current, None)
    assert [f["jumped"] for f in first_version] == [False] * 4  # nothing to compare with
    assert {f["previous"] for f in first_version} == {None}


# ---------------------------------------------------------------------------------- slices


def test_slice_gap_shows_the_slice_where_the_model_is_bad(rng):
    n = 900
    frame = pd.DataFrame({"country": rng.choice(["DE", "FR", "NL"], n), "tiny": "x"})
    frame.loc[:4, "country"] = "LU"  # 5 rows: too few to count
    frame.loc[5:50, "country"] = None
    y = rng.integers(0, 2, n)
    good = np.clip(0.6 * y + rng.uniform(0, 0.4, n), 0, 1)
    candidate = np.where(frame["country"] == "FR", rng.uniform(size=n), good)  # coin flip on FR
    candidate[:5] = 1 - y[:5]  # perfectly wrong on LU
    found = ev.slice_metrics(
        "binary_classification", frame, y, candidate, good, columns=["country", "absent"], metric="roc_auc", min_rows=50
    )
    assert set(found) == {"country"}
    slices = {s["value"]: s for s in found["country"]["slices"]}
    assert set(slices) == {"DE", "FR", "NL", "LU", "(missing)"}
    assert slices["(missing)"]["rows"] == 46
    assert slices["LU"]["candidate"] == 0.0
    assert found["country"]["worst"] == "FR"
    eligible = [s["candidate"] for s in slices.values() if s["rows"] >= 50]
    assert found["country"]["gap"] == pytest.approx(max(eligible) - min(eligible))
    assert found["country"]["gap"] < 1.0  # LU's AUC of 0 does not count
    fr = frame["country"] == "FR"
    assert slices["FR"]["candidate"] == pytest.approx(skm.roc_auc_score(y[fr], candidate[fr]))
    assert slices["FR"]["production"] == pytest.approx(skm.roc_auc_score(y[fr], good[fr]))
    json.dumps(found, allow_nan=False)


def test_slices_are_capped_at_the_largest_fifty(rng):
    frame = pd.DataFrame({"shop": [f"s{i}" for i in range(60) for _ in range(i + 1)]})
    y = rng.normal(size=len(frame))
    found = ev.slice_metrics("regression", frame, y, y + 1, columns=["shop"], metric="rmse", min_rows=1)["shop"]
    assert len(found["slices"]) == 50
    assert found["slices"][0] == {"value": "s59", "rows": 60, "candidate": pytest.approx(1.0), "production": None}
    assert found["slices"][-1]["value"] == "s10"


def test_lower_is_better_slice_worst_is_the_highest(rng):
    frame = pd.DataFrame({"g": ["a"] * 60 + ["b"] * 60})
    y = np.zeros(120)
    predicted = np.r_[np.full(60, 0.1), np.full(60, 2.0)]
    found = ev.slice_metrics("regression", frame, y, predicted, columns=["g"], metric="mae")["g"]
    assert found["worst"] == "b" and found["gap"] == pytest.approx(1.9)


# ---------------------------------------------------------------------------------- policy_checks


def _evidence(**overrides):
    evidence = {
        "task_type": "binary_classification",
        "primary_metric": "roc_auc",
        "metrics": {
            "candidate": {"roc_auc": 0.86, "pr_auc": 0.5, "recall": 0.8},
            "production": {"roc_auc": 0.85, "pr_auc": 0.48},
            "baseline": {"roc_auc": 0.5, "pr_auc": 0.1},
        },
        "threshold": {
            "rule": "min_recall",
            "target": 0.8,
            "threshold": 0.31,
            "precision": 0.42,
            "recall": 0.81,
            "f1": 0.55,
            "met": True,
        },
        "prediction_diff": {"rows": 1000, "flip_rate": 0.03, "flips_up": 20, "flips_down": 10},
        "slices": {"country": {"gap": 0.04, "worst": "FR", "metric": "roc_auc", "min_rows": 50, "slices": []}},
    }
    evidence.update(overrides)
    return evidence


POLICY = {
    "primary_metric": "roc_auc",
    "min_primary_metric": 0.8,
    "max_regression": 0.005,
    "min_margin_over_baseline": 0.05,
    "max_flip_rate": 0.05,
    "max_slice_gap": 0.1,
    "threshold_rule": "min_recall",
    "threshold_target": 0.8,
}


def _by_name(checks):
    return {c["name"]: c for c in checks}


def test_passing_evidence_passes_every_check():
    checks = _by_name(ev.policy_checks(_evidence(), POLICY))
    assert set(checks) == {
        "primary_metric_available",
        "min_primary_metric",
        "no_regression_vs_production",
        "beats_baseline",
        "max_flip_rate",
        "max_slice_gap:country",
        "threshold_requirement",
    }
    assert all(c["passed"] for c in checks.values()), checks
    json.dumps(list(checks.values()))


def _failing(evidence, policy, name):
    check = _by_name(ev.policy_checks(evidence, {**POLICY, **policy}))[name]
    assert check["passed"] is False
    return check["detail"]


def test_each_failing_rule_fails_with_its_numbers():
    assert "0.8600" in _failing(_evidence(), {"min_primary_metric": 0.9}, "min_primary_metric")
    assert "0.9000" in _failing(_evidence(), {"min_primary_metric": 0.9}, "min_primary_metric")

    worse = _evidence(metrics={**_evidence()["metrics"], "production": {"roc_auc": 0.88}})
    detail = _failing(worse, {}, "no_regression_vs_production")
    assert "0.8600" in detail and "0.8800" in detail and "0.0200" in detail and "0.0050" in detail

    detail = _failing(_evidence(), {"min_margin_over_baseline": 0.5}, "beats_baseline")
    assert "0.5000" in detail and "0.3600" in detail

    detail = _failing(_evidence(), {"max_flip_rate": 0.01}, "max_flip_rate")
    assert "3.00%" in detail and "1.00%" in detail and "20" in detail

    detail = _failing(_evidence(), {"max_slice_gap": 0.01}, "max_slice_gap:country")
    assert "0.0400" in detail and "'FR'" in detail and "0.0100" in detail

    unmet = _evidence(threshold={**_evidence()["threshold"], "recall": 0.6, "met": False})
    detail = _failing(unmet, {}, "threshold_requirement")
    assert "0.6000" in detail and "0.8000" in detail and "does not meet" in detail


def test_missing_primary_metric_names_what_exists():
    regression = _evidence(
        metrics={"candidate": {"rmse": 1.2, "mae": 0.9, "r2": None}, "production": None, "baseline": {}}
    )
    checks = ev.policy_checks(regression, {**POLICY, "threshold_rule": "keep"})
    names = [c["name"] for c in checks]
    assert names[0] == "primary_metric_available" and checks[0]["passed"] is False
    assert "roc_auc" in checks[0]["detail"] and "mae, rmse" in checks[0]["detail"]
    assert "min_primary_metric" not in names and "no_regression_vs_production" not in names


def test_checks_are_direction_aware_for_rmse():
    metrics = {"candidate": {"rmse": 1.0}, "production": {"rmse": 1.1}, "baseline": {"rmse": 2.0}}
    policy = {
        **POLICY,
        "primary_metric": "rmse",
        "min_primary_metric": 1.05,
        "max_regression": 0.0,
        "min_margin_over_baseline": 0.5,
        "threshold_rule": "keep",
    }
    evidence = _evidence(primary_metric="rmse", metrics=metrics, slices={})
    assert all(c["passed"] for c in ev.policy_checks(evidence, policy))

    worse = _evidence(primary_metric="rmse", metrics={**metrics, "candidate": {"rmse": 1.2}}, slices={})
    failed = {c["name"] for c in ev.policy_checks(worse, policy) if not c["passed"]}
    assert failed == {"min_primary_metric", "no_regression_vs_production"}
    assert "at most 1.0500" in _by_name(ev.policy_checks(worse, policy))["min_primary_metric"]["detail"]

    no_better_than_baseline = _evidence(
        primary_metric="rmse", metrics={**metrics, "candidate": {"rmse": 2.5}}, slices={}
    )
    assert "-0.5000" in _failing(no_better_than_baseline, policy, "beats_baseline")


def test_optional_checks_are_skipped():
    evidence = _evidence(
        metrics={**_evidence()["metrics"], "production": None}, prediction_diff={"rows": 10, "flip_rate": None}
    )
    policy = {**POLICY, "min_primary_metric": None, "max_slice_gap": None, "threshold_rule": "max_f1"}
    names = {c["name"] for c in ev.policy_checks(evidence, policy)}
    assert names == {"primary_metric_available", "beats_baseline"}


def test_equal_to_baseline_does_not_beat_it():
    evidence = _evidence(metrics={"candidate": {"roc_auc": 0.5}, "production": None, "baseline": {"roc_auc": 0.5}})
    assert "0.0000" in _failing(
        evidence, {"min_margin_over_baseline": 0.0, "min_primary_metric": None}, "beats_baseline"
    )
