"""Calibration of the quality and volume checks: how often do they raise a finding on a batch drawn
from the SAME distribution as the reference (or as the feed's earlier batches), at 100 and 1,000
rows, and do they still see a real change?

Each check goes through its real function on real profiles (tests/audits/profile_builders.py). Two
settings per check:

* the noise test alone: the effect threshold at zero and the noise p-value at ALPHA = 0.05, so a
  finding is raised exactly when the test rejects; a calibrated test does so ~5% of the time (300
  pairs: binomial standard error 1.3 points, so 0.05 ± 0.03, as test_calibration.py allows);
* the suite Keel suggests (noise p-value 0.01 and the default effect thresholds): at most
  0.01 + 0.03. The code before the noise allowance failed both at 100 rows (a 2-point null rise, a
  10-point share move, a ratio outside 0.5–2 against one batch are common by chance there).

The absence test (a common value missing from the batch) cannot reach nominal: a value is absent by
chance only while the batch expects a row or two of it, and the test is Bonferroni-corrected over
the column's common values, so it is held to at most nominal + 0.03.

Seeded; the module runs in a few seconds.
"""

import numpy as np
import pytest

from audits.engine import checks
from audits.engine.suite import ColumnRules, Suite, suggest_suite
from tests.audits.profile_builders import categorical_column

ALPHA = 0.05
DEFAULT_NOISE = ColumnRules(kind="categorical").drift_noise_pvalue  # 0.01
PAIRS = 300
TOLERANCE = 0.03
SIZES = [100, 1_000]


def profile(rows: int, counts, *, nulls: int = 0) -> dict:
    return {"rows": rows, "columns": {"plan": categorical_column(counts, nulls=nulls)}}


def draw(rng, n: int, shares, null_share: float = 0.0) -> dict:
    nulls = int(rng.binomial(n, null_share))
    row = rng.multinomial(n - nulls, shares)
    return profile(n, {f"c{i}": int(v) for i, v in enumerate(row) if v}, nulls=nulls)


def only(findings, check):
    (found,) = [f for f in findings if f.check == check]
    return found


def noise_only(**rules) -> Suite:
    """A suite whose plan column is judged by the noise test alone, at ALPHA."""
    return Suite(columns={"plan": ColumnRules(kind="categorical", drift_noise_pvalue=ALPHA, **rules)})


def zipf_shares(k: int) -> np.ndarray:
    shares = 1.0 / np.arange(1, k + 1)
    return shares / shares.sum()


# ---------------------------------------------------------------------------------------------
# Null shares
# ---------------------------------------------------------------------------------------------


def null_alarm_rate(seed: int, n: int, null_share: float, suite_for) -> float:
    rng = np.random.default_rng(seed)
    shares = [0.6, 0.4]
    alarms = 0
    for _ in range(PAIRS):
        reference, batch = draw(rng, n, shares, null_share), draw(rng, n, shares, null_share)
        alarms += only(checks.quality_findings(reference, batch, suite_for(reference)), "nulls").status != "pass"
    return alarms / PAIRS


@pytest.mark.parametrize("null_share", [0.05, 0.3])
@pytest.mark.parametrize("n", SIZES)
def test_the_null_rise_test_raises_false_alarms_at_its_nominal_rate(n, null_share):
    suite = noise_only(max_null_share=None, max_null_increase=0.0)
    rate = null_alarm_rate(100 + n + int(100 * null_share), n, null_share, lambda _: suite)
    assert abs(rate - ALPHA) <= TOLERANCE, rate


@pytest.mark.parametrize("null_share", [0.02, 0.05, 0.3])
@pytest.mark.parametrize("n", SIZES)
def test_the_suggested_null_check_stays_quiet_on_same_distribution_batches(n, null_share):
    rate = null_alarm_rate(200 + n + int(100 * null_share), n, null_share, suggest_suite)
    assert rate <= DEFAULT_NOISE + TOLERANCE, rate


def test_the_null_check_finds_a_null_share_doubling_from_5_to_10_percent_at_1000_rows():
    rng = np.random.default_rng(300)
    found = 0
    for _ in range(100):
        reference, batch = draw(rng, 1_000, [0.6, 0.4], 0.05), draw(rng, 1_000, [0.6, 0.4], 0.10)
        found += only(checks.quality_findings(reference, batch, suggest_suite(reference)), "nulls").status != "pass"
    assert found >= 90


# ---------------------------------------------------------------------------------------------
# Category shares and missing values
# ---------------------------------------------------------------------------------------------


def share_findings(seed: int, n: int, shares, suite_for) -> list:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(PAIRS):
        reference, batch = draw(rng, n, shares), draw(rng, n, shares)
        out.append(only(checks.quality_findings(reference, batch, suite_for(reference)), "category_shares"))
    return out


