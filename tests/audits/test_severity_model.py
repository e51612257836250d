"""One severity model for audits: a finding's status follows its suite's rule, the audit's verdict
is its worst finding, the alert it raises carries the same severity, and every page says the same
word — for every check kind the engine can report, and for the serving log whose feature was null in
28.6% of rows while its suite fails nulls above 10%."""

import re
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pytest

from audits.engine import checks
from audits.engine.checks import CHECK_KINDS, DEFAULT_SEVERITY, Finding, verdict
from audits.engine.checks.findings import _severity, _tripped
from audits.engine.suite import ColumnRules, Suite
from audits.models import Alert, AlertState, AuditJob, AuditState
from audits.services.jobs import _record
from demo.batches import clean_batch
from demo.serving import serving_records
from tests.audits.factories import AuditJobFactory
from tests.audits.profile_builders import numeric_column

# Kinds that belong to the batch as a whole: the suite's per-column severity does not reach them.
WHOLE_BATCH = {"volume", "volume_zscore", "volume_bytes", "schema", "integrity"}
ALERT_SEVERITY = {"fail": "error", "warn": "warning"}


def suite_for(kind: str, severity: str | None) -> Suite:
    """A suite that sets `kind` to `severity` on column x (None: the kind's default severity)."""
    overrides = {kind: severity} if severity else {}
    return Suite(columns={"x": ColumnRules(kind="numeric", severity_overrides=overrides)})


def tripped(kind: str, suite: Suite, status: str) -> Finding:
    """A check of `kind` on column x whose limits were crossed to `status` ("fail": a fail limit,
    "warn": a warning limit), its severity from the suite as every check takes it (_severity)."""
    column = None if kind in WHOLE_BATCH else "x"
    rules = suite.columns.get("x")
    severity = DEFAULT_SEVERITY[kind] if column is None else _severity(rules, kind)
    crossed = _tripped(severity, kind) if status == "fail" else "warn"
    return Finding(kind, column, severity, crossed, f"{kind} crossed its {status} limit.")


def record(findings: list[Finding]) -> AuditJob:
    """The audit service's last step on a batch: findings, verdict and alerts recorded together."""
    job = AuditJobFactory(state=AuditState.RUNNING)
    findings = checks.sort_findings(findings)
    return _record(job.pk, findings, verdict(findings), {"rows": 100, "columns": {}}, {"rows": 100})


def assert_one_word(job: AuditJob, kind: str, expected: str):
    stored = job.findings.get(check_name=kind)
    alert = Alert.objects.get(model=job.model, check_name=kind, state=AlertState.OPEN)
    assert (stored.status, job.verdict, alert.severity, stored.severity) == (
        expected,
        expected,
        ALERT_SEVERITY[expected],
        ALERT_SEVERITY[expected],
    )


def test_every_check_kind_is_registered_with_a_severity():
    assert set(CHECK_KINDS) == set(DEFAULT_SEVERITY) and {"nulls", "skew_nulls", "integrity"} <= set(CHECK_KINDS)
    with pytest.raises(ValueError, match="unknown check kind"):
        Finding("a_new_check", "x", "error", "fail", "An unregistered kind is refused.")


@pytest.mark.parametrize("kind", CHECK_KINDS)
def test_a_fail_limit_crossed_fails_the_finding_the_verdict_and_raises_an_error_alert(db, kind):
    suite = suite_for(kind, "error")
    job = record([tripped(kind, suite, "fail")])
    assert_one_word(job, kind, "fail" if DEFAULT_SEVERITY[kind] == "error" or kind not in WHOLE_BATCH else "warn")


@pytest.mark.parametrize("kind", CHECK_KINDS)
def test_a_warning_limit_crossed_warns_everywhere_whatever_the_checks_weight(db, kind):
    """A check of severity error that only crossed its warning limit (a null share up 5 points) is a
    warn finding, a WARN verdict and a warning alert — not an ERROR alert."""
    job = record([tripped(kind, suite_for(kind, "error"), "warn")])
    assert_one_word(job, kind, "warn")


@pytest.mark.parametrize("kind", sorted(set(CHECK_KINDS) - WHOLE_BATCH))
@pytest.mark.parametrize("softened_to", ["warning", "info"])
def test_a_check_the_suite_softens_warns_at_most_and_says_why(db, kind, softened_to):
    """A fail limit crossed (as a two-threshold check reports it: nulls, drift) on a check the suite
    sets to warning or info is a warn finding that says why, a WARN verdict and a warning alert."""
    severity = _severity(suite_for(kind, softened_to).columns["x"], kind)
    finding = Finding(kind, "x", severity, "fail", f"{kind} crossed its fail limit.")
    assert finding.status == "warn" and f"The suite sets {kind} to {softened_to}" in finding.message
    assert_one_word(record([finding]), kind, "warn")


