"""The gate runs artifacts only in the isolated scorer: even where a reviewer allowed pickles, a pickle
whose payload runs code and then
behaves like the real model cannot touch the worker (no file written, no secret read) and fails the
gate with the reason; a model that outlives its limit fails the gate naming the limit, once."""

import hashlib
from datetime import date

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from demo.signups import generate_signups
from demo.training import train_upsell_model
from registry import services
from registry.models import PromotionState, TaskType
from registry.services.catalog import alias_point
from tests.mlops import hostile_models as hostile
from tests.registry.promotion_helpers import csv_upload

LABEL = "upgraded_90d"
SECRET = "django-insecure-settings-secret-of-the-worker"


@pytest.fixture(scope="module")
def trained():
    signups = generate_signups(1200, start=date(2026, 1, 1), end=date(2026, 6, 30), seed=7)
    model = train_upsell_model(signups, hyperparameters={"max_iter": 20, "max_depth": 3}, seed=7)
    holdout = generate_signups(400, start=date(2026, 7, 1), end=date(2026, 7, 31), seed=8, first_customer=900_000)
    return model, holdout


@pytest.fixture
def gate(db, reviewer, pipeline, trained, settings, tmp_path, django_capture_on_commit_callbacks):
    """gate(artifact bytes, production=bytes) -> the promotion request of a version holding them, gated
    (against a production version holding `production`'s bytes, when given)."""
    settings.MEDIA_ROOT = tmp_path / "media"
    result, frame = trained

    def attached(model, raw: bytes):
        version = services.version_create(
            model=model,
            actor=pipeline,
            feature_schema=result.feature_schema,
            decision_threshold=result.decision_threshold,
        )
        return services.artifact_attach(
            version=version,
            uploaded=SimpleUploadedFile("model.joblib", raw),
            sha256=hashlib.sha256(raw).hexdigest(),
        )

    def run(raw: bytes, *, production: bytes | None = None):
        model = services.model_create(name="upsell", task_type=TaskType.BINARY, owner=reviewer)
        # The worst case: a reviewer allowed pickles for this model, so the payload reaches the scorer.
        services.model_pickle_policy_set(
            model=model, actor=reviewer, allowed=True, reason="The team's training job still writes joblib."
        )
        if production is not None:
            alias_point(
                model=model, alias="production", version=attached(model, production), actor=reviewer, reason="live"
            )
        version = attached(model, raw)
        holdout = services.holdout_register(
            model=model, actor=pipeline, name="july", label_column=LABEL, uploaded=csv_upload(frame)
        )
        with django_capture_on_commit_callbacks(execute=True):
            request = services.promotion_request_create(
                version=version, actor=pipeline, reason="retrained", holdout=holdout
            )
        request.refresh_from_db()
        return request

    return run


def test_a_payload_that_behaves_like_the_real_model_writes_nothing_and_fails_the_gate(gate, trained, tmp_path):
    target = tmp_path / "written-by-the-payload"
    request = gate(hostile.dumped(hostile.writes_file(target, trained[0].pipeline)))
    assert not target.exists()
    assert request.state == PromotionState.VALIDATION_FAILED
    assert request.failure_reasons[0].startswith("The candidate v1's artifact raised ScorerRefused:")


def test_a_payload_never_reads_the_workers_secrets(gate, trained, monkeypatch):
    monkeypatch.setenv("SECRET_KEY", SECRET)
    request = gate(hostile.dumped(hostile.reads_secret(trained[0].pipeline)))
    assert request.state == PromotionState.VALIDATION_FAILED
    assert SECRET not in repr(request.evidence) and SECRET not in repr(request.failure_reasons)
    assert not any(SECRET in str(event.__dict__) for event in request.events.all())


def test_a_sleeping_model_fails_the_gate_once_with_its_wall_limit_named(gate, settings):
    settings.KEEL_SCORER_WALL_SECONDS = 1
    request = gate(hostile.dumped(hostile.Sleepy()))
    assert request.state == PromotionState.VALIDATION_FAILED
    assert request.failure_reasons == ["The candidate v1's artifact took longer than 1 s while scoring."]
    again = services.promotion_gate_run(promotion_id=request.pk)  # a redelivered job changes nothing
    assert again.state == PromotionState.VALIDATION_FAILED and again.failure_reasons == request.failure_reasons


def test_a_production_model_that_crashes_leaves_a_note_and_the_candidate_is_still_judged(gate, trained):
    real = hostile.dumped(trained[0].pipeline)
    request = gate(real, production=hostile.dumped(hostile.Crashing()))
    assert request.evidence["production"] is None
    assert request.evidence["production_note"] == (
        "Production v1 could not be scored: The production v1's artifact crashed (signal 11) while scoring."
    )
    assert request.evidence["metrics"]["candidate"]["roc_auc"] > 0.6
