"""Serving systems send their prediction logs in bulk; Keel keeps them whole or not at all, never
twice, and forgets a person who asks to be erased — in the logs and in the audits that quote them."""

from datetime import UTC, date, datetime, timedelta

import numpy as np
import pytest
from django.db import IntegrityError, transaction

from audits import services
from audits.models import AuditJob, ErasedEntity, Finding, PredictionLog
from demo.batches import clean_batch
from demo.serving import serving_records
from demo.training import feature_schema
from registry import services as registry_services
from registry.models import TaskType
from registry.services.catalog import alias_point
from tests.audits.factories import AuditJobFactory, FindingFactory

NOW = datetime.now(UTC).replace(microsecond=0)


def records(n, *, seed=5, prefix="req", **kwargs):
    frame = clean_batch(n, start=date(2026, 10, 1), end=date(2026, 10, 31), seed=seed, first_customer=500)
    scores = np.random.default_rng(seed).uniform(0, 1, n)
    return serving_records(
        frame,
        scores,
        version=1,
        start=NOW - timedelta(hours=2),
        every=timedelta(seconds=1),
        request_prefix=prefix,
        **kwargs,
    )


@pytest.fixture
def upsell(db, reviewer, pipeline):
    model = registry_services.model_create(name="upsell", task_type=TaskType.BINARY, owner=reviewer)
    version = registry_services.version_create(
        model=model, actor=pipeline, feature_schema=feature_schema(), decision_threshold=0.2
    )
    alias_point(model=model, alias="production", version=version, actor=reviewer, reason="first model")
    return model


def post(api, payload):
    return api.post("/api/v1/predictions/", payload, format="json")


def test_a_serving_system_logs_a_batch_of_predictions(upsell, api_as, pipeline):
    response = post(api_as(pipeline), {"model": "upsell", "records": records(50)})
    assert response.status_code == 201, response.content
    assert response.json() == {"received": 50, "stored": 50, "already_logged": 0, "anonymised": 0}
    logged = PredictionLog.objects.get(request_id="req-3")
    assert logged.version.version == 1 and logged.entity_id.startswith("C")
    assert set(logged.features) == {"plan", "country", "event_type", "meeting_minutes", "attendees"}


def test_resending_a_batch_after_a_timeout_stores_nothing_twice(upsell, api_as, pipeline):
    api = api_as(pipeline)
    post(api, {"model": "upsell", "records": records(30)})
    response = post(api, {"model": "upsell", "records": records(40)})
    assert response.json() == {"received": 40, "stored": 10, "already_logged": 30, "anonymised": 0}
    assert PredictionLog.objects.count() == 40


def test_one_bad_record_stores_nothing_and_names_the_record(upsell, api_as, pipeline):
    batch = records(20)
    batch[7]["version"] = 9
    batch[12]["predicted_at"] = (NOW + timedelta(days=1)).isoformat()
    response = post(api_as(pipeline), {"model": "upsell", "records": batch})
    assert response.status_code == 400
    detail = response.json()["detail"]
    assert "no version 9" in detail["records[7].version"][0]
    assert "future" in detail["records[12].predicted_at"][0]
    assert PredictionLog.objects.count() == 0


def test_malformed_records_get_field_errors(upsell, api_as, pipeline):
    batch = records(3)
    del batch[1]["features"]
    batch[2]["score"] = "high"
    response = post(api_as(pipeline), {"model": "upsell", "records": batch})
    assert response.status_code == 400
    assert "features" in str(response.json()["detail"]) and "score" in str(response.json()["detail"])
    assert PredictionLog.objects.count() == 0


def test_a_record_without_any_output_is_refused(upsell, api_as, pipeline):
    batch = records(2)
    batch[0]["score"] = None
    response = post(api_as(pipeline), {"model": "upsell", "records": batch})
    assert response.status_code == 400 and "records[0].score" in response.json()["detail"]


def test_too_many_records_in_one_request_are_refused(upsell, api_as, pipeline, settings):
    settings.KEEL_MAX_PREDICTIONS_PER_REQUEST = 10
    response = post(api_as(pipeline), {"model": "upsell", "records": records(11)})
    assert response.status_code == 400 and "limit is 10" in response.json()["message"]


@pytest.mark.parametrize(
    "actor, status", [("pipeline", 201), ("reviewer", 403), ("agent", 403), ("labeller", 403), ("outsider", 403)]
)
def test_who_may_send_serving_logs(upsell, api_as, request, actor, status):
    response = post(api_as(request.getfixturevalue(actor)), {"model": "upsell", "records": records(2)})
    assert response.status_code == status


