"""Drift statistics on profile count vectors (audits/engine/drift.py), checked against scipy on the
raw data and against written-out reference implementations.

The profiles are built by tests/audits/profile_builders.py (docs/audit-profile-format.md).
"""

import math
import zlib

import numpy as np
import pytest
from scipy import stats
from scipy.spatial.distance import jensenshannon

from audits.engine import drift
from tests.audits.profile_builders import binned, categorical_column, numeric_column, reference_edges

# ---------------------------------------------------------------------------------------------
# Kolmogorov-Smirnov
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "seed, n, m, distinct", [(0, 1000, 1000, 10), (1, 5000, 700, 40), (2, 300, 20000, 5), (3, 100_000, 100_000, 200)]
)
def test_ks_equals_scipy_exactly_on_integer_data(seed, n, m, distinct):
    rng = np.random.default_rng(seed)
    probs = 0.5 * rng.dirichlet(np.ones(distinct)) + 0.5 / distinct
    ref = rng.choice(distinct, size=n, p=probs)
    cur = rng.choice(distinct, size=m, p=np.roll(probs, 1) * 0.3 + probs * 0.7)
    edges = reference_edges(ref)
    assert set(np.unique(cur)) <= set(edges)  # every bin holds one distinct value: the exact case
    d, p = drift.ks_from_histograms(binned(ref, edges), binned(cur, edges))
    expected = stats.ks_2samp(ref, cur, method="asymp")
    assert d == expected.statistic
    assert p == expected.pvalue


def test_ks_exact_case_also_holds_for_unequal_sizes_under_h0():
    rng = np.random.default_rng(11)
    ref, cur = rng.integers(0, 30, 4000), rng.integers(0, 30, 2500)
    edges = reference_edges(ref)
    d, p = drift.ks_from_histograms(binned(ref, edges), binned(cur, edges))
    expected = stats.ks_2samp(ref, cur, method="asymp")
    assert (d, p) == (expected.statistic, expected.pvalue)


@pytest.mark.parametrize("n, shift", [(2_000, 0.0), (2_000, 0.2), (100_000, 0.0), (100_000, 0.05), (100_000, 0.3)])
def test_ks_on_continuous_data_is_a_lower_bound_within_the_largest_bin_mass(n, shift):
    """Stated tolerance: D_exact - bound <= D_hist <= D_exact, where bound = the largest share of
    either sample in one bin (≈ 0.1 % with 999 quantile bins at 100k rows; ≈ 1/n below 999 rows).
    In practice the gap is far smaller than the bound; we also assert it is below 0.002."""
    rng = np.random.default_rng(int(n + shift * 1000))
    ref, cur = rng.lognormal(0, 1, n), rng.lognormal(shift, 1, n)
    edges = reference_edges(ref)
    h_ref, h_cur = binned(ref, edges), binned(cur, edges)
    d, p = drift.ks_from_histograms(h_ref, h_cur)
    exact = stats.ks_2samp(ref, cur, method="asymp")
    bound = drift.ks_error_bound(h_ref, h_cur)
    assert d <= exact.statistic + 1e-12
    assert exact.statistic - d <= bound
    assert exact.statistic - d < 0.002
    assert bound < 0.01
    # and the p-value moves the right way (a lower D is never more significant)
    assert p >= exact.pvalue - 1e-12


