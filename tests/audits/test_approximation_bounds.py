"""Every approximate drift statistic comes with the interval that holds the exact value, and a column
small enough to keep its values (at most profile.EXACT_VALUES) gets scipy's exact figures.

The data are what a user brings: heavy-tailed amounts (log-normal, Pareto), counts with heavy ties,
a few hundred rows a side — the case where binned Wasserstein was 51 % above the exact value.
"""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from audits.engine import drift
from audits.engine.checks import drift_findings
from audits.engine.columns import ColumnSpec
from audits.engine.profile import EXACT_VALUES, merge_profiles, profile_edges, profile_frame
from audits.engine.suite import Suite

SPEC = [ColumnSpec("amount", "numeric")]


def _draw(kind: str, rng, n: int, shift: float = 1.0) -> np.ndarray:
    if kind == "lognormal":
        return rng.lognormal(0.0, 1.5, n) * shift
    if kind == "pareto":
        return (rng.pareto(1.2, n) + 1.0) * shift
    # heavy ties: a handful of counts, most rows zero
    return np.round(rng.choice([0, 0, 0, 0, 1, 1, 2, 3, 5, 40], n) * shift)


def _profiles(ref: np.ndarray, cur: np.ndarray) -> tuple[dict, dict]:
    reference = profile_frame(pd.DataFrame({"amount": ref}), SPEC)
    current = profile_frame(pd.DataFrame({"amount": cur}), SPEC, edges=profile_edges(reference))
    return reference, current


def _binned_only(profile: dict) -> dict:
    """The profile of a column too large to keep its values: bins and sketch only."""
    column = {k: v for k, v in profile["columns"]["amount"].items() if k != "values"}
    return {**profile, "columns": {"amount": column}}


@pytest.mark.parametrize("kind", ["lognormal", "pareto", "ties"])
@pytest.mark.parametrize("n, m, shift", [(285, 285, 1.0), (285, 100, 1.3), (2_000, 5_000, 1.1)])
def test_a_small_skewed_column_gets_scipys_exact_ks_and_wasserstein(kind, n, m, shift):
    rng = np.random.default_rng(n + m + len(kind))
    ref, cur = _draw(kind, rng, n), _draw(kind, rng, m, shift)
    reference, current = _profiles(ref, cur)
    out = drift.numeric_drift(reference["columns"]["amount"], current["columns"]["amount"])
    ks = stats.ks_2samp(ref, cur, method="asymp")
    assert out["exact"] is True
    assert out["wasserstein"] == pytest.approx(stats.wasserstein_distance(ref, cur), rel=1e-12, abs=1e-12)
    assert out["ks_statistic"] == pytest.approx(ks.statistic, abs=1e-15)
    assert out["ks_pvalue"] == pytest.approx(ks.pvalue, rel=1e-12, abs=1e-15)
    assert out["wasserstein_error_bound"] == 0.0 and out["ks_error_bound"] == 0.0
    iqr = np.quantile(ref, 0.75) - np.quantile(ref, 0.25)
    if iqr > 0:  # the spread is exact too: the reference's own quantiles, not the sketch's
        assert out["scale"] == pytest.approx(iqr, rel=1e-12)


@pytest.mark.parametrize("kind", ["lognormal", "pareto", "ties"])
@pytest.mark.parametrize("n, m, shift", [(285, 285, 1.0), (3_000, 800, 1.2), (20_000, 20_000, 1.05)])
def test_binned_statistics_hold_the_exact_values_within_their_reported_bounds(kind, n, m, shift):
    rng = np.random.default_rng(7 * n + m + len(kind))
    ref, cur = _draw(kind, rng, n), _draw(kind, rng, m, shift)
    reference, current = _profiles(ref, cur)
    out = drift.numeric_drift(_binned_only(reference)["columns"]["amount"], _binned_only(current)["columns"]["amount"])
    assert out["exact"] is False
    w_exact = stats.wasserstein_distance(ref, cur)
    ks = stats.ks_2samp(ref, cur, method="asymp")
    tol = 1e-9 * max(1.0, w_exact)
    low, high = out["wasserstein_bounds"]
    assert low - tol <= w_exact <= high + tol
    assert abs(out["wasserstein"] - w_exact) <= out["wasserstein_error_bound"] + tol
    assert out["wasserstein_scaled_bounds"][0] * out["scale"] <= w_exact + tol
    d_low, d_high = out["ks_statistic_bounds"]
    assert d_low - 1e-12 <= ks.statistic <= d_high + 1e-12
    assert ks.statistic - out["ks_statistic"] <= out["ks_error_bound"] + 1e-12
    p_low, p_high = out["ks_pvalue_bounds"]
    assert p_low - 1e-12 <= ks.pvalue <= p_high + 1e-12


def test_partitions_that_keep_their_values_merge_into_the_exact_whole():
    rng = np.random.default_rng(5)
    ref, cur = rng.pareto(1.1, 600) + 1, rng.pareto(1.1, 900) + 1.5
    reference = profile_frame(pd.DataFrame({"amount": ref}), SPEC)
    edges = profile_edges(reference)
    parts = [profile_frame(pd.DataFrame({"amount": part}), SPEC, edges=edges) for part in (cur[:400], cur[400:])]
    merged = merge_profiles(*parts)
    out = drift.numeric_drift(reference["columns"]["amount"], merged["columns"]["amount"])
    assert out["exact"] is True
    assert out["wasserstein"] == pytest.approx(stats.wasserstein_distance(ref, cur), rel=1e-12)
    assert merged["columns"]["amount"]["quantiles"]["0.5"] == pytest.approx(np.median(cur), rel=1e-12)


def test_a_column_beyond_the_exact_limit_keeps_bins_and_sketch_only_and_says_so():
    rng = np.random.default_rng(9)
    big = rng.lognormal(0, 1, EXACT_VALUES + 1)
    reference, current = _profiles(big[:5000], big)
    column = current["columns"]["amount"]
    assert "values" not in column and column["quantile_rank_error"] > 0
    out = drift.numeric_drift(reference["columns"]["amount"], column)
    assert out["exact"] is False
    low, high = out["wasserstein_bounds"]
    assert low <= stats.wasserstein_distance(big[:5000], big) <= high


def test_a_drift_finding_reports_its_bound_in_details_and_in_words():
    rng = np.random.default_rng(3)
    ref, cur = rng.lognormal(0, 1.5, 2_000), rng.lognormal(0.3, 1.5, 2_000)
    reference, current = _profiles(ref, cur)
    exact = drift_findings(reference, current, Suite())[0]
    assert exact.details["exact"] is True and exact.details["wasserstein_error_bound"] == 0.0
    assert "exact" in exact.message
    binned = drift_findings(_binned_only(reference), _binned_only(current), Suite())[0]
    bound = binned.details["wasserstein_scaled_error_bound"]
    assert binned.details["exact"] is False and bound > 0
    assert f"±{bound:.3g}" in binned.message
