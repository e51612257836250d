"""A batch or a training reference holding values at the edge of the float range (1e155, ±1.7e308),
infinities and NaN spelled out in a CSV is profiled, reported by a warning that names the column and
the counts, and stored as valid JSON: a statistic beyond the float range is null with its reason,
never a NaN or Infinity token."""

import json
import math

import numpy as np
import pandas as pd
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from audits.engine import checks
from audits.engine.profile import M2_OVERFLOW, merge_profiles, profile_frame, reference_edges, without_kept_values
from audits.engine.suite import Suite
from audits.models import AuditJob, AuditState, Finding, ReferenceProfile
from demo.batches import clean_batch, to_csv
from tests.audits.reference_scenario import training_reference_build, upsell_in_production, upsell_training

SMALL = 300


def strict_json(value) -> object:
    """The value through JSON and back, refusing NaN and Infinity tokens both ways."""

    def refuse(token):
        raise ValueError(f"not JSON: {token}")

    return json.loads(json.dumps(value, allow_nan=False), parse_constant=refuse)


def stored_strictly(text: str):
    def refuse(token):
        raise ValueError(f"not JSON: {token}")

    return json.loads(text, parse_constant=refuse)


def batch_with(minutes: list, *, rows=SMALL, seed=21) -> pd.DataFrame:
    from datetime import date

    batch = clean_batch(rows, start=date(2026, 10, 1), end=date(2026, 10, 31), seed=seed, first_customer=100_000)
    batch["meeting_minutes"] = batch["meeting_minutes"].astype(object)
    for i, value in enumerate(minutes):
        batch.loc[i, "meeting_minutes"] = value
    return batch


@pytest.fixture
def upsell_small_reference(db, media, reviewer, pipeline, django_capture_on_commit_callbacks):
    model, version = upsell_in_production(reviewer, pipeline)
    training_reference_build(model, version, pipeline, upsell_training(SMALL), django_capture_on_commit_callbacks)
    return model


def send(api_as, pipeline, content: bytes, capture) -> AuditJob:
    with capture(execute=True):
        response = api_as(pipeline).post(
            "/api/v1/audits/",
            {"model": "upsell", "name": "batch.csv", "file": SimpleUploadedFile("batch.csv", content)},
            format="multipart",
        )
    assert response.status_code == 202, response.content
    return AuditJob.objects.get(pk=response.json()["id"])


