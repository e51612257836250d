"""Calibration of the drift tests: how often do they cry "drift" when there is none, and do they see
a real shift?

For every size (500, 1,000, 100,000 rows) we draw 300 pairs of samples from the SAME distribution
and count how often p < alpha = 0.05; a calibrated test does so ~5 % of the time (with 300 pairs the
binomial standard error is 1.3 points, so we allow 0.05 ± 0.03). The numeric KS goes through the
histogram path exactly as an audit does: fine bins from the reference sample's 999 quantiles (or its
distinct values when it has ≤ 999), the batch counted on them. Categorical data go through the
chi-squared HOMOGENEITY test, with 5 and 30 categories of unequal frequency (so pooling of rare
categories is exercised at small sizes).

Everything is seeded and vectorised (sorted samples + searchsorted, numpy multinomials), so the module
runs in a few seconds.
"""

import numpy as np
import pytest
from scipy import stats

from audits.engine import drift, target
from audits.engine.profile import edges as engine_edges
from tests.audits.profile_builders import FINE, reference_edges

ALPHA = 0.05
PAIRS = 300
TOLERANCE = 0.03


def sorted_quantile_edges(sorted_ref: np.ndarray) -> np.ndarray:
    """The contract's fine edges from an already-sorted reference: np.quantile's default ("linear")
    at 0.001..0.999 without re-sorting (np.quantile partitions per quantile: 15x slower at 100k), or
    the distinct values when there are ≤ 999."""
    if sorted_ref.size <= 999:
        return np.unique(sorted_ref)
    h = (sorted_ref.size - 1) * FINE
    lo = np.floor(h).astype(np.int64)
    hi = np.minimum(lo + 1, sorted_ref.size - 1)
    return np.unique(sorted_ref[lo] + (h - lo) * (sorted_ref[hi] - sorted_ref[lo]))