def test_ks_pvalue_beyond_the_exact_size_uses_the_kolmogorov_limit():
    """Past an effective size of 100,000 (200,000 rows a side) the p-value is kstwobign.sf(D*sqrt(en)),
    within 0.5 % of scipy's kstwo.sf (which costs ~2 s a call there)."""
    n = m = 300_000  # en = 150,000
    ref, cur = [n // 2, n // 2], [m // 2 - 600, m // 2 + 600]
    d, p = drift.ks_from_histograms(ref, cur)
    assert d == pytest.approx(600 / m)
    assert p == stats.kstwobign.sf(d * math.sqrt(n * m / (n + m)))
    assert p == pytest.approx(stats.kstwo.sf(d, n * m // (n + m)), rel=0.005)


def test_ks_edge_cases():
    assert drift.ks_from_histograms([0, 0, 0], [1, 2, 3]) == (0.0, 1.0)
    d, p = drift.ks_from_histograms([10, 0], [0, 10])
    assert d == 1.0 and p < 1e-4
    with pytest.raises(ValueError, match="reference's edges"):
        drift.ks_from_histograms([1, 2], [1, 2, 3])


# ---------------------------------------------------------------------------------------------
# PSI
# ---------------------------------------------------------------------------------------------


def psi_reference(ref_counts, cur_counts, epsilon=1e-4):
    """Written out with plain loops, straight from the definition."""
    ref_total = 0
    for r in ref_counts:
        ref_total += r
    cur_total = 0
    for c in cur_counts:
        cur_total += c
    total = 0.0
    for r, c in zip(ref_counts, cur_counts):
        r_share = r / ref_total
        c_share = c / cur_total
        if r_share < epsilon:
            r_share = epsilon
        if c_share < epsilon:
            c_share = epsilon
        total += (c_share - r_share) * math.log(c_share / r_share)
    return total


@pytest.mark.parametrize(
    "ref, cur",
    [
        ([100] * 10, [100] * 10),
        ([100] * 10, [80, 90, 100, 100, 100, 100, 100, 110, 110, 110]),
        ([100] * 10, [0, 0, 50, 150, 200, 200, 200, 100, 50, 50]),
        ([5, 0, 7, 300], [0, 9, 7, 1]),
        ([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], [10, 9, 8, 7, 6, 5, 4, 3, 2, 1]),
    ],
)
def test_psi_matches_written_out_reference(ref, cur):
    assert drift.psi(ref, cur) == pytest.approx(psi_reference(ref, cur), rel=1e-12, abs=1e-15)
    assert drift.psi(ref, cur, epsilon=1e-3) == pytest.approx(psi_reference(ref, cur, 1e-3), rel=1e-12, abs=1e-15)


def test_psi_properties():
    assert drift.psi([100] * 10, [10] * 10) == 0.0  # only shares matter
    a, b = [5, 10, 20, 65], [25, 25, 25, 25]
    assert drift.psi(a, b) == pytest.approx(drift.psi(b, a))  # symmetric
    assert math.isfinite(drift.psi([10, 0], [0, 10]))  # epsilon keeps empty bins finite
    assert drift.psi([0, 0], [1, 1]) == 0.0  # nothing to compare


def test_psi_on_deciles_grows_with_the_shift():
    rng = np.random.default_rng(5)
    ref = rng.normal(0, 1, 50_000)
    col = numeric_column(ref)
    values = [
        drift.psi(col["psi_hist"], numeric_column(rng.normal(shift, 1, 50_000), like=col)["psi_hist"])
        for shift in (0.0, 0.1, 0.3, 0.6)
    ]
    assert values == sorted(values)
    assert values[0] < 0.005 and 0.005 < values[1] < 0.05 and values[3] > 0.25


# ---------------------------------------------------------------------------------------------
# Wasserstein
# ---------------------------------------------------------------------------------------------


GENERATORS = {
    "normal": lambda rng, s, n: rng.normal(s, 1, n),
    "lognormal": lambda rng, s, n: rng.lognormal(s, 1, n),
    "exponential": lambda rng, s, n: rng.exponential(1 + s, n),
    "poisson": lambda rng, s, n: rng.poisson(20 + 10 * s, n).astype(float),
    "student_t2": lambda rng, s, n: rng.standard_t(2, n) + s,
}


@pytest.mark.parametrize("name", sorted(GENERATORS))
@pytest.mark.parametrize("n", [500, 2_000, 100_000])
@pytest.mark.parametrize("shift", [0.0, 0.1, 0.5])
def test_wasserstein_matches_scipy_on_raw_data(name, n, shift):
    """Stated tolerance: |W_hist - W_raw| <= 1.5 % of the reference's IQR (so ≤ 0.015 on the
    wasserstein_scaled axis, whose warning threshold is 0.1) for normal, log-normal, exponential
    and Poisson data at 500, 2,000 and 100,000 rows with shifts 0 to 0.5; typically < 0.3 %. And it
    is always within wasserstein_error_bound. Student-t with 2 degrees of freedom (infinite
    variance, two heavy tails) meets the same 1.5 % from 2,000 rows; at 500 rows the edges are the
    reference's own values and the gaps between its outliers are wide, so we allow 10 %."""
    rng = np.random.default_rng(zlib.crc32(f"{name}-{n}-{shift}".encode()))
    ref, cur = GENERATORS[name](rng, 0.0, n), GENERATORS[name](rng, shift, n)
    rcol = numeric_column(ref)
    ccol = numeric_column(cur, like=rcol)
    bounds = dict(ref_min=rcol["min"], ref_max=rcol["max"], cur_min=ccol["min"], cur_max=ccol["max"])
    w = drift.wasserstein_from_histograms(
        rcol["edges"], rcol["hist"], ccol["hist"], **bounds, ref_mean=rcol["mean"], cur_mean=ccol["mean"]
    )
    exact = stats.wasserstein_distance(ref, cur)
    iqr = np.subtract(*np.quantile(ref, [0.75, 0.25]))
    assert abs(w - exact) <= drift.wasserstein_error_bound(rcol["edges"], rcol["hist"], ccol["hist"], **bounds)
    tolerance = 0.10 if (name, n) == ("student_t2", 500) else 0.015
    assert abs(w - exact) <= tolerance * iqr


def test_wasserstein_is_exact_on_discrete_data_whose_values_are_the_edges():
    rng = np.random.default_rng(8)
    ref, cur = rng.integers(1, 20, 3000).astype(float), rng.integers(3, 20, 2000).astype(float)
    rcol = numeric_column(ref)
    ccol = numeric_column(cur, like=rcol)
    out = drift.numeric_drift(rcol, ccol)
    assert out["wasserstein"] == pytest.approx(stats.wasserstein_distance(ref, cur), rel=1e-9)


def test_wasserstein_without_means_uses_plain_midpoints():
    edges = [1.0, 2.0]
    # ref: everything in (1, 2] -> midpoint 1.5; cur: everything above 2, observed range [2.5, 4.5]
    w = drift.wasserstein_from_histograms(
        edges, [0, 10, 0], [0, 0, 5], ref_min=1.2, ref_max=2.0, cur_min=2.5, cur_max=4.5
    )
    assert w == pytest.approx(3.5 - 1.6)  # ref bin clipped to [1.2, 2] -> 1.6; cur bin [2.5, 4.5] -> 3.5
    w2 = drift.wasserstein_from_histograms(
        edges, [0, 10, 0], [0, 0, 5], ref_min=1.2, ref_max=2.0, cur_min=2.5, cur_max=4.5, ref_mean=1.6, cur_mean=3.0
    )
    assert w2 == pytest.approx(3.0 - 1.6)  # the outer bin moved to match the known mean


# ---------------------------------------------------------------------------------------------
# Chi-squared homogeneity, Jensen-Shannon
# ---------------------------------------------------------------------------------------------


def test_chi2_homogeneity_equals_chi2_contingency_on_the_same_table():
    ref = {"meeting": 520, "webinar": 260, "conference": 150, "meetup": 70}
    cur = {"meeting": 480, "webinar": 300, "conference": 120, "meetup": 100}
    labels, table = drift.homogeneity_table(ref, cur)
    assert labels == ["meeting", "webinar", "conference", "meetup"]
    assert table.tolist() == [[520, 260, 150, 70], [480, 300, 120, 100]]
    expected = stats.chi2_contingency(np.array([[520, 260, 150, 70], [480, 300, 120, 100]]), correction=False)
    chi2, p, dof = drift.chi2_homogeneity(ref, cur)
    assert (chi2, p, dof) == (expected.statistic, expected.pvalue, expected.dof)
    assert dof == 3


def test_chi2_homogeneity_with_dof_1_has_no_yates_correction():
    ref, cur = {"a": 30, "b": 70}, {"a": 45, "b": 55}
    expected = stats.chi2_contingency([[30, 70], [45, 55]], correction=False)
    assert drift.chi2_homogeneity(ref, cur) == (expected.statistic, expected.pvalue, 1)


def test_rare_categories_are_pooled_and_the_result_still_equals_scipy():
    ref = {"a": 400, "b": 300, "c": 200, "d": 3, "e": 2, "f": 1}
    cur = {"a": 380, "b": 320, "c": 190, "d": 1, "g": 2}
    labels, table = drift.homogeneity_table(ref, cur)
    # d, e, f, g have expected counts below 5 in a row; pooled they total 9 -> expected < 5 still,
    # so the next-smallest column (c) would be needed only if "(rare)" stays below 5: 9 * 896/1805 = 4.5
    assert labels[-1] == drift.RARE
    assert table.sum() == sum(ref.values()) + sum(cur.values())
    exp = stats.contingency.expected_freq(table)
    assert exp.min() >= 5
    expected = stats.chi2_contingency(table, correction=False)
    assert drift.chi2_homogeneity(ref, cur) == (expected.statistic, expected.pvalue, expected.dof)


def test_pooling_never_folds_a_category_that_meets_the_threshold():
    ref = {"a": 500, "b": 400, "z": 1}
    cur = {"a": 450, "b": 430, "y": 40}
    labels, table = drift.homogeneity_table(ref, cur)
    # y (expected ≈ 20 per row) stays; z alone is rare; "(rare)" = z (1) is < 5 so y joins it
    assert labels == ["a", "b", drift.RARE]
    assert table[:, -1].tolist() == [1, 40]


def test_chi2_degenerate_cases():
    assert drift.chi2_homogeneity({}, {"a": 3}) == (0.0, 1.0, 0)
    assert drift.chi2_homogeneity({"a": 10}, {"a": 12}) == (0.0, 1.0, 0)
    assert drift.chi2_homogeneity({"a": 1, "b": 1}, {"a": 1, "b": 1}) == (0.0, 1.0, 0)  # all pooled


@pytest.mark.parametrize(
    "p, q",
    [
        ({"a": 1, "b": 1}, {"a": 1, "b": 1}),
        ({"a": 10, "b": 30, "c": 60}, {"a": 20, "b": 30, "c": 50}),
        ({"a": 10, "b": 30}, {"a": 20, "b": 30, "festival": 50}),
        ({"a": 5}, {"b": 5}),
    ],
)
def test_jensen_shannon_distance_equals_scipy(p, q):
    cats = sorted(set(p) | set(q))
    expected = jensenshannon([p.get(c, 0) for c in cats], [q.get(c, 0) for c in cats], base=2)
    assert drift.jensen_shannon(p, q) == pytest.approx(expected, abs=1e-12)
    assert 0.0 <= drift.jensen_shannon(p, q) <= 1.0


def test_jensen_shannon_bounds():
    assert drift.jensen_shannon({"a": 5, "b": 5}, {"a": 1, "b": 1}) == 0.0
    assert drift.jensen_shannon({"a": 5}, {"b": 5}) == pytest.approx(1.0)
    assert drift.jensen_shannon({}, {"a": 1}) == 0.0


# ---------------------------------------------------------------------------------------------
# Column-level drift from profiles
# ---------------------------------------------------------------------------------------------


def test_numeric_drift_from_profiles():
    rng = np.random.default_rng(21)
    ref = numeric_column(rng.normal(40, 10, 20_000))
    same = drift.numeric_drift(ref, numeric_column(rng.normal(40, 10, 20_000), like=ref))
    moved = drift.numeric_drift(ref, numeric_column(rng.normal(48, 10, 20_000), like=ref))
    assert set(same) >= {"ks_statistic", "ks_pvalue", "psi", "wasserstein", "wasserstein_scaled"}
    assert same["scale_basis"] == "iqr" and same["scale"] == pytest.approx(13.49, rel=0.03)
    assert same["psi"] < 0.01 and same["wasserstein_scaled"] < 0.03 and same["ks_pvalue"] > 0.01
    assert moved["psi"] > 0.25
    assert moved["wasserstein"] == pytest.approx(8.0, rel=0.05)
    assert moved["wasserstein_scaled"] == pytest.approx(8.0 / 13.49, rel=0.06)
    assert moved["ks_pvalue"] < 1e-10


def test_numeric_drift_scale_falls_back_to_std_then_to_one():
    ref = numeric_column([0.0] * 90 + [10.0] * 10)  # IQR 0
    out = drift.numeric_drift(ref, numeric_column([0.0] * 50 + [10.0] * 50, like=ref))
    assert out["scale_basis"] == "std" and out["scale"] == pytest.approx(math.sqrt(900 / 99))
    assert out["wasserstein"] == pytest.approx(4.0)
    ref = numeric_column([3.0] * 10)
    out = drift.numeric_drift(ref, numeric_column([3.0] * 5, like=ref))
    assert out["scale_basis"] == "none" and out["wasserstein_scaled"] == 0.0


def test_numeric_drift_refuses_profiles_on_other_edges_and_handles_empty_batches():
    rng = np.random.default_rng(2)
    ref = numeric_column(rng.normal(size=500))
    with pytest.raises(ValueError, match="edges"):
        drift.numeric_drift(ref, numeric_column(rng.normal(size=500)))  # profiled on its own edges
    empty = drift.numeric_drift(ref, numeric_column([float("nan")] * 4, like=ref))
    assert empty["psi"] is None and empty["cur_count"] == 0


def test_categorical_drift_reports_new_and_missing_categories():
    ref = categorical_column({"meeting": 600, "webinar": 250, "conference": 100, "meetup": 50})
    cur = categorical_column({"meeting": 560, "webinar": 240, "conference": 100, "festival": 100})
    out = drift.categorical_drift(ref, cur)
    assert out["new_categories"] == ["festival"]
    assert out["missing_categories"] == ["meetup"]
    # categories in sorted order: conference, festival, meeting, meetup, webinar
    assert out["psi"] == pytest.approx(psi_reference([100, 0, 600, 50, 250], [100, 100, 560, 0, 240]))
    assert out["psi"] > 0.25 and out["chi2_pvalue"] < 1e-20
    assert out["jensen_shannon"] == pytest.approx(
        jensenshannon([100, 0, 600, 50, 250], [100, 100, 560, 0, 240], base=2)
    )


def test_categorical_drift_counts_folded_rows_as_other():
    ref = categorical_column({"a": 50, "b": 50}, other=100)
    cur = categorical_column({"a": 50, "b": 50}, other=100)
    out = drift.categorical_drift(ref, cur)
    assert out["ref_count"] == 200 and out["psi"] == 0.0 and out["new_categories"] == []
