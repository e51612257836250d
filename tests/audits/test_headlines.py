"""A finding's headline (its value against its limit, shown on pages, in the report and the API) is
the statistic that decided its status, against the limit it crossed — not a figure under its limit
while the real trigger sits in the prose."""

import numpy as np
import pandas as pd
import pytest

from audits.engine.audit import judge
from audits.engine.checks import drift_findings, quality_findings
from audits.engine.columns import ColumnSpec
from audits.engine.profile import profile_edges, profile_frame
from audits.engine.suite import Suite

SPECS = [
    ColumnSpec("meeting_minutes", "numeric"),
    ColumnSpec("attendees", "numeric"),
    ColumnSpec("plan", "categorical"),
]


def _frames(rng, n=285):
    minutes = rng.lognormal(3.0, 1.0, n)
    reference = pd.DataFrame(
        {
            "meeting_minutes": minutes,
            "attendees": rng.integers(2, 30, n).astype(float),
            "plan": rng.choice(["free", "pro", "team"], n, p=[0.5, 0.3, 0.2]),
        }
    )
    # Same deciles, a far longer top tail: PSI stays under its limit while values move ~half an IQR.
    moved = np.sort(minutes)
    moved[-n // 10 :] *= 6
    mid = np.median(reference["attendees"])
    current = pd.DataFrame(
        {
            "meeting_minutes": rng.permutation(moved),
            "attendees": mid + (reference["attendees"] - mid) * 2.4,  # spread 2.4x, median in range
            "plan": rng.choice(["free", "pro", "team"], n, p=[0.5, 0.3, 0.2]),
        }
    )
    return reference, current


def _profiles(reference: pd.DataFrame, current: pd.DataFrame):
    ref = profile_frame(reference, SPECS)
    return ref, profile_frame(current, SPECS, edges=profile_edges(ref))


def _on_failing_side(finding) -> bool:
    fails = (finding.details.get("headline") or {}).get("fails", "above")
    return finding.value <= finding.threshold if fails == "below" else finding.value >= finding.threshold


def test_a_drift_warned_by_wasserstein_shows_wasserstein_against_its_limit():
    ref, cur = _profiles(*_frames(np.random.default_rng(1), n=2_000))
    finding = next(f for f in drift_findings(ref, cur, Suite()) if f.column == "meeting_minutes")
    assert finding.status == "warn" and finding.details["psi"] < Suite().rules_for("x", "numeric").drift_psi_warn
    assert finding.details["headline"]["statistic"] == "wasserstein_scaled"
    assert finding.value == finding.details["wasserstein_scaled"]
    assert finding.threshold == Suite().rules_for("meeting_minutes", "numeric").drift_wasserstein_warn
    assert finding.value >= finding.threshold


def test_a_range_warned_by_spread_shows_the_spread_ratio_against_its_limit():
    ref, cur = _profiles(*_frames(np.random.default_rng(2)))
    finding = next(f for f in quality_findings(ref, cur, Suite()) if f.check == "range" and f.column == "attendees")
    assert finding.status == "warn"
    assert finding.details["headline"] == {"statistic": "iqr_ratio", "fails": "above"}
    assert finding.value == pytest.approx(finding.details["iqr_ratio"]) and finding.threshold == 2.0
    assert "2.40×" in finding.message


def test_a_range_warned_by_a_median_below_the_reference_shows_the_median_against_p01():
    reference, _ = _frames(np.random.default_rng(3))
    current = reference.assign(attendees=reference["attendees"] - 1000)
    ref, cur = _profiles(reference, current)
    finding = next(f for f in quality_findings(ref, cur, Suite()) if f.check == "range" and f.column == "attendees")
    assert finding.details["headline"] == {"statistic": "median", "fails": "below"}
    assert finding.threshold == ref["columns"]["attendees"]["quantiles"]["0.01"]
    assert finding.value < finding.threshold


@pytest.mark.parametrize("seed", range(4))
def test_every_warning_or_failure_heads_with_a_value_on_the_failing_side_of_its_limit(seed):
    reference, current = _frames(np.random.default_rng(seed))
    current.loc[:10, "plan"] = "enterprise"  # a new category
    current.loc[:60, "meeting_minutes"] = None  # nulls above their limit
    ref, cur = _profiles(reference, current)
    facts = {"columns": list(current.columns), "rows": len(current), "bytes": 10_000, "integrity_problems": []}
    findings, _ = judge(cur, reference=ref, specs=SPECS, suite=Suite(), facts=facts, history=[(285, 10_000)] * 5)
    tripped = [f for f in findings if f.status in ("warn", "fail") and f.value is not None and f.threshold is not None]
    assert {f.check for f in tripped} >= {"drift", "range", "new_categories"}
    for f in tripped:
        assert _on_failing_side(f), (f.check, f.column, f.value, f.threshold, f.message)
        if f.check in ("drift", "range", "prediction_drift", "skew_drift"):
            assert f.details["headline"]["statistic"] in f.details or f.details["headline"]["statistic"] in (
                "median",
                "mean",
            )


def test_a_category_share_finding_tripped_by_an_absent_value_heads_with_the_count_of_absent_values():
    reference, current = _frames(np.random.default_rng(4), n=1_000)
    reference["plan"] = np.random.default_rng(5).choice(["free", "pro", "team"], 1_000, p=[0.57, 0.38, 0.05])
    current["plan"] = np.random.default_rng(6).choice(["free", "pro"], 1_000, p=[0.6, 0.4])
    ref, cur = _profiles(reference, current)
    finding = next(f for f in quality_findings(ref, cur, Suite()) if f.check == "category_shares")
    assert finding.status in ("warn", "fail") and finding.details["missing_categories"] == ["team"]
    # No share moved past its limit (team's 5% went elsewhere); the absence of 'team' decided it.
    assert finding.details["headline"] == {"statistic": "missing_categories", "fails": "above"}
    assert (finding.value, finding.threshold) == (1, 0)
    assert _on_failing_side(finding)