def raw_profile(model, pk) -> str:
    """The profile column as the database holds it (text), not as the JSONField decodes it."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"SELECT profile FROM {model._meta.db_table} WHERE id = %s", [pk])
        return cursor.fetchone()[0]


def extreme_finding(job) -> Finding:
    return job.findings.get(check_name="extreme_values", column="meeting_minutes")


def test_a_batch_with_one_value_of_1e155_is_audited_and_the_warning_names_the_column(
    upsell_small_reference, api_as, pipeline, django_capture_on_commit_callbacks
):
    job = send(api_as, pipeline, to_csv(batch_with([1e155])), django_capture_on_commit_callbacks)

    assert job.state == AuditState.SUCCEEDED, job.error
    column = stored_strictly(raw_profile(AuditJob, job.pk))["columns"]["meeting_minutes"]
    # PostgreSQL's jsonb keeps numbers as exact decimals: 1e155 reads back as the integer 10**155.
    assert column["extreme"] == 1 and float(column["max"]) == 1e155
    assert math.isfinite(column["mean"])  # scaled before summing
    assert column["m2"] is None and column["null_reasons"] == {"m2": M2_OVERFLOW}  # (1e155)² > 1.8e308
    finding = extreme_finding(job)
    assert (finding.status, finding.severity) == ("warn", "warning")
    assert "meeting_minutes has 1 extreme" in finding.message
    assert finding.details["extreme"] == 1 and finding.details["non_finite"] == 0
    for f in job.findings.all():
        strict_json({"value": f.value, "threshold": f.threshold, "details": f.details})


def test_a_training_reference_with_1e155_is_built(db, media, reviewer, pipeline, django_capture_on_commit_callbacks):
    model, version = upsell_in_production(reviewer, pipeline)
    training = upsell_training(SMALL)
    training.loc[5, "meeting_minutes"] = 1e155
    training_reference_build(model, version, pipeline, training, django_capture_on_commit_callbacks)

    reference = ReferenceProfile.objects.get(version=version)
    column = stored_strictly(raw_profile(ReferenceProfile, reference.pk))["columns"]["meeting_minutes"]
    assert column["extreme"] == 1 and float(column["max"]) == 1e155
    assert all(math.isfinite(e) for e in column["edges"] + column["psi_edges"])


def test_values_at_the_float_limit_and_infinities_spelled_in_a_csv_are_counted(
    upsell_small_reference, api_as, pipeline, django_capture_on_commit_callbacks
):
    csv = to_csv(batch_with([1.7e308, -1.7e308, 1.7e308, 1.7e308]))
    lines = csv.decode().splitlines()
    header = lines[0].split(",")
    at = header.index("meeting_minutes")
    for i, spelled in enumerate(["inf", "-inf", "nan", "Infinity", "-Infinity"], start=5):
        cells = lines[i].split(",")
        cells[at] = spelled
        lines[i] = ",".join(cells)
    job = send(api_as, pipeline, ("\n".join(lines) + "\n").encode(), django_capture_on_commit_callbacks)

    assert job.state == AuditState.SUCCEEDED, job.error
    column = stored_strictly(raw_profile(AuditJob, job.pk))["columns"]["meeting_minutes"]
    assert (column["non_finite"], column["extreme"], column["non_numeric"]) == (4, 4, 0)
    assert column["nulls"] == 1  # pandas reads a "nan" cell as a missing value
    assert (float(column["min"]), float(column["max"])) == (-1.7e308, 1.7e308)
    assert column["m2"] is None and column["null_reasons"] == {"m2": M2_OVERFLOW}
    assert math.isfinite(column["mean"])
    finding = extreme_finding(job)
    assert finding.status == "warn"
    assert "4 non-finite (inf, -inf or NaN) and 4 extreme" in finding.message
    assert finding.details["null_statistics"] == {"m2": M2_OVERFLOW}
    type_mismatch = job.findings.get(check_name="type_mismatch", column="meeting_minutes")
    assert type_mismatch.status == "pass"  # infinities are numbers, reported as extreme, not as text

    api = api_as(pipeline)
    for url in (f"/api/v1/audits/{job.pk}/", f"/api/v1/audits/{job.pk}/report.json"):
        response = api.get(url)
        assert response.status_code == 200
        body = stored_strictly(b"".join(response).decode() if response.streaming else response.content.decode())
        report = next(f for f in body["findings"] if f["check"] == "extreme_values")
        assert report["column"] == "meeting_minutes" and report["details"]["non_finite"] == 4


def spec(name="x"):
    from audits.engine.columns import ColumnSpec

    return [ColumnSpec(name=name, kind="numeric")]


def test_a_heavy_tailed_column_with_one_extreme_value_keeps_its_moments_and_merges_exactly():
    rng = np.random.default_rng(3)
    x = rng.lognormal(0, 2, 2000)
    x[17] = 1e150  # its square (1e300) still fits: the moments stay, computed on scaled values
    edges = {"x": reference_edges(x)}
    whole = profile_frame(pd.DataFrame({"x": x}), spec(), edges=edges)
    parts = [profile_frame(pd.DataFrame({"x": part}), spec(), edges=edges) for part in (x[:700], x[700:])]
    merged = merge_profiles(*parts)

    column, merged_column = whole["columns"]["x"], merged["columns"]["x"]
    assert column["extreme"] == merged_column["extreme"] == 1
    assert column["mean"] == pytest.approx(np.mean(x / 1e150) * 1e150, rel=1e-12)
    assert column["m2"] == pytest.approx(merged_column["m2"], rel=1e-9)
    assert merged_column["mean"] == pytest.approx(column["mean"], rel=1e-12)
    strict_json(without_kept_values(whole))  # as stored: kept values live beside the JSON
    strict_json(without_kept_values(merged))
    finding = next(f for f in checks.quality_findings(whole, whole, Suite()) if f.check == "extreme_values")
    assert finding.status == "warn" and finding.column == "x"
    assert finding.details["extreme"] == 1 and finding.details["reference_extreme"] == 1


def test_values_at_both_float_limits_merge_without_overflow():
    x = np.array([1.7e308, 1.0, -1.7e308, 2.0])
    edges = {"x": reference_edges(x)}
    parts = [profile_frame(pd.DataFrame({"x": part}), spec(), edges=edges) for part in (x[:1], x[1:])]
    merged = merge_profiles(*parts)["columns"]["x"]
    assert merged["m2"] is None and merged["null_reasons"] == {"m2": M2_OVERFLOW}
    assert math.isfinite(merged["mean"])
    strict_json({k: v for k, v in merged.items() if k != "values"})  # as stored: values live beside it


def test_ordinary_data_raises_no_extreme_value_warning():
    rng = np.random.default_rng(4)
    frame = pd.DataFrame({"x": rng.pareto(1.5, 5000) * 1e6})
    profile = profile_frame(frame, spec(), edges={"x": reference_edges(frame["x"].to_numpy())})
    assert "null_reasons" not in profile["columns"]["x"]
    finding = next(f for f in checks.quality_findings(profile, profile, Suite()) if f.check == "extreme_values")
    assert finding.status == "pass"


def test_a_small_batch_is_compared_on_its_values_but_the_stored_audit_does_not_keep_them(
    upsell_small_reference, api_as, pipeline, django_capture_on_commit_callbacks
):
    job = send(api_as, pipeline, to_csv(batch_with([])), django_capture_on_commit_callbacks)

    assert job.state == AuditState.SUCCEEDED, job.error
    drift = job.findings.get(check_name="drift", column="meeting_minutes")
    assert drift.details["exact"] is True  # KS and Wasserstein on the values, as scipy computes them
    stored = stored_strictly(raw_profile(AuditJob, job.pk))["columns"]
    assert not [name for name, column in stored.items() if "values" in column]
    report = api_as(pipeline).get(f"/api/v1/audits/{job.pk}/report.json").json()
    assert "values" not in report["profile"]["columns"]["meeting_minutes"]
    reference = ReferenceProfile.objects.get(version__model=job.model)
    # Later audits compare on the reference's values, kept in a file of their own rather than its JSON.
    assert "values" not in reference.profile["columns"]["meeting_minutes"]
    assert "meeting_minutes" in reference.profile["kept_values"]["columns"]