@pytest.mark.parametrize(
    "actor, status", [("reviewer", 200), ("agent", 200), ("pipeline", 403), ("labeller", 403), ("outsider", 403)]
)
def test_who_may_read_serving_logs(upsell, api_as, request, actor, status):
    # Logs hold personal data: the people who explain decisions read them, pipelines only write.
    assert api_as(request.getfixturevalue(actor)).get("/api/v1/predictions/?entity_id=C000501").status_code == status


def test_anonymous_cannot_send_logs(upsell, anonymous_api):
    assert post(anonymous_api, {"model": "upsell", "records": records(1)}).status_code in (401, 403)


def test_support_finds_a_customers_latest_prediction(upsell, api_as, pipeline, agent):
    post(api_as(pipeline), {"model": "upsell", "records": records(20)})
    body = api_as(agent).get("/api/v1/predictions/?entity_id=C000505").json()
    assert [r["request_id"] for r in body["results"]] == ["req-5"]


def test_a_blank_until_filter_on_serving_logs_is_refused(upsell, api_as, agent):
    response = api_as(agent).get("/api/v1/predictions/?until=")
    assert response.status_code == 400 and list(response.json()["detail"]) == ["until"]


# --- privacy erasure ---------------------------------------------------------------------------


def test_erasure_empties_the_persons_logs_and_keeps_the_aggregate(upsell, api_as, pipeline):
    post(api_as(pipeline), {"model": "upsell", "records": records(20)})
    counts = services.entity_erase(entity_id="C000505")
    assert counts["predictions"] == 1
    erased = PredictionLog.objects.get(request_id="req-5")
    assert (erased.entity_id, erased.features, erased.raw_features) == ("", {}, {})
    assert erased.score is not None and erased.erased_at is not None  # monitoring still counts it
    assert not PredictionLog.objects.filter(entity_id="C000505").exists()
    assert ErasedEntity.objects.get(entity_id="C000505").counts["predictions"] == 1


def test_later_logs_about_an_erased_person_arrive_anonymised(upsell, api_as, pipeline):
    services.entity_erase(entity_id="C000505")
    response = post(api_as(pipeline), {"model": "upsell", "records": records(20)})
    assert response.json()["anonymised"] == 1
    assert PredictionLog.objects.get(request_id="req-5").features == {}


def test_erasure_reaches_audit_findings_and_profiles(upsell, pipeline, media):
    job = _finished_job(upsell, upsell.versions.get(), pipeline)
    FindingFactory(
        job=job,
        check_name="duplicates",
        column="customer_id",
        severity="error",
        status="fail",
        message="2 duplicate ids, e.g. C000505",
        details={"examples": ["C000505", "C000777"]},
    )
    counts = services.entity_erase(entity_id="C000505")
    assert counts == {"predictions": 0, "audit_profiles": 1, "findings": 1}
    finding = Finding.objects.get()
    assert "C000505" not in finding.message and finding.details["examples"] == ["[erased]", "C000777"]
    assert finding.status == "fail" and finding.redacted_at is not None  # the verdict stands
    job.refresh_from_db()
    assert "C000505" not in str(job.profile)


def test_findings_stay_append_only_outside_a_redaction(upsell, pipeline, media):
    job = _finished_job(upsell, upsell.versions.get(), pipeline)
    finding = FindingFactory(
        job=job, check_name="drift", column="plan", severity="warning", status="warn", message="drifted"
    )
    with pytest.raises(IntegrityError, match="append-only"), transaction.atomic():
        Finding.objects.filter(pk=finding.pk).update(status="pass")
    with pytest.raises(IntegrityError, match="append-only"), transaction.atomic():  # not even with the redaction mark
        Finding.objects.filter(pk=finding.pk).update(status="pass", redacted_at=NOW)


def _finished_job(model, version, actor) -> AuditJob:
    from django.core.files.uploadedfile import SimpleUploadedFile

    batch = services.batch_register(
        model=model,
        actor=actor,
        name="b",
        format="csv",
        uploaded=SimpleUploadedFile("b.csv", b"customer_id\nC000505\n"),
    )
    return AuditJobFactory(
        model=model,
        version=version,
        batch=batch,
        created_by=actor,
        state="succeeded",
        verdict="fail",
        profile={"columns": {"customer_id": {"kind": "id", "duplicate_examples": ["C000505"]}}},
    )


def test_erasure_needs_an_id(db):
    from mlops.errors import ApplicationError

    with pytest.raises(ApplicationError):
        services.entity_erase(entity_id="  ")


def test_the_database_refuses_an_erased_row_that_still_names_someone(upsell, api_as, pipeline):
    post(api_as(pipeline), {"model": "upsell", "records": records(1)})
    with pytest.raises(IntegrityError), transaction.atomic():
        PredictionLog.objects.update(erased_at=NOW)
