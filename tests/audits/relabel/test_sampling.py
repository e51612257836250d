"""A relabelling campaign's draw: each design takes what it claims, with the inclusion probabilities
an estimate needs; the same seed draws the same rows whatever the chunking; memory stays with the
sample, not the prediction log; a bad design is refused field by field."""

import tracemalloc

import numpy as np
import pandas as pd
import pytest

from audits.engine.relabel import (
    NO_SCORE,
    Design,
    DesignError,
    band_names,
    design_from_dict,
    design_to_dict,
    draw,
)
from audits.engine.relabel.sampling import UNCERTAINTY_FLOOR, uncertainty_weight


def prediction_log(rows: int, *, seed: int = 1, start: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    score = rng.random(rows)
    score[rng.random(rows) < 0.05] = np.nan
    label = np.where(rng.random(rows) < 0.3, "fraud", "ok").astype(object)
    other = label.copy()
    flip = rng.random(rows) < 0.1
    other[flip] = np.where(label[flip] == "ok", "fraud", "ok")
    other[rng.random(rows) < 0.05] = None
    ids = np.arange(start, start + rows, dtype=np.int64) * 7 + 3  # not 0..N-1: real pks have gaps
    return pd.DataFrame({"id": ids, "score": score, "label": label, "other_label": other})


def chunked(frame: pd.DataFrame, size: int):
    return (frame.iloc[i : i + size] for i in range(0, len(frame), size))


LOG = prediction_log(5_000)
DESIGNS = {
    "uniform rate": Design(kind="uniform", rate=0.05),
    "uniform size": Design(kind="uniform", size=120),
    "by class": Design(kind="stratified", strata="predicted_class", stratum_sizes={"fraud": 60, "ok": 40}),
    "by band": Design(kind="stratified", strata="score_band", stratum_sizes={"0-0.2": 30, "0.8-1": 30, NO_SCORE: 500}),
    "uncertainty": Design(kind="uncertainty", size=150, threshold=0.3),
    "entropy": Design(kind="uncertainty", size=150),
    "disagreement": Design(kind="disagreement", size=80),
}


def test_uniform_rate_takes_each_row_with_the_rate():
    sample = draw(chunked(LOG, 700), DESIGNS["uniform rate"], seed=11)
    assert sample.population == 5_000
    assert abs(len(sample.items) - 250) < 4 * np.sqrt(5_000 * 0.05 * 0.95)
    assert (sample.items["inclusion_probability"] == 0.05).all()
    assert set(sample.items["stratum"]) == {"all"}
    assert list(sample.items.columns) == ["id", "stratum", "inclusion_probability"]


def test_uniform_size_takes_exactly_n_of_N():
    sample = draw(chunked(LOG, 700), DESIGNS["uniform size"], seed=11)
    assert len(sample.items) == 120 and sample.items["id"].is_unique
    assert np.allclose(sample.items["inclusion_probability"], 120 / 5_000)
    assert set(sample.items["id"]) <= set(LOG["id"])


def test_stratified_by_class_takes_each_stratums_size():
    sample = draw(chunked(LOG, 700), DESIGNS["by class"], seed=3)
    counts = LOG["label"].value_counts()
    assert sample.stratum_population == {"fraud": counts["fraud"], "ok": counts["ok"]}
    got = sample.items.groupby("stratum")["inclusion_probability"].agg(["size", "first"])
    assert got.loc["fraud", "size"] == 60 and got.loc["ok", "size"] == 40
    assert got.loc["fraud", "first"] == pytest.approx(60 / counts["fraud"])
    assert got.loc["ok", "first"] == pytest.approx(40 / counts["ok"])
    drawn = LOG.set_index("id").loc[sample.items["id"], "label"].to_numpy()
    assert (drawn == sample.items["stratum"].to_numpy()).all()


def test_score_bands_missing_scores_and_unsampled_strata():
    sample = draw(chunked(LOG, 700), DESIGNS["by band"], seed=3)
    assert set(sample.stratum_population) == set(band_names()) | {NO_SCORE}
    assert sum(sample.stratum_population.values()) == 5_000
    no_score = LOG["score"].isna().sum()
    assert sample.stratum_population[NO_SCORE] == no_score
    by = sample.items.groupby("stratum")
    assert set(by.groups) == {"0-0.2", "0.8-1", NO_SCORE}  # unlisted bands are not sampled
    # 500 asked of a smaller stratum: all of it, with probability 1
    assert by.size()[NO_SCORE] == no_score and (by.get_group(NO_SCORE)["inclusion_probability"] == 1).all()
    scores = LOG.set_index("id").loc[by.get_group("0.8-1")["id"], "score"]
    assert ((scores >= 0.8) & (scores <= 1)).all()


def test_uncertainty_probabilities_follow_the_weight_and_sum_to_the_size():
    design = DESIGNS["uncertainty"]
    sample = draw(chunked(LOG, 700), design, seed=5)
    items = sample.items.merge(LOG, on="id")
    weight = uncertainty_weight(items["score"].to_numpy(), 0.3)
    ratio = items["inclusion_probability"] / weight
    assert np.allclose(ratio, ratio.iloc[0])  # pi proportional to the weight (none capped here)
    all_weights = uncertainty_weight(LOG["score"].to_numpy(), 0.3)
    assert (ratio.iloc[0] * all_weights).sum() == pytest.approx(150, rel=0.15)
    assert len(items) == 150
    assert weight.min() >= UNCERTAINTY_FLOOR and uncertainty_weight(np.array([np.nan]), 0.3)[0] == 1.0
    # near the threshold more often than far from it
    assert (items["score"].sub(0.3).abs() < 0.2).mean() > (LOG["score"].sub(0.3).abs() < 0.2).mean()


def test_entropy_weights_without_a_threshold():
    w = uncertainty_weight(np.array([0.5, 0.0, 1.0, 0.1, 0.9]), None)
    assert w[0] == pytest.approx(1.0) and w[1] == w[2] == pytest.approx(UNCERTAINTY_FLOOR)
    assert w[3] == pytest.approx(w[4])


def test_disagreement_draws_only_rows_the_shadow_decided_otherwise():
    sample = draw(chunked(LOG, 700), DESIGNS["disagreement"], seed=5)
    differs = LOG["other_label"].notna() & (LOG["other_label"] != LOG["label"])
    assert sample.stratum_population == {"disagreement": int(differs.sum())}
    assert set(sample.items["id"]) <= set(LOG.loc[differs, "id"])
    assert len(sample.items) == 80
    assert np.allclose(sample.items["inclusion_probability"], 80 / differs.sum())


def target_probabilities(weights: np.ndarray, n: int) -> np.ndarray:
    """min(1, c w) with c such that they sum to n."""
    lo, hi = 0.0, 1e6
    for _ in range(100):
        c = (lo + hi) / 2
        lo, hi = (c, hi) if np.minimum(1, c * weights).sum() < n else (lo, c)
    return np.minimum(1, c * weights)


@pytest.mark.parametrize("name", ["uniform rate", "uniform size", "by class", "uncertainty", "disagreement"])
def test_empirical_inclusion_frequency_matches_the_probabilities(name):
    log = LOG.iloc[:1_000]
    design = DESIGNS[name]
    if design.kind == "uncertainty":
        design = Design(kind="uncertainty", size=60, threshold=0.3)
    seeds = 400
    hits = pd.Series(0, index=log["id"])
    recorded = pd.Series(0.0, index=log["id"])
    for seed in range(seeds):
        items = draw(log, design, seed=seed).items.set_index("id")
        hits[items.index] += 1
        recorded[items.index] = items["inclusion_probability"]
    if design.kind == "uncertainty":
        expected = pd.Series(
            target_probabilities(uncertainty_weight(log["score"].to_numpy(), 0.3), 60), index=log["id"]
        )
    else:
        expected = recorded  # constant within a stratum, the same for every seed
    frequency = hits / seeds
    drawn = expected > 0
    # per group of similar probability: mean frequency within 4 standard errors of the mean probability
    groups = pd.qcut(expected[drawn].rank(method="first"), 5, labels=False)
    for _, idx in expected[drawn].groupby(groups).groups.items():
        p, f = expected[idx].mean(), frequency[idx].mean()
        se = np.sqrt(p * (1 - p) / (seeds * len(idx)))
        assert abs(f - p) < 4 * se + 0.01 * p, (name, p, f)
    assert (hits[~drawn] == 0).all()


@pytest.mark.parametrize("name", list(DESIGNS))
def test_reproducible_and_independent_of_chunking_and_row_order(name):
    design = DESIGNS[name]
    whole = draw(LOG, design, seed=42).items
    for size in (37, 333, 4_999):
        assert whole.equals(draw(chunked(LOG, size), design, seed=42).items)
    shuffled = LOG.sample(frac=1, random_state=0)
    assert whole.equals(draw(chunked(shuffled, 250), design, seed=42).items)
    assert whole.equals(draw(lambda: chunked(LOG, 900), design, seed=42).items)  # a chunk factory
    other = draw(LOG, design, seed=43).items
    assert set(other["id"]) != set(whole["id"])


def test_memory_stays_with_the_sample_not_the_log():
    rows, chunk = 2_000_000, 50_000
    # the whole log as one DataFrame would take this much
    population_bytes = prediction_log(chunk).memory_usage(deep=True).sum() * (rows // chunk)

    def stream():
        rng = np.random.default_rng(0)
        labels = pd.Categorical.from_codes(rng.integers(0, 2, chunk), ["fraud", "ok"])
        for start in range(0, rows, chunk):
            ids = np.arange(start, start + chunk, dtype=np.int64)
            yield pd.DataFrame({"id": ids, "score": rng.random(chunk), "label": labels})

    for design in (Design(kind="uniform", rate=0.01), Design(kind="uncertainty", size=2_000, threshold=0.5)):
        tracemalloc.start()
        sample = draw(stream(), design, seed=1)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert sample.population == rows
        assert peak < population_bytes / 10, (design.kind, peak, population_bytes)


@pytest.mark.parametrize("design", DESIGNS.values())
def test_design_round_trips_through_plain_values(design):
    assert design_from_dict(design_to_dict(design)) == design


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ({"kind": "random"}, "kind"),
        ({"kind": "uniform"}, "rate"),
        ({"kind": "uniform", "rate": 0.1, "size": 5}, "rate"),
        ({"kind": "uniform", "rate": 0}, "rate"),
        ({"kind": "uniform", "rate": 1.5}, "rate"),
        ({"kind": "uniform", "rate": True}, "rate"),
        ({"kind": "uniform", "size": 0}, "size"),
        ({"kind": "uniform", "size": 2.5}, "size"),
        ({"kind": "uniform", "size": 5, "colour": "red"}, "colour"),
        ({"kind": "stratified", "strata": "region", "stratum_sizes": {"a": 1}}, "strata"),
        ({"kind": "stratified", "strata": "predicted_class"}, "stratum_sizes"),
        ({"kind": "stratified", "strata": "predicted_class", "stratum_sizes": {"a": -1}}, "stratum_sizes"),
        ({"kind": "stratified", "strata": "predicted_class", "stratum_sizes": {"a": 0}}, "stratum_sizes"),
        ({"kind": "stratified", "strata": "score_band", "stratum_sizes": {"0.1-0.3": 5}}, "stratum_sizes"),
        ({"kind": "stratified", "strata": "score_band", "stratum_sizes": {"0-1": 5}, "bands": [1, 0]}, "bands"),
        ({"kind": "uncertainty"}, "size"),
        ({"kind": "uncertainty", "size": 10, "threshold": 2}, "threshold"),
        ({"kind": "uncertainty", "rate": 0.1}, "rate"),
        ({"kind": "disagreement", "size": 10, "strata": "predicted_class"}, "strata"),
        ("uniform", "design"),
    ],
)
def test_bad_designs_are_refused_naming_the_field(raw, field):
    with pytest.raises(ValueError, match=f"^{field}: ") as caught:
        design_from_dict(raw)
    assert isinstance(caught.value, DesignError) and caught.value.field == field


def test_a_log_without_the_needed_columns_is_refused():
    with pytest.raises(ValueError, match="^chunks: missing column 'other_label'"):
        draw(LOG.drop(columns="other_label"), DESIGNS["disagreement"], seed=1)