def moved(finding) -> bool:
    return finding.status != "pass" and "points; chi-squared" in finding.message


@pytest.mark.parametrize("k", [5, 30])
@pytest.mark.parametrize("n", SIZES)
def test_the_share_test_raises_false_alarms_at_its_nominal_rate(n, k):
    suite = noise_only(max_share_change=0.0)
    findings = share_findings(400 + n + k, n, zipf_shares(k), lambda _: suite)
    rate = np.mean([moved(f) for f in findings])
    assert abs(rate - ALPHA) <= TOLERANCE, rate


# Five values of which two are rare: a batch of 100 expects 3 and 2 rows of them.
RARE_TAIL = [0.45, 0.30, 0.20, 0.03, 0.02]


@pytest.mark.parametrize("shares", [RARE_TAIL, list(zipf_shares(30))], ids=["rare-tail", "zipf-30"])
@pytest.mark.parametrize("n", SIZES)
def test_the_absence_test_raises_no_more_false_alarms_than_nominal(n, shares):
    findings = share_findings(500 + n + len(shares), n, shares, lambda _: noise_only(max_share_change=0.0))
    rate = np.mean([bool(f.details["missing_categories"]) for f in findings])
    assert rate <= ALPHA + TOLERANCE, rate
    if n == 100:  # values are absent by chance all the time: the veto, not the data, keeps it quiet
        assert np.mean([bool(f.details["absent_by_chance"]) for f in findings]) > 0.1


@pytest.mark.parametrize("shares", [RARE_TAIL, list(zipf_shares(5)), list(zipf_shares(30))])
@pytest.mark.parametrize("n", SIZES)
def test_the_suggested_share_check_stays_quiet_on_same_distribution_batches(n, shares):
    findings = share_findings(600 + n + len(shares), n, shares, suggest_suite)
    rate = np.mean([f.status != "pass" for f in findings])
    assert rate <= DEFAULT_NOISE + TOLERANCE, rate


def test_the_share_check_finds_a_value_that_vanished_and_a_share_that_moved_at_1000_rows():
    rng = np.random.default_rng(700)
    vanished = moved_found = 0
    for _ in range(100):
        reference = draw(rng, 1_000, [0.40, 0.35, 0.20, 0.05])
        gone = draw(rng, 1_000, [0.42, 0.37, 0.21, 0.0])
        shifted = draw(rng, 1_000, [0.26, 0.44, 0.25, 0.05])
        vanished += (
            "c3"
            in only(checks.quality_findings(reference, gone, suggest_suite(reference)), "category_shares").details[
                "missing_categories"
            ]
        )
        moved_found += moved(
            only(checks.quality_findings(reference, shifted, suggest_suite(reference)), "category_shares")
        )
    assert vanished == 100 and moved_found >= 90


# ---------------------------------------------------------------------------------------------
# Volume
# ---------------------------------------------------------------------------------------------


def volume_findings(seed: int, n: int, history: int, spread: float, suite: Suite, **kw) -> list[list]:
    """Batches of about n rows whose size varies log-normally by `spread` (0.5: a feed that is often
    half or twice its usual size), each judged against the `history` batches before it."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(PAIRS):
        rows = np.maximum(1, np.rint(n * rng.lognormal(0.0, spread, history + 1))).astype(int)
        past = [(int(r), 80 * int(r)) for r in rows[:-1]]
        out.append(checks.volume_findings(int(rows[-1]), 80 * int(rows[-1]), past, suite, **kw))
    return out


@pytest.mark.parametrize("history", [5, 10])
@pytest.mark.parametrize("n", SIZES)
def test_the_volume_test_raises_false_alarms_at_its_nominal_rate(n, history):
    runs = volume_findings(800 + n + history, n, history, 0.5, Suite(volume_z_max=0.0), noise_pvalue=ALPHA)
    rate = np.mean([only(f, "volume_zscore").status != "pass" for f in runs])
    assert abs(rate - ALPHA) <= TOLERANCE, rate


@pytest.mark.parametrize("spread", [0.05, 0.5])
@pytest.mark.parametrize("history", [5, 10])
@pytest.mark.parametrize("n", SIZES)
def test_the_volume_checks_stay_quiet_on_a_feed_of_one_distribution(n, history, spread):
    runs = volume_findings(900 + n + history + int(100 * spread), n, history, spread, Suite())
    rate = np.mean([checks.verdict(f) != "pass" for f in runs])
    assert rate <= DEFAULT_NOISE + TOLERANCE, rate


def test_volume_ten_times_off_a_stable_history_is_always_found():
    rng = np.random.default_rng(1000)
    for _ in range(100):
        past = [(int(r), 80 * int(r)) for r in rng.poisson(1_000, 5)]
        for rows in (10_000, 100):
            assert only(checks.volume_findings(rows, 80 * rows, past, Suite()), "volume").status == "fail"
