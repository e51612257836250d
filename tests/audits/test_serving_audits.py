"""A reviewer audits what the model actually saw in serving against what it learned from: features
that disappeared, features processing broke, and predictions that drift before any label arrives."""

from datetime import UTC, date, datetime, timedelta

import numpy as np
import pytest

from audits.models import AuditJob, BatchPurpose
from demo.batches import clean_batch
from demo.serving import serving_records
from tests.audits.reference_scenario import training_reference_build, upsell_in_production, upsell_training

NOW = datetime.now(UTC).replace(microsecond=0)


def log(api, n, *, seed=21, scores=None, **kwargs):
    frame = clean_batch(n, start=date(2026, 10, 1), end=date(2026, 10, 31), seed=seed, first_customer=300_000)
    if scores is None:
        scores = np.random.default_rng(seed).beta(1.2, 6, n)
    records = serving_records(
        frame, scores, version=1, start=NOW - timedelta(hours=3), every=timedelta(seconds=2), **kwargs
    )
    for start in range(0, n, 2000):
        response = api.post(
            "/api/v1/predictions/", {"model": "upsell", "records": records[start : start + 2000]}, format="json"
        )
        assert response.status_code == 201, response.content


def audit(api, capture, **window):
    with capture(execute=True):
        response = api.post("/api/v1/models/upsell/serving-audits", window, format="json")
    assert response.status_code == 202, response.content
    return api.get(f"/api/v1/audits/{response.json()['id']}/").json()


def statuses(report, check):
    return {f["column"]: f["status"] for f in report["findings"] if f["check"] == check}


@pytest.fixture
def apis(upsell_with_reference, api_as, pipeline, reviewer):
    return api_as(pipeline), api_as(reviewer)


def test_healthy_serving_matches_training(apis, django_capture_on_commit_callbacks):
    sender, reviewer = apis
    log(sender, 3000)
    report = audit(reviewer, django_capture_on_commit_callbacks)
    assert report["state"] == "succeeded", report["error"]
    assert AuditJob.objects.get(kind="batch").batch.purpose == BatchPurpose.SERVING
    assert set(statuses(report, "skew_nulls").values()) == {"pass"}
    assert "fail" not in statuses(report, "skew_drift").values()
    assert not [f for f in report["findings"] if f["check"] == "volume"]  # serving windows are not batches


def test_a_feature_serving_stopped_sending_fails_the_audit(apis, django_capture_on_commit_callbacks):
    sender, reviewer = apis
    log(sender, 3000, missing_features=("attendees",))
    report = audit(reviewer, django_capture_on_commit_callbacks)
    assert report["verdict"] == "fail"
    missing = [f for f in report["findings"] if f["column"] == "attendees" and f["status"] == "fail"]
    assert missing and "attendees" in missing[0]["message"]


def test_processing_that_nulls_a_feature_is_named(apis, django_capture_on_commit_callbacks):
    sender, reviewer = apis
    log(sender, 3000, dropped_by_processing="meeting_minutes")
    report = audit(reviewer, django_capture_on_commit_callbacks)
    assert statuses(report, "skew_nulls")["meeting_minutes"] == "fail"  # disappearing data
    dropped = [f for f in report["findings"] if f["check"] == "skew_processing" and f["column"] == "meeting_minutes"]
    assert dropped and dropped[0]["status"] == "fail" and "meeting_minutes" in dropped[0]["message"]
    # One finding per fact: not also a quality "nulls" failure, nor a schema failure for the ids.
    assert not [f for f in report["findings"] if f["check"] in ("nulls", "schema") and f["status"] == "fail"]


def test_an_empty_window_is_a_clear_error(apis):
    _, reviewer = apis
    response = reviewer.post("/api/v1/models/upsell/serving-audits", {}, format="json")
    assert response.status_code == 400 and "logged no predictions" in response.json()["message"]
    assert not AuditJob.objects.filter(kind="batch").exists()


def test_a_window_that_ends_before_it_starts_is_refused(apis):
    _, reviewer = apis
    response = reviewer.post(
        "/api/v1/models/upsell/serving-audits",
        {"since": NOW.isoformat(), "until": (NOW - timedelta(hours=1)).isoformat()},
        format="json",
    )
    assert response.status_code == 400 and "since" in response.json()["detail"]


@pytest.mark.parametrize("actor, status", [("agent", 403), ("labeller", 403), ("outsider", 403)])
def test_who_may_start_a_serving_audit(upsell_with_reference, api_as, request, actor, status):
    response = api_as(request.getfixturevalue(actor)).post("/api/v1/models/upsell/serving-audits", {}, format="json")
    assert response.status_code == status


@pytest.fixture
def upsell_with_scored_reference(db, media, reviewer, pipeline, django_capture_on_commit_callbacks):
    """The reference holds the model's scores on its training data: the baseline of prediction drift."""
    model, version = upsell_in_production(reviewer, pipeline)
    training = upsell_training()
    training["score"] = np.random.default_rng(1).beta(1.2, 6, len(training)).round(6)
    training_reference_build(
        model, version, pipeline, training, django_capture_on_commit_callbacks, prediction_column="score"
    )
    return model


def test_predictions_that_drift_warn_before_any_label_arrives(
    upsell_with_scored_reference, api_as, pipeline, reviewer, django_capture_on_commit_callbacks
):
    scores = np.random.default_rng(4).beta(3, 3, 3000)  # the model suddenly scores everyone ~0.5
    log(api_as(pipeline), 3000, scores=scores)
    report = audit(api_as(reviewer), django_capture_on_commit_callbacks)
    drift = [f for f in report["findings"] if f["check"] == "prediction_drift"]
    assert len(drift) == 1 and drift[0]["status"] in ("warn", "fail")
    assert "Labels are not needed" in drift[0]["message"]
    assert not [f for f in report["findings"] if f["check"] == "drift" and f["column"] == "score"]


def test_steady_predictions_do_not_warn(
    upsell_with_scored_reference, api_as, pipeline, reviewer, django_capture_on_commit_callbacks
):
    log(api_as(pipeline), 3000, scores=np.random.default_rng(4).beta(1.2, 6, 3000))
    report = audit(api_as(reviewer), django_capture_on_commit_callbacks)
    assert [f["status"] for f in report["findings"] if f["check"] == "prediction_drift"] == ["pass"]