def hist_of_sorted(sorted_values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Counts per bin (edges[i-1], edges[i]] of a sorted sample: same as the contract's
    bincount(searchsorted(edges, x, side="left")), in O(bins log n)."""
    upto = np.searchsorted(sorted_values, edges, side="right")
    return np.diff(np.concatenate(([0], upto, [sorted_values.size])))


def test_fast_helpers_agree_with_the_contract_builders():
    rng = np.random.default_rng(0)
    for n in (400, 5000):
        ref, cur = rng.normal(size=n), rng.normal(size=n)
        edges = sorted_quantile_edges(np.sort(ref))
        np.testing.assert_allclose(edges, reference_edges(ref), rtol=0, atol=1e-12)
        assert (
            hist_of_sorted(np.sort(cur), edges).tolist()
            == np.bincount(np.searchsorted(edges, cur, side="left"), minlength=edges.size + 1).tolist()
        )


def ks_rejection_rate(rng, n: int, pairs: int, *, shift: float = 0.0) -> float:
    rejected = 0
    for _ in range(pairs):
        ref = np.sort(rng.normal(0.0, 1.0, n))
        cur = np.sort(rng.normal(shift, 1.0, n))
        edges = sorted_quantile_edges(ref)
        _, p = drift.ks_from_histograms(hist_of_sorted(ref, edges), hist_of_sorted(cur, edges))
        rejected += p < ALPHA
    return rejected / pairs


def zipf_shares(k: int) -> np.ndarray:
    shares = 1.0 / np.arange(1, k + 1)
    return shares / shares.sum()


def as_counts(row) -> dict[str, int]:
    return {f"c{i}": int(v) for i, v in enumerate(row) if v}


def chi2_rejection_rate(ref_rows, cur_rows) -> float:
    pvalues = [drift.chi2_homogeneity(as_counts(r), as_counts(c))[1] for r, c in zip(ref_rows, cur_rows)]
    return float(np.mean(np.array(pvalues) < ALPHA))


# ---------------------------------------------------------------------------------------------
# False-drift rates on samples from one distribution
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [500, 1_000, 100_000])
def test_ks_histogram_false_drift_rate_is_alpha(n):
    rate = ks_rejection_rate(np.random.default_rng(1000 + n), n, PAIRS)
    assert abs(rate - ALPHA) <= TOLERANCE, rate


@pytest.mark.parametrize("k", [5, 30])
@pytest.mark.parametrize("n", [500, 1_000, 100_000])
def test_chi2_homogeneity_false_drift_rate_is_alpha(k, n):
    rng = np.random.default_rng(2000 + 10 * k + n)
    shares = zipf_shares(k)
    ref_rows = rng.multinomial(n, shares, size=PAIRS)
    cur_rows = rng.multinomial(n, shares, size=PAIRS)
    rate = chi2_rejection_rate(ref_rows, cur_rows)
    assert abs(rate - ALPHA) <= TOLERANCE, rate


def test_goodness_of_fit_with_reference_counts_as_exact_is_the_mistake():
    """Why homogeneity: chisquare(cur, f_exp=ref scaled to cur's size) treats the reference's counts
    as the true shares, ignores their own noise, and at 1,000 rows flags drift between two samples
    of ONE distribution a third (5 categories) to most (30 categories) of the time. The homogeneity
    test on the very same pairs stays at alpha."""
    n = 1_000
    for k, floor in ((5, 0.2), (30, 0.5)):
        rng = np.random.default_rng(3000 + k)
        shares = zipf_shares(k)
        ref_rows = rng.multinomial(n, shares, size=PAIRS)
        cur_rows = rng.multinomial(n, shares, size=PAIRS)
        keep = (ref_rows > 0).all(axis=1)  # f_exp must be positive for chisquare
        ref_rows, cur_rows = ref_rows[keep], cur_rows[keep]
        expected = ref_rows * (cur_rows.sum(axis=1, keepdims=True) / ref_rows.sum(axis=1, keepdims=True))
        gof_p = stats.chisquare(cur_rows, f_exp=expected, axis=1).pvalue
        gof_rate = float(np.mean(gof_p < ALPHA))
        assert gof_rate > floor, gof_rate
        assert gof_rate > 4 * ALPHA
        assert abs(chi2_rejection_rate(ref_rows, cur_rows) - ALPHA) <= TOLERANCE


# ---------------------------------------------------------------------------------------------
# Power on known shifts
# ---------------------------------------------------------------------------------------------


def test_ks_detects_a_mean_shift_of_a_tenth_of_a_standard_deviation_at_100k():
    # 30 pairs: scipy's kstwo.sf takes ~0.15 s per call for D of a few hundredths at n = 100k
    # (expected D ≈ 0.04 against a critical value of 0.006, so the power is ~1 anyway)
    rate = ks_rejection_rate(np.random.default_rng(4000), 100_000, 30, shift=0.1)
    assert rate >= 0.9, rate


def test_chi2_detects_a_category_moving_from_20_to_25_percent_at_10k():
    rng = np.random.default_rng(5000)
    ref_shares = np.array([0.20, 0.30, 0.25, 0.15, 0.10])
    cur_shares = np.concatenate(([0.25], ref_shares[1:] * (0.75 / 0.80)))
    ref_rows = rng.multinomial(10_000, ref_shares, size=PAIRS)
    cur_rows = rng.multinomial(10_000, cur_shares, size=PAIRS)
    assert chi2_rejection_rate(ref_rows, cur_rows) >= 0.9


# ---------------------------------------------------------------------------------------------
# The effect sizes that decide a finding's status stay quiet on samples of one distribution
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [10_000, 100_000])
def test_numeric_effect_sizes_do_not_warn_on_samples_of_one_distribution(n):
    """Default warning thresholds PSI 0.1 and scaled Wasserstein 0.1: from 10,000 rows on, pairs of
    log-normal samples of one distribution stay below them every time.

    Noise floor (measured, not asserted): at 1,000 rows the Wasserstein distance between two RAW
    log-normal samples of one distribution reaches 0.18 of the IQR (99th percentile; 0.08 for
    normal data), so a 0.1 threshold on small batches of skewed data warns on noise; the histogram
    estimate does not add to that (test_drift's tolerance is 0.015 IQR)."""
    rng = np.random.default_rng(6000 + n)
    worst_psi = worst_w = 0.0
    for _ in range(30):
        ref, cur = np.sort(rng.lognormal(0, 1, n)), np.sort(rng.lognormal(0, 1, n))
        edges = sorted_quantile_edges(ref)
        deciles = np.unique(np.quantile(ref, np.arange(1, 10) / 10))
        worst_psi = max(worst_psi, drift.psi(hist_of_sorted(ref, deciles), hist_of_sorted(cur, deciles)))
        w = drift.wasserstein_from_histograms(
            edges,
            hist_of_sorted(ref, edges),
            hist_of_sorted(cur, edges),
            ref_min=ref[0],
            ref_max=ref[-1],
            cur_min=cur[0],
            cur_max=cur[-1],
            ref_mean=ref.mean(),
            cur_mean=cur.mean(),
        )
        worst_w = max(worst_w, w / np.subtract(*np.quantile(ref, [0.75, 0.25])))
    assert worst_psi < 0.1 and worst_w < 0.1, (worst_psi, worst_w)


@pytest.mark.parametrize("n", [10_000, 100_000])
def test_categorical_effect_sizes_do_not_warn_on_samples_of_one_distribution(n):
    """Jensen-Shannon distance and PSI over 30 categories of unequal frequency stay below their
    0.1 warning thresholds on same-distribution pairs from 10,000 rows on.

    Noise floor (measured, not asserted): at 1,000 rows with 30 categories the JS DISTANCE between
    two samples of one distribution is about 0.1 already (median; max 0.14 over 300 pairs), PSI up
    to 0.11: the square root makes JS distance large for small samples."""
    rng = np.random.default_rng(7000 + n)
    shares = zipf_shares(30)
    ref_rows, cur_rows = rng.multinomial(n, shares, size=PAIRS), rng.multinomial(n, shares, size=PAIRS)
    js = [drift.jensen_shannon(as_counts(r), as_counts(c)) for r, c in zip(ref_rows, cur_rows)]
    ps = [drift.psi(r, c) for r, c in zip(ref_rows, cur_rows)]
    assert max(js) < 0.1 and max(ps) < 0.1, (max(js), max(ps))


# ---------------------------------------------------------------------------------------------
# Feature–label correlation: false leak alarms on samples of one joint distribution
# ---------------------------------------------------------------------------------------------
#
# The target_correlation check compares each feature's rank correlation with the label between
# training and a batch; its p-value (audits/engine/target.py: rank_change_pvalue) vetoes changes that
# sampling noise explains. Here reference and batch are drawn from the SAME joint distribution, with
# skewed and heavy-tailed features (log-normal σ = 1.5, Pareto α = 1.1, so no finite variance) and a
# label that depends on the feature or not, and go through the check's own statistics: the
# reference's edges (engine_edges.reference_edges), the rank scores and power sums (target._pair_stats on
# target.rank_score), the test. A calibrated test rejects ~ALPHA of the pairs.


def heavy_feature(rng, kind: str, size) -> tuple[np.ndarray, np.ndarray]:
    """(feature values, a normal latent that the label may depend on)."""
    z = rng.normal(size=size)
    if kind == "lognormal":
        return np.exp(1.5 * z), z
    if kind == "pareto":  # Pareto α = 1.1 by the inverse CDF of the latent's normal CDF
        return (1 - stats.norm.cdf(z)) ** (-1 / 1.1), z
    return z, z


def label_for(rng, latent: np.ndarray, link: str) -> np.ndarray:
    if link == "none":
        return (rng.random(latent.shape) < 0.3).astype(float)
    if link == "binary":  # a logistic link on the latent: rank correlation ≈ 0.4
        return (rng.random(latent.shape) < 1 / (1 + np.exp(1 - 1.2 * latent))).astype(float)
    return np.exp(latent + rng.normal(size=latent.shape))  # a log-normal numeric label (e.g. revenue)


def correlation_pvalues(rng, kind: str, link: str, n_ref: int, n_cur: int, pairs: int) -> np.ndarray:
    x, z = heavy_feature(rng, kind, (pairs, n_ref + n_cur))
    y = label_for(rng, z, link)
    pvalues = np.empty(pairs)
    for i in range(pairs):
        xr, xc, yr, yc = x[i, :n_ref], x[i, n_ref:], y[i, :n_ref], y[i, n_ref:]
        x_edges = engine_edges.reference_edges(xr)[0]
        if link == "numeric":  # a numeric label is ranked on its own reference edges
            y_edges = engine_edges.reference_edges(yr)[0]
            yr, yc = target.rank_score(yr, y_edges), target.rank_score(yc, y_edges)
        ref = target._pair_stats(target.rank_score(xr, x_edges), yr)
        cur = target._pair_stats(target.rank_score(xc, x_edges), yc)
        pvalues[i] = target.rank_change_pvalue(ref, cur)
    return pvalues


@pytest.mark.parametrize(
    "kind, link",
    [(k, link) for k in ("lognormal", "pareto") for link in ("none", "binary", "numeric")] + [("normal", "binary")],
)
@pytest.mark.parametrize("n_ref, n_cur", [(300, 300), (2_000, 1_000)])
def test_rank_correlation_false_leak_rate_is_alpha_on_skewed_data(kind, link, n_ref, n_cur):
    seed = 8000 + 100 * ["lognormal", "pareto", "normal"].index(kind) + 10 * ["none", "binary", "numeric"].index(link)
    pvalues = correlation_pvalues(np.random.default_rng(seed + n_ref), kind, link, n_ref, n_cur, PAIRS)
    rate = float(np.mean(pvalues < ALPHA))
    assert abs(rate - ALPHA) <= TOLERANCE, rate
    assert np.mean(pvalues < 0.01) <= 0.01 + TOLERANCE / 2  # the check's own noise level (drift_noise_pvalue)


def test_pearson_with_fishers_z_is_the_mistake_on_heavy_tailed_data():
    """Why ranks: on Pareto features with a log-normal label, pairs of one joint distribution,
    Pearson's r compared with Fisher's z (variance 1/(n − 3), right only for normal data) rejects
    "same correlation" most of the time; r is decided by where the few largest values fell."""
    n, pairs = 300, PAIRS
    rng = np.random.default_rng(8500)
    x, z = heavy_feature(rng, "pareto", (pairs, 2 * n))
    y = label_for(rng, z, "numeric")
    xa, xb, ya, yb = x[:, :n], x[:, n:], y[:, :n], y[:, n:]

    def rows_r(a, b):
        a, b = a - a.mean(axis=1, keepdims=True), b - b.mean(axis=1, keepdims=True)
        return (a * b).sum(axis=1) / np.sqrt((a * a).sum(axis=1) * (b * b).sum(axis=1))

    fisher = np.abs(np.arctanh(rows_r(xa, ya)) - np.arctanh(rows_r(xb, yb))) / np.sqrt(2 / (n - 3))
    assert np.mean(2 * stats.norm.sf(fisher) < ALPHA) > 0.5


def test_a_label_copied_into_a_feature_with_noise_is_found_at_300_rows():
    """Power: a batch whose feature is the label plus noise (a leak) against training where the
    feature was weakly linked: the rank correlation jumps past the 0.2 warning line and the test
    rules out noise in every pair."""
    rng = np.random.default_rng(8600)
    n, pairs = 300, 50
    for _ in range(pairs):
        x, z = heavy_feature(rng, "lognormal", 2 * n)
        y = label_for(rng, z, "none")
        leak = np.exp(1.5 * (2 * y[n:] - 1 + rng.normal(0, 0.5, n)))  # filled in after the outcome, on x's scale
        edges = engine_edges.reference_edges(x[:n])[0]
        ref = target._pair_stats(target.rank_score(x[:n], edges), y[:n])
        cur = target._pair_stats(target.rank_score(leak, edges), y[n:])
        jump = target.spearman(cur)["r"] - target.spearman(ref)["r"]
        assert jump >= 0.2 and target.rank_change_pvalue(ref, cur) < 0.01, jump
