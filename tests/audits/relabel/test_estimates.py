"""The live error estimate from a relabelled sample: Wilson for uniform samples, design-weighted for
the others, and intervals that hold the true error rate about 95% of the time whatever the design."""

import numpy as np
import pytest
from sklearn.metrics import precision_score, recall_score

from audits.engine.relabel import accuracy, error_rate, per_class, wilson
from audits.engine.relabel.coverage import coverage, simulation_designs, synthetic_population


def test_uniform_sample_gets_the_wilson_interval():
    correct = np.array([False] * 10 + [True] * 90)
    est = error_rate(correct, np.full(100, 0.001), population=100_000)
    assert est.method == "wilson" and est.n == 100 and est.value == pytest.approx(0.1)
    # statsmodels' proportion_confint(10, 100, method="wilson"), fpc negligible at 100 of 100,000
    assert est.low == pytest.approx(0.05522, abs=2e-4) and est.high == pytest.approx(0.17437, abs=2e-4)
    acc = accuracy(correct, np.full(100, 0.001), population=100_000)
    assert (acc.value, acc.low, acc.high) == pytest.approx((0.9, 1 - est.high, 1 - est.low))


def test_a_census_has_no_uncertainty_left():
    correct = np.array([False] * 3 + [True] * 7)
    est = error_rate(correct, np.ones(10), population=10)
    assert est.low == est.high == pytest.approx(0.3)


def test_stratified_estimate_weights_each_stratum_by_its_population():
    # 50 of 1,000 "ok" rows (2 wrong) and 50 of 100 "fraud" rows (20 wrong)
    stratum = np.array(["ok"] * 50 + ["fraud"] * 50, dtype=object)
    correct = np.ones(100, dtype=bool)
    correct[:2] = False
    correct[50:70] = False
    pi = np.where(stratum == "ok", 50 / 1_000, 50 / 100)
    est = error_rate(correct, pi, population=1_100, stratum=stratum, design_kind="stratified")
    assert est.method == "horvitz_thompson"
    assert est.value == pytest.approx((1_000 * 0.04 + 100 * 0.4) / 1_100)
    assert est.low < est.value < est.high
    # a plain proportion would say 22%; the design-weighted one is far lower, and so is its interval
    assert est.high < 0.22


def test_poisson_designs_use_the_hajek_ratio():
    rng = np.random.default_rng(0)
    pi = rng.uniform(0.01, 0.5, 300)
    correct = rng.random(300) > 0.2
    est = error_rate(correct, pi, population=10_000, design_kind="uncertainty")
    assert est.value == pytest.approx(((~correct) / pi).sum() / (1 / pi).sum())
    assert 0 <= est.low < est.value < est.high <= 1


def test_per_class_precision_and_recall_are_design_weighted():
    rng = np.random.default_rng(1)
    predicted = rng.choice(["fraud", "ok"], 400, p=[0.3, 0.7])
    truth = np.where(rng.random(400) < 0.8, predicted, rng.choice(["fraud", "ok", "spam"], 400))
    uniform = per_class(predicted, truth, np.full(400, 0.01), population=40_000)
    for c in ("fraud", "ok"):
        assert uniform[c]["precision"].value == pytest.approx(
            precision_score(truth, predicted, labels=[c], average="micro")
        )
        assert uniform[c]["recall"].value == pytest.approx(recall_score(truth, predicted, labels=[c], average="micro"))
        assert uniform[c]["precision"].method == "wilson"
    pi = rng.uniform(0.02, 0.4, 400)
    weighted = per_class(predicted, truth, pi, population=40_000, design_kind="uncertainty")
    for c in ("fraud", "ok"):
        expected = precision_score(truth, predicted, labels=[c], average="micro", sample_weight=1 / pi)
        assert weighted[c]["precision"].value == pytest.approx(expected)
        expected = recall_score(truth, predicted, labels=[c], average="micro", sample_weight=1 / pi)
        assert weighted[c]["recall"].value == pytest.approx(expected)
        est = weighted[c]["recall"]
        assert est.low <= est.value <= est.high
    # "spam" was never predicted: precision has no items and says so
    assert weighted["spam"]["precision"].n == 0 and (
        weighted["spam"]["precision"].low,
        weighted["spam"]["precision"].high,
    ) == (0, 1)
    assert weighted["spam"]["recall"].value == 0


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"design_kind": "random"}, "design_kind"),
        ({"confidence": 1.5}, "confidence"),
        ({"inclusion_probability": np.zeros(3)}, "inclusion_probability"),
        ({"inclusion_probability": np.ones(2)}, "inclusion_probability"),
        ({"stratum": np.array(["a"])}, "stratum"),
        ({"correct": np.array([], dtype=bool), "inclusion_probability": np.array([])}, "correct"),
    ],
)
def test_bad_inputs_are_refused_naming_the_field(kwargs, field):
    args = {"correct": np.array([True, False, True]), "inclusion_probability": np.full(3, 0.5), "population": 6}
    args.update(kwargs)
    with pytest.raises(ValueError, match=f"^{field}: "):
        error_rate(args.pop("correct"), args.pop("inclusion_probability"), **args)


def test_wilson_edges():
    assert wilson(0.0, 0, 1.96) == (0.0, 1.0)
    low, high = wilson(0.0, 100, 1.96)
    assert low == 0 and high == pytest.approx(0.037, abs=1e-3)


# The smaller coverage simulation (the benchmark runs 1,000 campaigns per design at n = 200 and 2,000):
# 150 campaigns on each of two populations (true error rate 5% and 20%) per design at n = 200, so 300
# per design. A calibrated 95% interval covers in 93-97% of campaigns; with 300 campaigns the binomial
# standard error is 1.3 points, so the test allows 0.93 - 0.026 to 0.97 + 0.026 (two standard errors).
CAMPAIGNS, ROWS, N = 150, 20_000, 200
TOLERANCE = 2 * np.sqrt(0.95 * 0.05 / (2 * CAMPAIGNS))
POPULATIONS = {rate: synthetic_population(ROWS, rate, seed=int(rate * 100)) for rate in (0.05, 0.20)}


@pytest.mark.parametrize("name", list(simulation_designs(N, ROWS)))
def test_intervals_are_calibrated_for_every_design(name):
    results = [
        coverage(population, name, simulation_designs(N, ROWS)[name], campaigns=CAMPAIGNS, seed=seed)
        for seed, population in enumerate(POPULATIONS.values())
    ]
    covered = np.mean([r.covered for r in results])
    assert 0.93 - TOLERANCE <= covered <= 0.97 + TOLERANCE, [(r.truth, r.covered) for r in results]
