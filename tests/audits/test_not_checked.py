"""A check that did not run says so: "not checked", with why, in the engine, the API, the JSON
report, the audit page and the verdict counts; it never reads as a pass, and the verdict ignores it."""

import re
from datetime import date

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from audits.engine import checks
from audits.engine.checks import Finding, verdict
from demo.batches import clean_batch, to_csv

OCTOBER = dict(start=date(2026, 10, 1), end=date(2026, 10, 31))


def yes_no_batch(rows=600, seed=31) -> bytes:
    batch = clean_batch(rows, seed=seed, first_customer=100_000, **OCTOBER)
    batch["upgraded_90d"] = batch["upgraded_90d"].map({1: "yes", 0: "no"})
    return to_csv(batch)


def test_a_check_that_did_not_run_neither_passes_nor_fails_the_batch():
    skipped = Finding("target_correlation", "upgraded_90d", "info", "not_checked", "Not checked: labels are words.")
    passed = Finding("nulls", "plan", "error", "pass", "No nulls.")
    assert verdict([skipped]) == "pass" and verdict([skipped, passed]) == "pass"
    assert verdict([skipped, Finding("drift", "x", "error", "fail", "moved")]) == "fail"
    assert checks.sort_findings([passed, skipped]) == [skipped, passed]
    assert skipped.to_dict()["status"] == "not_checked"
    with pytest.raises(ValueError):
        Finding("nulls", "plan", "error", "skipped", "?")


@pytest.fixture
def yes_no_audit(upsell_with_reference, api_as, pipeline, django_capture_on_commit_callbacks):
    api = api_as(pipeline)
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(
            "/api/v1/audits/",
            {"model": "upsell", "name": "yes-no.csv", "file": SimpleUploadedFile("yes-no.csv", yes_no_batch())},
            format="multipart",
        )
    assert response.status_code == 202, response.content
    return api.get(f"/api/v1/audits/{response.json()['id']}/").json()


def correlation(findings):
    (finding,) = [f for f in findings if f["check"] == "target_correlation"]
    return finding


def test_a_yes_no_label_makes_the_correlation_check_not_checked_with_the_reason_in_the_api(yes_no_audit):
    finding = correlation(yes_no_audit["findings"])
    assert finding["status"] == "not_checked" and finding["column"] == "upgraded_90d"
    assert "not checked" in finding["message"] and "'yes'" in finding["message"]
    counts = yes_no_audit["counts"]
    assert counts["not_checked"] >= 1
    assert sum(counts.values()) == len(yes_no_audit["findings"])
    assert counts["pass"] == sum(f["status"] == "pass" for f in yes_no_audit["findings"])


def test_the_json_report_keeps_not_checked_apart(yes_no_audit, api_as, pipeline):
    body = api_as(pipeline).get(f"/api/v1/audits/{yes_no_audit['id']}/report.json").json()
    assert correlation(body["findings"])["status"] == "not_checked"
    assert body["counts"] == yes_no_audit["counts"]


def test_the_page_shows_a_not_checked_badge_outside_the_passed_checks(yes_no_audit, reviewer, client_as):
    html = client_as(reviewer).get(f"/audits/{yes_no_audit['id']}/").content.decode()
    section = re.search(r'<section aria-labelledby="not-checked-h">(.*?)</section>', html, re.S).group(1)
    assert f'Not checked <span class="count muted">{yes_no_audit["counts"]["not_checked"]}</span>' in section
    assert 'data-check="target_correlation"' in section and "status-not_checked" in section
    assert '<span class="tag not-checked">not checked</span>' in section
    passed = re.search(r'<section aria-labelledby="passed-h">(.*?)</section>', html, re.S)
    assert passed is None or 'data-check="target_correlation"' not in passed.group(1)


def test_the_audit_list_counts_not_checked_separately(yes_no_audit, reviewer, client_as):
    html = client_as(reviewer).get("/audits/").content.decode()
    assert '<th class="num">Not checked</th>' in html
    count = yes_no_audit["counts"]["not_checked"]
    assert f'<span class="count not-checked">{count}</span>' in html
