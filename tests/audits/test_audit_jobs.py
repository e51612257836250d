"""Pipelines send batches; Keel audits each against the training reference as a background job and
answers pass / warn / fail with findings a person can act on. Bad files end as failed audits with
the reason, never a stuck job or a 500."""

import hashlib
import hmac
from datetime import date

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from audits import services
from audits.models import Alert, AlertState, AuditJob, AuditState, Finding, ReferenceProfile
from demo.batches import FLIPPED_DATE_FORMAT, clean_batch, festival_batch, shifted_batch, to_csv

OCTOBER = dict(start=date(2026, 10, 1), end=date(2026, 10, 31))


def october_csv(rows: int, *, seed: int) -> bytes:
    """A clean batch of October signups (customers from 100,000 on), as a CSV file's bytes."""
    return to_csv(clean_batch(rows, seed=seed, first_customer=100_000, **OCTOBER))


def send(api, content: bytes, *, capture, name="batch.csv", **extra):
    with capture(execute=True):
        response = api.post(
            "/api/v1/audits/",
            {"model": "upsell", "name": name, "file": SimpleUploadedFile(name, content), **extra},
            format="multipart",
        )
    assert response.status_code == 202, response.content
    return api.get(f"/api/v1/audits/{response.json()['id']}/").json()


def failing(audit, check=None):
    return [f for f in audit["findings"] if f["status"] == "fail" and (check is None or f["check"] == check)]


@pytest.fixture
def pipeline_api(api_as, pipeline):
    return api_as(pipeline)


def test_the_training_reference_and_a_suggested_suite_are_built(upsell_with_reference):
    reference = ReferenceProfile.objects.get(version__version=1)
    assert reference.rows == 6000
    assert reference.profile["columns"]["meeting_minutes"]["kind"] == "numeric"
    assert reference.profile["columns"]["event_type"]["kind"] == "categorical"
    assert upsell_with_reference.audit_suite.suite  # suggested from the reference


def test_a_clean_batch_passes(upsell_with_reference, pipeline_api, django_capture_on_commit_callbacks):
    batch = clean_batch(3000, seed=12, first_customer=100_000, **OCTOBER)
    audit = send(pipeline_api, to_csv(batch), capture=django_capture_on_commit_callbacks)
    assert audit["state"] == "succeeded"
    assert audit["verdict"] in ("pass", "warn"), failing(audit)
    assert not failing(audit)
    assert (audit["rows_done"], audit["rows_total"], audit["progress"]) == (3000, 3000, 1.0)


def test_a_new_event_type_is_named_in_the_findings(
    upsell_with_reference, pipeline_api, django_capture_on_commit_callbacks
):
    batch = festival_batch(3000, seed=13, first_customer=100_000, **OCTOBER)
    audit = send(pipeline_api, to_csv(batch), capture=django_capture_on_commit_callbacks)
    messages = " ".join(
        f["message"] for f in audit["findings"] if f["column"] == "event_type" and f["status"] != "pass"
    )
    assert "festival" in messages
    assert audit["verdict"] in ("warn", "fail")


def test_a_shifted_numeric_column_drifts_by_effect_size(
    upsell_with_reference, pipeline_api, django_capture_on_commit_callbacks
):
    batch = shifted_batch(3000, seed=14, first_customer=100_000, **OCTOBER)
    audit = send(pipeline_api, to_csv(batch), capture=django_capture_on_commit_callbacks)
    drift = [f for f in audit["findings"] if f["column"] == "meeting_minutes" and f["status"] != "pass"]
    assert drift, audit["findings"]
    details = next(f["details"] for f in drift if "psi" in f["details"])
    assert details["psi"] > 0.25 and details["ks_pvalue"] < 0.001
    assert audit["verdict"] == "fail"


def test_a_date_format_flip_is_caught(upsell_with_reference, pipeline_api, django_capture_on_commit_callbacks):
    batch = clean_batch(3000, seed=15, first_customer=100_000, **OCTOBER)
    audit = send(
        pipeline_api, to_csv(batch, date_format=FLIPPED_DATE_FORMAT), capture=django_capture_on_commit_callbacks
    )
    flagged = [f for f in audit["findings"] if f["column"] == "signup_date" and f["status"] != "pass"]
    assert flagged, audit["findings"]
    assert any("%m-%d-%Y" in f["message"] or "format" in f["message"].lower() for f in flagged)


def test_a_missing_column_fails_the_audit_and_names_it(
    upsell_with_reference, pipeline_api, django_capture_on_commit_callbacks
):
    batch = clean_batch(2000, seed=16, first_customer=100_000, **OCTOBER).drop(columns=["country"])
    audit = send(pipeline_api, to_csv(batch), capture=django_capture_on_commit_callbacks)
    assert audit["verdict"] == "fail"
    assert any("country" in f["message"] for f in failing(audit))


@pytest.mark.parametrize(
    "content,reason",
    [
        (b"", "empty"),
        ("customer_id,plan\nC1,fr\xe9e\n".encode("latin-1"), "offset 22"),
        (b"customer_id,signup_date,plan,country,event_type,meeting_minutes,attendees,upgraded_90d\n", "no rows"),
    ],
)
def test_a_file_that_cannot_be_audited_fails_with_the_reason(
    upsell_with_reference, pipeline_api, content, reason, django_capture_on_commit_callbacks
):
    audit = send(pipeline_api, content, capture=django_capture_on_commit_callbacks)
    assert audit["state"] == "failed" and audit["verdict"] == ""
    assert reason in audit["error"]
    assert not Finding.objects.filter(job_id=audit["id"]).exists()