@pytest.mark.parametrize("kind", CHECK_KINDS)
def test_the_verdict_is_the_worst_finding(db, kind):
    suite = suite_for(kind, "error")
    findings = [tripped(kind, suite, "warn"), Finding("drift", "y", "error", "fail", "y drifted.")]
    job = record(findings)
    assert job.verdict == "fail" and Alert.objects.get(check_name="drift", column="y").severity == "error"
    assert Alert.objects.get(check_name=kind, column=findings[0].column or "").severity == "warning"


def test_the_null_check_follows_the_suites_limits():
    """The quality check itself: above max_null_share fails, a rise above max_null_increase warns."""
    reference = {"rows": 1000, "columns": {"x": numeric_column(np.arange(1000.0))}}
    suite = Suite(columns={"x": ColumnRules(kind="numeric", max_null_share=0.10, max_null_increase=0.02)})
    for share, expected in ((0.286, "fail"), (0.05, "warn"), (0.0, "pass")):
        values = np.arange(1000.0)
        values[: int(share * 1000)] = np.nan
        current = {"rows": 1000, "columns": {"x": numeric_column(values, like=reference["columns"]["x"])}}
        (nulls,) = [f for f in checks.quality_findings(reference, current, suite) if f.check == "nulls"]
        assert (nulls.status, verdict([nulls])) == (expected, expected)


# --- the serving log ----------------------------------------------------------------------

NOW = datetime.now(UTC).replace(microsecond=0)


def log_with_nulls(api, n: int, *, null_every: tuple[int, int]):
    """n logged predictions, meeting_minutes arriving null in `null_every`[0] of every `null_every`[1]."""
    frame = clean_batch(n, start=date(2026, 10, 1), end=date(2026, 10, 31), seed=21, first_customer=300_000)
    scores = np.random.default_rng(21).beta(1.2, 6, n)
    records = serving_records(frame, scores, version=1, start=NOW - timedelta(hours=3), every=timedelta(seconds=2))
    nulls, every = null_every
    for i, record in enumerate(records):
        if i % every < nulls:
            record["raw_features"]["meeting_minutes"] = record["features"]["meeting_minutes"] = None
    response = api.post("/api/v1/predictions/", {"model": "upsell", "records": records}, format="json")
    assert response.status_code == 201, response.content


def test_a_serving_log_null_above_the_suites_limit_fails_everywhere(
    upsell_with_reference, api_as, pipeline, reviewer, client_as, django_capture_on_commit_callbacks
):
    sender, api = api_as(pipeline), api_as(reviewer)
    suite = api.get("/api/v1/models/upsell/audit-suite").json()
    limit = suite["suite"]["columns"]["meeting_minutes"]["max_null_share"]
    assert limit == pytest.approx(0.10)  # the suite says: nulls fail above 10%
    log_with_nulls(sender, 700, null_every=(2, 7))  # 28.6% of rows
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post("/api/v1/models/upsell/serving-audits", {}, format="json")
    assert response.status_code == 202, response.content
    report = api.get(f"/api/v1/audits/{response.json()['id']}/").json()
    assert report["state"] == "succeeded", report["error"]

    (finding,) = [f for f in report["findings"] if f["column"] == "meeting_minutes" and f["check"] == "skew_nulls"]
    assert "28.6%" in finding["message"] and "10.0%" in finding["message"]
    alert = Alert.objects.get(check_name="skew_nulls", column="meeting_minutes", state=AlertState.OPEN)
    assert (finding["status"], finding["severity"], report["verdict"], alert.severity) == (
        "fail",
        "error",
        "fail",
        "error",
    )

    page = client_as(reviewer).get(f"/audits/{report['id']}/").content.decode()
    failing = page[page.index("✗ fail") :]
    assert 'data-check="skew_nulls" data-column="meeting_minutes"' in failing
    assert '<li class="finding status-fail severity-error" data-check="skew_nulls"' in page
    listing = client_as(reviewer).get("/audits/").content.decode()
    rows = re.findall(r'<tr class="severity-(\w+)">\s*<td><span[^>]*>(\w+)</span>(.*?)</tr>', listing, re.S)
    (row,) = [(severity, word) for severity, word, rest in rows if "<code>meeting_minutes</code>" in rest]
    assert row == ("error", "fail")
