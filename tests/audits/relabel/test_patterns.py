"""Error patterns: a broken segment is found; same-distribution data raises no more false alarms
than the nominal level."""

import numpy as np
import pandas as pd
import pytest
from scipy.stats import fisher_exact

from audits.engine.relabel.patterns import benjamini_hochberg, error_patterns


def _frame(rng, n):
    return pd.DataFrame(
        {
            "plan": rng.choice(["free", "pro", "team"], size=n),
            "country": rng.choice(["FR", "DE", "ES", "IT"], size=n),
            "tenure": rng.integers(0, 48, size=n),
            "spend": rng.gamma(2.0, 30.0, size=n),
        }
    )


def test_a_planted_broken_segment_is_found_with_its_counts():
    rng = np.random.default_rng(7)
    frame = _frame(rng, 2000)
    broken = (frame["country"] == "ES").to_numpy()
    wrong = np.where(broken, rng.random(2000) < 0.4, rng.random(2000) < 0.08)

    table = error_patterns(frame, wrong)

    top = table.iloc[0]
    assert (top["column"], top["value"]) == ("country", "ES")
    assert top["items"] == broken.sum()
    assert top["errors"] == wrong[broken].sum()
    assert top["lift"] > 2
    assert top["q_value"] <= 0.05
    assert not (table["column"] == "plan").any()


def test_a_numeric_column_is_binned_by_quantiles_and_the_bad_bin_found():
    rng = np.random.default_rng(3)
    frame = _frame(rng, 2000)
    wrong = np.where(frame["spend"] > frame["spend"].quantile(0.75), rng.random(2000) < 0.35, rng.random(2000) < 0.05)

    table = error_patterns(frame, wrong, bins=4)

    spend = table[table["column"] == "spend"]
    assert len(spend) == 1
    assert spend.iloc[0]["items"] == pytest.approx(500, abs=2)


def test_the_p_value_is_fishers_one_sided_exact_test():
    rng = np.random.default_rng(1)
    frame = _frame(rng, 400)
    wrong = np.where(frame["plan"] == "team", rng.random(400) < 0.5, rng.random(400) < 0.1)

    row = error_patterns(frame, wrong).query("column == 'plan' and value == 'team'").iloc[0]

    inside = frame["plan"].to_numpy() == "team"
    table = [[wrong[inside].sum(), (~wrong[inside]).sum()], [wrong[~inside].sum(), (~wrong[~inside]).sum()]]
    assert row["p_value"] == pytest.approx(fisher_exact(table, alternative="greater")[1], rel=1e-9)


def test_benjamini_hochberg_matches_the_textbook_example():
    p = [0.01, 0.04, 0.03, 0.005]
    assert benjamini_hochberg(p) == pytest.approx([0.02, 0.04, 0.04, 0.02])


def test_same_distribution_data_raises_false_alarms_at_most_at_the_nominal_level():
    runs, alarms = 200, 0
    for seed in range(runs):
        rng = np.random.default_rng(1000 + seed)
        frame = _frame(rng, 300)
        wrong = rng.random(300) < 0.15  # errors independent of every feature
        alarms += len(error_patterns(frame, wrong, alpha=0.05)) > 0
    assert alarms / runs <= 0.05


def test_nothing_to_contrast_reports_nothing():
    frame = pd.DataFrame({"plan": ["a", "b"] * 10})
    assert error_patterns(frame, np.zeros(20, dtype=bool)).empty
    with pytest.raises(ValueError, match="one flag per row"):
        error_patterns(frame, [True])