def test_garbage_parquet_fails_with_the_reason(upsell_with_reference, pipeline_api, django_capture_on_commit_callbacks):
    audit = send(
        pipeline_api, b"PAR1 this is not parquet", name="batch.parquet", capture=django_capture_on_commit_callbacks
    )
    assert audit["state"] == "failed" and "parquet" in audit["error"].lower()


def test_an_oversized_upload_is_refused_before_anything_is_stored(upsell_with_reference, pipeline_api, settings):
    settings.KEEL_MAX_BATCH_BYTES = 100
    response = pipeline_api.post(
        "/api/v1/audits/", {"model": "upsell", "file": SimpleUploadedFile("b.csv", b"x" * 500)}, format="multipart"
    )
    assert response.status_code == 413 and "limit is 100 bytes" in response.json()["detail"]["file"][0]
    assert not AuditJob.objects.filter(kind="batch").exists()


def test_tampering_is_caught_by_sha256_and_signature(
    upsell_with_reference, pipeline_api, settings, django_capture_on_commit_callbacks
):
    settings.KEEL_BATCH_HMAC_KEY = "shared-secret"
    content = october_csv(1000, seed=17)
    honest = hmac.new(b"shared-secret", content, hashlib.sha256).hexdigest()
    claimed = {"sha256": hashlib.sha256(content).hexdigest(), "signature": honest}  # what the sender says it sent
    good = send(pipeline_api, content, capture=django_capture_on_commit_callbacks, **claimed)
    assert not failing(good, "integrity")
    tampered = content.replace(b"free", b"pro!", 1)
    bad = send(pipeline_api, tampered, capture=django_capture_on_commit_callbacks, **claimed)
    assert len(failing(bad, "integrity")) == 2 and bad["verdict"] == "fail"


def test_repeated_failures_keep_one_alert_until_a_clean_batch_resolves_it(
    upsell_with_reference, pipeline_api, django_capture_on_commit_callbacks, mailoutbox
):
    from registry.models import ChannelKind, NotificationChannel

    NotificationChannel.objects.create(name="on-call", kind=ChannelKind.EMAIL, target="oncall@soom.example")
    for seed in (20, 21):
        send(
            pipeline_api,
            to_csv(shifted_batch(2000, seed=seed, first_customer=100_000, **OCTOBER)),
            capture=django_capture_on_commit_callbacks,
        )
    alert = Alert.objects.get(column="meeting_minutes", state=AlertState.OPEN)
    assert alert.occurrences == 2
    assert sum("meeting_minutes" in m.subject for m in mailoutbox) == 1  # one page for one incident
    send(pipeline_api, october_csv(2000, seed=22), capture=django_capture_on_commit_callbacks)
    alert.refresh_from_db()
    assert alert.state == AlertState.RESOLVED


def test_rerunning_a_finished_audit_changes_nothing(
    upsell_with_reference, pipeline_api, django_capture_on_commit_callbacks
):
    audit = send(pipeline_api, october_csv(1000, seed=23), capture=django_capture_on_commit_callbacks)
    before = Finding.objects.filter(job_id=audit["id"]).count()
    job = services.audit_run(job_id=audit["id"])
    assert job.state == AuditState.SUCCEEDED and Finding.objects.filter(job_id=audit["id"]).count() == before


def test_the_json_report_downloads_with_the_profile(
    upsell_with_reference, pipeline_api, django_capture_on_commit_callbacks
):
    audit = send(pipeline_api, october_csv(1000, seed=24), capture=django_capture_on_commit_callbacks)
    report = pipeline_api.get(f"/api/v1/audits/{audit['id']}/report.json")
    assert report.status_code == 200 and "attachment" in report["Content-Disposition"]
    body = report.json()
    assert body["verdict"] == audit["verdict"] and body["profile"]["rows"] == 1000


def test_who_may_audit(
    upsell_with_reference, api_as, agent, labeller, anonymous_api, django_capture_on_commit_callbacks
):
    content = october_csv(500, seed=25)
    for actor in (agent, labeller):
        response = api_as(actor).post(
            "/api/v1/audits/", {"model": "upsell", "file": SimpleUploadedFile("b.csv", content)}, format="multipart"
        )
        assert response.status_code == 403
        assert api_as(actor).get("/api/v1/audits/").status_code == 403  # audits are read by reviewers and pipelines
    assert anonymous_api.get("/api/v1/audits/").status_code == 401


def test_auditing_needs_a_reference(db, media, pipeline_api, reviewer, pipeline):
    from registry import services as registry_services
    from registry.models import TaskType

    model = registry_services.model_create(name="upsell", task_type=TaskType.BINARY, owner=reviewer)
    registry_services.version_create(model=model, actor=pipeline)
    response = pipeline_api.post(
        "/api/v1/audits/",
        {"model": "upsell", "version": 1, "file": SimpleUploadedFile("b.csv", b"a,b\n1,2\n")},
        format="multipart",
    )
    assert response.status_code == 409 and "no training reference" in response.json()["detail"]["version"][0]
    assert not AuditJob.objects.exists()


def test_the_promotion_gate_cites_the_audit_of_the_same_bytes(
    upsell_with_reference, pipeline_api, pipeline, django_capture_on_commit_callbacks
):
    from registry import selectors as registry_selectors
    from registry import services as registry_services

    content = october_csv(1000, seed=26)
    audit = send(pipeline_api, content, capture=django_capture_on_commit_callbacks)
    uploaded = SimpleUploadedFile("october.csv", content)  # the bytes just audited
    holdout = registry_services.holdout_register(
        model=upsell_with_reference, actor=pipeline, name="october", label_column="upgraded_90d", uploaded=uploaded
    )
    status = registry_selectors.audit_status_for_holdout(holdout)
    assert status["status"] == audit["verdict"] and status["audit_id"] == audit["id"]
