"""Small batches are noisy: a few more nulls, a value absent that training saw on a row or two, a
share that wobbles by a dozen points on 100 rows. The quality checks allow for sampling noise as
the drift checks do (a test's p-value vetoes a finding that chance explains; the effect size still
sets the status), and still find a real change."""

import pytest

from audits.engine import checks
from audits.engine.checks import verdict
from audits.engine.suite import suggest_suite
from tests.audits.profile_builders import categorical_column


def profile(rows: int, **columns) -> dict:
    return {"rows": rows, "columns": columns}


def only(findings, check):
    found = [f for f in findings if f.check == check]
    assert len(found) == 1, [f.to_dict() for f in findings]
    return found[0]


# The training reference of the story: 285 signups.
PLANS = {"free": 114, "pro": 100, "team": 67, "enterprise": 4}  # enterprise: 1.4% of rows


def test_a_null_share_up_2_5_points_on_100_rows_is_noise():
    reference = profile(1_000, plan=categorical_column({"free": 600, "pro": 385}, nulls=15))  # 1.5% null
    batch = profile(100, plan=categorical_column({"free": 60, "pro": 36}, nulls=4))  # 4.0% null
    nulls = only(checks.quality_findings(reference, batch, suggest_suite(reference)), "nulls")
    assert nulls.status == "pass"
    assert nulls.message == (
        "plan is null in 4.0% of rows (4), up 2.5% points from the reference 1.5%: no more than sampling "
        "noise explains on 100 rows (p 0.055; a finding needs p < 0.01)."
    )
    assert nulls.details["null_rise_pvalue"] == pytest.approx(0.0547, abs=5e-4)


def test_a_value_training_predicts_on_1_4_rows_is_not_missing():
    reference = profile(285, plan=categorical_column(PLANS))
    batch = profile(100, plan=categorical_column({"free": 39, "pro": 36, "team": 25}))
    shares = only(checks.quality_findings(reference, batch, suggest_suite(reference)), "category_shares")
    assert shares.status == "pass"
    assert "'enterprise' is absent, but training predicts it on 1.4 rows: too few to call it missing" in shares.message
    assert shares.details["missing_categories"] == [] and shares.details["absent_by_chance"] == ["enterprise"]


def test_a_share_moving_from_40_to_26_percent_on_100_rows_is_noise():
    reference = profile(285, plan=categorical_column(PLANS))
    batch = profile(100, plan=categorical_column({"free": 26, "pro": 44, "team": 29, "enterprise": 1}))
    findings = checks.quality_findings(reference, batch, suggest_suite(reference))
    shares = only(findings, "category_shares")
    assert shares.status == "pass"
    assert "'free' moved from 40.0% to 26.0% of rows, no more than sampling noise explains on 100 rows" in (
        shares.message
    )
    assert shares.details["chi2_pvalue"] > 0.01
    assert verdict(findings) == "pass"


def test_a_null_share_from_2_to_30_percent_on_1000_rows_fails():
    reference = profile(1_000, plan=categorical_column({"free": 600, "pro": 380}, nulls=20))
    batch = profile(1_000, plan=categorical_column({"free": 430, "pro": 270}, nulls=300))
    nulls = only(checks.quality_findings(reference, batch, suggest_suite(reference)), "nulls")
    assert (nulls.status, nulls.severity) == ("fail", "error")
    assert nulls.message == "plan is null in 30.0% of rows (300), above the limit of 12.0% (reference 2.0%)."
    assert nulls.details["null_rise_pvalue"] < 1e-12


def test_a_null_share_up_2_5_points_on_a_large_batch_still_warns():
    reference = profile(10_000, plan=categorical_column({"free": 6_000, "pro": 3_850}, nulls=150))
    batch = profile(10_000, plan=categorical_column({"free": 5_800, "pro": 3_800}, nulls=400))
    nulls = only(checks.quality_findings(reference, batch, suggest_suite(reference)), "nulls")
    assert nulls.status == "warn" and "up 2.5% points from the reference 1.5%" in nulls.message


def test_a_value_training_predicts_on_50_rows_is_missing():
    reference = profile(1_000, plan=categorical_column({"free": 450, "pro": 350, "team": 150, "enterprise": 50}))
    batch = profile(1_000, plan=categorical_column({"free": 470, "pro": 370, "team": 160}))
    shares = only(checks.quality_findings(reference, batch, suggest_suite(reference)), "category_shares")
    assert (shares.status, shares.severity) == ("warn", "warning")
    assert shares.message == (
        "plan: values common in training are absent: 'enterprise' (5.0% in training, 50 rows expected)."
    )
    assert shares.details["missing_categories"] == ["enterprise"]


def test_a_share_moving_from_40_to_26_percent_on_1000_rows_is_found():
    reference = profile(1_000, plan=categorical_column({"free": 400, "pro": 350, "team": 250}))
    batch = profile(1_000, plan=categorical_column({"free": 260, "pro": 440, "team": 300}))
    shares = only(checks.quality_findings(reference, batch, suggest_suite(reference)), "category_shares")
    assert shares.status == "warn"
    assert shares.message.startswith("plan: 'free' moved from 40.0% to 26.0% of rows (more than 10.0% points;")
