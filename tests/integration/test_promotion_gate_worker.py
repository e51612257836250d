"""The whole promotion lifecycle through the API with the gate run by a real Celery worker process:
a pipeline registers and submits, the worker validates on PostgreSQL, a second reviewer approves."""

import hashlib
from datetime import date

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from demo.signups import generate_signups
from demo.training import serialise_pickle, train_upsell_model
from registry.models import PromotionRequest
from tests.integration.processes import wait_for
from tests.registry.promotion_helpers import csv_upload

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_a_retrain_is_validated_by_the_worker_and_approved(celery_worker, api_as, pipeline, reviewer):
    signups = generate_signups(3000, start=date(2026, 1, 1), end=date(2026, 9, 30), seed=3)
    trained = train_upsell_model(signups, hyperparameters={"max_iter": 30}, seed=3)
    october = generate_signups(600, start=date(2026, 10, 1), end=date(2026, 10, 31), seed=4, first_customer=10**6)
    api = api_as(pipeline)

    assert (
        api.post("/api/v1/models/", {"name": "upsell", "task_type": "binary_classification"}, format="json").status_code
        == 201
    )
    version = api.post(
        "/api/v1/models/upsell/versions/",
        {
            "feature_schema": trained.feature_schema,
            "decision_threshold": trained.decision_threshold,
        },
        format="json",
    ).json()["version"]
    # The in-process loader (registry.selectors.artifact_estimator) reads joblib: a reviewer allows it.
    allowance = {"allowed": True, "reason": "The worker's artifact loader reads joblib."}
    assert api_as(reviewer).post("/api/v1/models/upsell/pickles", allowance).status_code == 201
    raw = serialise_pickle(trained.pipeline)
    upload = api.post(
        f"/api/v1/models/upsell/versions/{version}/artifact",
        {
            "file": SimpleUploadedFile("model.joblib", raw),
            "sha256": hashlib.sha256(raw).hexdigest(),
        },
        format="multipart",
    )
    assert upload.status_code == 201, upload.content
    holdout = api.post(
        "/api/v1/models/upsell/holdouts/",
        {"name": "october", "label_column": "upgraded_90d", "file": csv_upload(october)},
        format="multipart",
    )
    assert holdout.status_code == 201, holdout.content
    submitted = api.post(
        "/api/v1/promotions/",
        {"model": "upsell", "version": version, "reason": "first model", "holdout": holdout.json()["id"]},
        format="json",
    )
    assert submitted.status_code == 201 and submitted.json()["state"] == "validating"

    request_id = submitted.json()["id"]
    request = wait_for(
        lambda: PromotionRequest.objects.exclude(state="validating").filter(pk=request_id).first(),
        celery_worker,
        "the worker's gate verdict",
        timeout=90,
    )
    assert request.state == "awaiting_approval", request.failure_reasons
    assert request.evidence["rows"] == 600 and request.evidence["metrics"]["candidate"]["roc_auc"] > 0.6

    approved = api_as(reviewer).post(f"/api/v1/promotions/{request_id}/approve", {"comment": "ok"}, format="json")
    assert approved.status_code == 200, approved.content
    serving = api.get("/api/v1/models/upsell/serving").json()
    assert serving["production"]["version"] == version
    assert serving["production"]["threshold"] == request.proposed_threshold
