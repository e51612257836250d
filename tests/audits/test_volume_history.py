"""A feed's volume is judged against its own history: not before there is enough of it (5 earlier
batches), and with a tolerance as wide as the history's own variation (never narrower than the
suite's ratio limits). A batch ten times a steady feed's size still fails."""

from datetime import date

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from audits.engine import checks
from audits.engine.checks import verdict
from audits.engine.suite import Suite
from demo.batches import clean_batch, to_csv


def only(findings, check):
    found = [f for f in findings if f.check == check]
    assert len(found) == 1, [f.to_dict() for f in findings]
    return found[0]


def sizes(*rows):
    """(rows, bytes) of earlier batches, oldest first, at 80 bytes a row."""
    return [(r, 80 * r) for r in rows]


def test_a_100_row_batch_after_one_285_row_batch_is_not_checked_yet():
    findings = checks.volume_findings(100, 8_000, sizes(285), Suite())
    volume = only(findings, "volume")
    assert (volume.status, volume.severity) == ("not_checked", "info")
    assert volume.message == (
        "Volume not checked: not enough history: 1 of 5 batches "
        "(100 rows, 8,000 bytes; 0.35× the median of the last 1 batch (285))."
    )
    assert [f.check for f in findings] == ["volume"] and verdict(findings) == "pass"


def test_four_earlier_batches_are_still_not_enough():
    volume = only(checks.volume_findings(100, 8_000, sizes(285, 300, 290, 310), Suite()), "volume")
    assert volume.status == "not_checked" and "not enough history: 4 of 5 batches" in volume.message


def test_a_small_batch_of_a_feed_whose_size_varies_a_lot_passes():
    findings = checks.volume_findings(100, 8_000, sizes(285, 120, 400, 90, 310), Suite())
    volume = only(findings, "volume")
    assert volume.status == "pass" and volume.value == pytest.approx(100 / 285)
    assert "outside 0.50–2.00× but within the earlier batches' own variation" in volume.message
    assert volume.details["pvalue"] > 0.01
    assert verdict(findings) == "pass"


@pytest.mark.parametrize("rows", [10_000, 100])
def test_a_batch_ten_times_off_a_steady_feed_fails(rows):
    findings = checks.volume_findings(rows, 80 * rows, sizes(1_000, 1_020, 980, 1_010, 990), Suite())
    volume = only(findings, "volume")
    assert (volume.status, volume.severity) == ("fail", "error")
    assert volume.details["pvalue"] < 0.001
    assert only(findings, "volume_bytes").status == "warn"
    assert verdict(findings) == "fail"


def test_a_batch_30_percent_over_a_steady_feed_warns_within_the_ratio_limits():
    findings = checks.volume_findings(1_300, 104_000, sizes(1_000, 1_020, 980, 1_010, 990), Suite())
    assert only(findings, "volume").status == "pass"
    zscore = only(findings, "volume_zscore")
    assert zscore.status == "warn" and zscore.value > 3 and zscore.details["pvalue"] < 0.01


def test_the_audit_of_a_second_small_batch_says_there_is_not_enough_history(
    upsell_with_reference, api_as, pipeline, django_capture_on_commit_callbacks
):
    api = api_as(pipeline)
    audits = []
    for rows, seed in ((285, 1), (100, 2)):
        batch = clean_batch(
            rows, seed=seed, first_customer=100_000 * seed, start=date(2026, 10, 1), end=date(2026, 10, 31)
        )
        with django_capture_on_commit_callbacks(execute=True):
            response = api.post(
                "/api/v1/audits/",
                {"model": "upsell", "name": f"batch-{seed}.csv", "file": SimpleUploadedFile("b.csv", to_csv(batch))},
                format="multipart",
            )
        assert response.status_code == 202, response.content
        audits.append(api.get(f"/api/v1/audits/{response.json()['id']}/").json())
    volume = [f for f in audits[1]["findings"] if f["check"] == "volume"]
    assert [(f["status"], f["severity"]) for f in volume] == [("not_checked", "info")]
    assert "not enough history: 1 of 5 batches" in volume[0]["message"]
    assert not [f for f in audits[1]["findings"] if f["check"] == "volume" and f["status"] == "fail"]
