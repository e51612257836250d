"""The judge knows which column is the label and which the prediction, and can judge a serving-log
export (audits/engine/audit.py judge / audit_file with roles= and serving=)."""

from datetime import date

import numpy as np
import pandas as pd

from audits.engine import audit, checks
from audits.engine.columns import ColumnSpec
from audits.engine.profile import profile_edges, profile_frame
from audits.engine.suite import ColumnRules, Suite
from demo.batches import clean_batch

LABEL, SCORE = "upgraded_90d", "score"
FEATURES = ["plan", "country", "event_type", "meeting_minutes", "attendees"]
SPECS = [
    ColumnSpec("plan", "categorical"),
    ColumnSpec("country", "categorical"),
    ColumnSpec("event_type", "categorical"),
    ColumnSpec("meeting_minutes", "numeric"),
    ColumnSpec("attendees", "numeric"),
    ColumnSpec(LABEL, "categorical"),
    ColumnSpec(SCORE, "numeric"),
    ColumnSpec("customer_id", "id"),
    ColumnSpec("signup_date", "timestamp"),
]
ROLES = {"label": LABEL, "prediction": SCORE}


def signups(n: int, seed: int, *, score_shift: float = 0.0) -> pd.DataFrame:
    """Soom signups with the upsell model's score: higher for longer meetings, plus noise."""
    frame = clean_batch(n, start=date(2026, 1, 1), end=date(2026, 6, 30), seed=seed, first_customer=1)
    rng = np.random.default_rng(seed)
    logit = -2 + 0.02 * frame["meeting_minutes"] + rng.normal(0, 0.5, n) + score_shift
    frame[SCORE] = (1 / (1 + np.exp(-logit))).round(4)
    return frame


def facts_of(frame: pd.DataFrame) -> dict:
    return {"columns": list(frame.columns), "integrity_problems": [], "rows": len(frame), "bytes": 80 * len(frame)}


def judged(current: pd.DataFrame, *, history=(), roles=ROLES, serving=None, suite=None, specs=SPECS):
    ref = profile_frame(signups(20_000, seed=11), SPECS, target_column=LABEL)
    present = [s for s in specs if s.name in current.columns]
    cur = profile_frame(
        current, present, edges=profile_edges(ref), target_column=LABEL if LABEL in current.columns else None
    )
    return audit.judge(
        cur,
        reference=ref,
        specs=specs,
        suite=suite or Suite(),
        facts=facts_of(current),
        history=list(history),
        roles=roles,
        serving=serving,
    )


def of(findings, check, column=None):
    return [f for f in findings if f.check == check and (column is None or f.column == column)]


# ---------------------------------------------------------------------------------------------
# Roles
# ---------------------------------------------------------------------------------------------


def test_the_prediction_column_is_judged_as_prediction_drift_not_as_a_feature():
    current = signups(4_000, seed=31, score_shift=1.5)  # the model scores everyone higher
    findings, verdict = judged(current)
    (prediction,) = of(findings, "prediction_drift", SCORE)
    assert prediction.status in ("warn", "fail") and prediction.severity == "warning"
    assert "The model's predictions (score)" in prediction.message and "Labels are not needed" in prediction.message
    assert of(findings, "drift", SCORE) == []
    assert verdict == "warn"
    plain, _ = judged(current, roles=None)  # without roles the score is just another column
    assert of(plain, "prediction_drift") == [] and len(of(plain, "drift", SCORE)) == 1


def test_with_a_label_each_features_link_to_it_is_compared_and_the_label_still_drifts_as_a_column():
    current = signups(3_000, seed=32)
    current["attendees"] = current[LABEL] * 40 + np.random.default_rng(32).integers(0, 5, 3_000)
    current.loc[current.index[:600], LABEL] = 1  # more upgrades than in training
    findings, _ = judged(current)
    correlation = {f.column: f for f in of(findings, "target_correlation")}
    assert set(correlation) == {"plan", "country", "event_type", "meeting_minutes", "attendees"}  # not the score
    assert correlation["attendees"].status == "warn" and "leak" in correlation["attendees"].message
    (label_drift,) = of(findings, "drift", LABEL)
    assert label_drift.status in ("warn", "fail")


def test_an_unlabelled_batch_is_normal_it_has_no_correlation_findings_and_is_not_failed_for_the_label():
    unlabelled = signups(2_000, seed=33).drop(columns=[LABEL])
    findings, verdict = judged(unlabelled)
    assert of(findings, "target_correlation") == [] and verdict == "pass"
    (schema,) = of(findings, "schema", LABEL)
    assert (schema.status, schema.severity) == ("pass", "info") and "unlabelled" in schema.message
    plain, plain_verdict = judged(unlabelled, roles=None)  # without roles the label is just a missing column
    assert of(plain, "schema", LABEL)[0].status == "fail" and plain_verdict == "fail"


