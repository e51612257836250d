"""Hostile batches end as a failed audit with the reason, or as an audit whose findings and profile
stay small: a header of one million columns, a column named twice, a 5 MB value in one cell."""

import json
from datetime import date

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from audits.models import AuditJob
from demo.batches import clean_batch, to_csv

OCTOBER = dict(start=date(2026, 10, 1), end=date(2026, 10, 31))
MILLION_A = b",".join([b"a"] * 1_000_000) + b"\n" + b",".join([b"1"] * 1_000_000) + b"\n"


@pytest.fixture
def pipeline_api(api_as, pipeline):
    return api_as(pipeline)


def send(api, content: bytes, *, capture, name="batch.csv"):
    with capture(execute=True):
        response = api.post(
            "/api/v1/audits/",
            {"model": "upsell", "name": name, "file": SimpleUploadedFile(name, content)},
            format="multipart",
        )
    assert response.status_code == 202, response.content
    return api.get(f"/api/v1/audits/{response.json()['id']}/")


@pytest.mark.parametrize(
    "content,name,reason",
    [
        (MILLION_A, "batch.csv", "The header has 1,000,000 columns; the limit is 2,000."),
        (json.dumps({f"k{i}": 1 for i in range(1_000_000)}).encode() + b"\n", "batch.jsonl", "1,000,000 columns"),
        (b"customer_id,plan,country,plan\nC1,free,NL,pro\n", "batch.csv", "Column 'plan' appears 2 times"),
    ],
)
def test_a_hostile_header_fails_the_audit_with_the_reason(
    upsell_with_reference, pipeline_api, django_capture_on_commit_callbacks, content, name, reason
):
    audit = send(pipeline_api, content, name=name, capture=django_capture_on_commit_callbacks).json()
    assert audit["state"] == "failed" and reason in audit["error"]


def test_the_column_limit_is_a_setting(
    upsell_with_reference, pipeline_api, django_capture_on_commit_callbacks, settings
):
    settings.KEEL_MAX_COLUMNS = 5
    batch = clean_batch(200, seed=21, first_customer=100_000, **OCTOBER)
    audit = send(pipeline_api, to_csv(batch), capture=django_capture_on_commit_callbacks).json()
    assert audit["state"] == "failed"
    assert f"The header has {len(batch.columns)} columns; the limit is 5." in audit["error"]


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_a_5_mb_value_reaches_no_finding_profile_or_response_whole(
    upsell_with_reference, pipeline_api, django_capture_on_commit_callbacks, fmt
):
    batch = clean_batch(500, seed=22, first_customer=100_000, **OCTOBER)
    batch["event_type"] = batch["event_type"].astype(object)
    batch.loc[0, "event_type"] = "x" * 5_000_000
    batch.loc[1, "customer_id"] = batch.loc[2, "customer_id"] = "c" * 5_000_000
    if fmt == "csv":
        content = to_csv(batch)
    else:
        content = batch.to_json(orient="records", lines=True, date_format="iso").encode()
    response = send(pipeline_api, content, name=f"batch.{fmt}", capture=django_capture_on_commit_callbacks)
    audit = response.json()
    assert audit["state"] == "succeeded", audit.get("error")
    assert len(response.content) < 200_000
    job = AuditJob.objects.get(pk=audit["id"])
    assert len(json.dumps(job.profile)) < 200_000
    assert all(len(f.message) < 2_000 and len(json.dumps(f.details)) < 20_000 for f in job.findings.all())
    # Cut to KEEL_MAX_CELL_CHARS as the file was read (and said so), then clipped where the profile quotes it.
    cut = "…(9,825 more bytes)"  # the 9,800 characters past 200 of the cut value and its 25-byte marker
    assert any(key == "x" * 200 + cut for key in job.profile["columns"]["event_type"]["counts"])
    assert job.profile["columns"]["customer_id"]["duplicate_examples"] == ["c" * 200 + cut]
    assert job.profile["cut_cells"] == {
        "customer_id": {"cells": 2, "longest": 5_000_000, "limit": 10_000},
        "event_type": {"cells": 1, "longest": 5_000_000, "limit": 10_000},
    }