def test_findings_stay_sorted_most_severe_first():
    findings, verdict = judged(signups(2_000, seed=34, score_shift=2.0).drop(columns=["country"]))
    assert findings == checks.sort_findings(findings) and verdict == checks.verdict(findings) == "fail"
    assert findings[0].status == "fail" and findings[0].severity == "error"


# ---------------------------------------------------------------------------------------------
# Serving logs
# ---------------------------------------------------------------------------------------------


def serving_log(n: int = 1_000, seed: int = 35) -> pd.DataFrame:
    """One day of the model's requests: the country field is no longer sent, attendees mostly arrive
    empty, and no labels yet."""
    log = signups(n, seed=seed).drop(columns=["country", LABEL])
    log.loc[log.index[: int(0.9 * n)], "attendees"] = np.nan
    return log


SERVING = {
    "features": FEATURES,
    "processing": {"meeting_minutes": {"rows": 1_000, "dropped": 120}, "plan": {"rows": 1_000, "dropped": 3}},
}


def test_a_serving_log_is_judged_for_training_serving_skew():
    findings, verdict = judged(serving_log(), serving=SERVING, history=[(1_000_000, 10**9)] * 5)
    (missing,) = of(findings, "skew_missing", "country")
    assert (missing.status, missing.severity) == ("fail", "error")
    assert [f for f in of(findings, "schema", "country") if f.status == "fail"] == []  # one finding for one fact
    (nulls,) = of(findings, "skew_nulls", "attendees")
    assert nulls.status == "fail" and "disappearing data" in nulls.message
    (dropped,) = of(findings, "skew_processing", "meeting_minutes")
    assert (dropped.status, dropped.severity) == ("warn", "warning") and dropped.value == 0.12
    assert dropped.message.startswith("Processing turned 12.0% of meeting_minutes values into nulls")
    assert of(findings, "skew_processing", "plan")[0].status == "pass"
    # a day of requests is not a batch: no volume check against the (much larger) batch history
    assert [f for f in findings if f.check.startswith("volume")] == []
    # the features' drift is reported once, as skew_drift
    assert [f.column for f in of(findings, "drift") if f.column in FEATURES] == []
    assert {f.column for f in of(findings, "skew_drift")} == {"plan", "event_type", "meeting_minutes", "attendees"}
    # the prediction is still judged as the model's output
    assert len(of(findings, "prediction_drift", SCORE)) == 1
    assert verdict == "fail"


def test_processing_that_nulls_half_the_values_is_an_error_unless_the_suite_softens_it():
    processing = {"meeting_minutes": {"rows": 800, "dropped": 560}}
    (finding,) = checks.skew_processing_findings(processing)
    assert (finding.status, finding.severity) == ("fail", "error") and "70.0%" in finding.message
    soft = Suite(
        columns={"meeting_minutes": ColumnRules(kind="numeric", severity_overrides={"skew_processing": "info"})}
    )
    (finding,) = checks.skew_processing_findings(processing, suite=soft)
    assert (finding.status, finding.severity) == ("warn", "warning")
    (finding,) = checks.skew_processing_findings({"meeting_minutes": {"rows": 1_000, "dropped": 49}})
    assert finding.status == "pass"


def test_a_batch_keeps_its_volume_check_and_plain_drift():
    findings, _ = judged(signups(2_000, seed=36), history=[(2_000, 160_000)] * 5)
    assert of(findings, "volume")[0].status == "pass"
    assert {f.column for f in of(findings, "drift")} >= {"plan", "meeting_minutes", LABEL}
    assert of(findings, "skew_drift") == [] and of(findings, "skew_processing") == []


# ---------------------------------------------------------------------------------------------
# A whole audit of files
# ---------------------------------------------------------------------------------------------


def test_audit_file_gathers_label_statistics_for_the_label_role(tmp_path):
    training, batch = tmp_path / "training.csv", tmp_path / "batch.csv"
    signups(8_000, seed=11).to_csv(training, index=False)
    current = signups(3_000, seed=37, score_shift=1.5)
    current["meeting_minutes"] = current[LABEL] * 300 + np.random.default_rng(37).normal(30, 5, 3_000)
    current.to_csv(batch, index=False)
    facts = audit.check_file(training, "csv", max_bytes=10**8)
    reference = audit.build_reference(training, "csv", SPECS, facts, target_column=LABEL)
    findings, verdict, profile = audit.audit_file(
        batch,
        "csv",
        reference=reference,
        specs=SPECS,
        suite=Suite(),
        facts=audit.check_file(batch, "csv", max_bytes=10**8),
        roles=ROLES,
    )
    assert profile["target"]["labelled"] == 3_000
    (leak,) = of(findings, "target_correlation", "meeting_minutes")
    assert leak.status == "warn" and "leak" in leak.message
    assert len(of(findings, "prediction_drift", SCORE)) == 1 and of(findings, "drift", SCORE) == []
    assert verdict == "fail"  # meeting_minutes itself drifted far enough to fail
