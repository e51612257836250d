"""The validation gate scores real scikit-learn models on hold-out rows and decides with the policy.

Models are trained once per module on the demo's seeded signups (small and quick)."""

import hashlib
import io
from datetime import date

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from sklearn.metrics import average_precision_score, log_loss, roc_auc_score

from demo.signups import generate_signups
from demo.training import train_upsell_model
from registry import selectors, services
from registry.models import PromotionRequest, PromotionState, TaskType
from tests.registry.promotion_helpers import csv_upload

LABEL = "upgraded_90d"
FAST = {"max_iter": 40, "learning_rate": 0.1, "max_depth": 3}


@pytest.fixture(scope="module")
def trained():
    signups = generate_signups(6000, start=date(2026, 1, 1), end=date(2026, 9, 30), seed=7)
    good_early = train_upsell_model(signups[signups["signup_date"] <= "2026-06-30"], hyperparameters=FAST, seed=7)
    good_late = train_upsell_model(signups, hyperparameters={**FAST, "learning_rate": 0.05}, seed=7)
    shuffled = signups.copy()
    shuffled[LABEL] = np.random.default_rng(0).permutation(shuffled[LABEL].to_numpy())
    noise = train_upsell_model(shuffled, hyperparameters=FAST, seed=7)
    holdout = generate_signups(1500, start=date(2026, 10, 1), end=date(2026, 10, 31), seed=8, first_customer=900_000)
    return {"early": good_early, "late": good_late, "noise": noise, "holdout": holdout}


@pytest.fixture
def upsell(db, reviewer, pipeline, trained, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    model = services.model_create(name="upsell", task_type=TaskType.BINARY, owner=reviewer)
    for key in ("early", "late", "noise"):
        result = trained[key]
        version = services.version_create(
            model=model,
            actor=pipeline,
            feature_schema=result.feature_schema,
            decision_threshold=result.decision_threshold,
            hyperparameters=result.hyperparameters,
            metrics=result.metrics,
        )
        raw = result.artifact_bytes
        services.artifact_attach(
            version=version, uploaded=SimpleUploadedFile("model.skops", raw), sha256=hashlib.sha256(raw).hexdigest()
        )
    services.policy_update(
        model=model,
        actor=reviewer,
        slice_columns=["country", "plan"],
        max_flip_rate=0.5,
        min_margin_over_baseline=0.05,
        max_regression=0.05,
    )
    return model


def holdout_of(model, actor, frame, name="october"):
    return services.holdout_register(
        model=model, actor=actor, name=name, label_column=LABEL, uploaded=csv_upload(frame)
    )


def request_and_gate(model, number, actor, holdout, capture, **extra) -> PromotionRequest:
    with capture(execute=True):  # commit callbacks run: the gate job runs in-process (eager Celery)
        request = services.promotion_request_create(
            version=model.versions.get(version=number), actor=actor, reason="retrained", holdout=holdout, **extra
        )
    return PromotionRequest.objects.get(pk=request.pk)


def features(frame, result):
    return frame[[f["name"] for f in result.feature_schema]]


def test_a_first_model_passes_and_its_metrics_equal_sklearns(
    upsell, pipeline, trained, django_capture_on_commit_callbacks
):
    holdout = holdout_of(upsell, pipeline, trained["holdout"])
    request = request_and_gate(upsell, 1, pipeline, holdout, django_capture_on_commit_callbacks)
    assert request.state == PromotionState.AWAITING_APPROVAL, request.failure_reasons
    assert (request.gate_stage, request.gate_progress) == ("done", 1.0)

    evidence = request.evidence
    frame = trained["holdout"]
    y = frame[LABEL].to_numpy()
    p = trained["early"].pipeline.predict_proba(features(frame, trained["early"]))[:, 1]
    threshold = evidence["candidate"]["threshold"]
    assert evidence["metrics"]["candidate"]["roc_auc"] == pytest.approx(roc_auc_score(y, p), abs=1e-12)
    assert evidence["metrics"]["candidate"]["pr_auc"] == pytest.approx(average_precision_score(y, p), abs=1e-12)
    assert evidence["metrics"]["candidate"]["log_loss"] == pytest.approx(log_loss(y, p), abs=1e-9)
    predicted = p >= threshold
    assert evidence["metrics"]["candidate"]["recall"] == pytest.approx(predicted[y == 1].mean(), abs=1e-12)
    assert evidence["metrics"]["baseline"]["roc_auc"] == 0.5
    assert evidence["production"] is None and evidence["prediction_diff"] is None
    assert request.proposed_threshold == threshold
    assert {c["name"] for c in evidence["checks"]} >= {"primary_metric_available", "beats_baseline"}
    assert set(evidence["slices"]) == {"country", "plan"}
    assert evidence["audit"]["status"] == "not_audited"


def test_a_retrain_is_compared_with_production_on_the_same_rows(
    upsell, pipeline, reviewer, trained, django_capture_on_commit_callbacks
):
    holdout = holdout_of(upsell, pipeline, trained["holdout"])
    first = request_and_gate(upsell, 1, pipeline, holdout, django_capture_on_commit_callbacks)
    services.promotion_approve(promotion=first, actor=reviewer)
    second = request_and_gate(upsell, 2, pipeline, holdout, django_capture_on_commit_callbacks)
    assert second.state == PromotionState.AWAITING_APPROVAL, second.failure_reasons
    assert second.compared_version.version == 1

    evidence = second.evidence
    frame, y = trained["holdout"], trained["holdout"][LABEL].to_numpy()
    p_prod = trained["early"].pipeline.predict_proba(features(frame, trained["early"]))[:, 1]
    p_cand = trained["late"].pipeline.predict_proba(features(frame, trained["late"]))[:, 1]
    assert evidence["metrics"]["production"]["roc_auc"] == pytest.approx(roc_auc_score(y, p_prod), abs=1e-12)
    diff = evidence["prediction_diff"]
    assert diff["rows"] == len(frame)
    assert diff["mean_abs_change"] == pytest.approx(np.abs(p_cand - p_prod).mean(), abs=1e-9)
    flips = (p_cand >= evidence["candidate"]["threshold"]) != (p_prod >= evidence["production"]["threshold"])
    assert diff["flip_rate"] == pytest.approx(flips.mean(), abs=1e-12)
    assert diff["top_movers"][0]["id"].startswith("C")  # rows are named by their customer id
    assert evidence["curves"]["production"]["roc"]["auc"] == pytest.approx(roc_auc_score(y, p_prod), abs=1e-9)
    assert [row["feature"] for row in evidence["importance"]]  # permutation importance, now vs before
    assert all("previous" in row for row in evidence["importance"])


def test_a_model_worse_than_the_naive_baseline_fails_the_gate(
    upsell, pipeline, reviewer, trained, django_capture_on_commit_callbacks
):
    holdout = holdout_of(upsell, pipeline, trained["holdout"])
    request = request_and_gate(upsell, 3, pipeline, holdout, django_capture_on_commit_callbacks)
    assert request.state == PromotionState.VALIDATION_FAILED
    assert any("baseline" in reason for reason in request.failure_reasons), request.failure_reasons
    assert request.events.last().actor is None  # the gate, not a person, failed it
    with pytest.raises(Exception, match="cannot be approved"):
        services.promotion_approve(promotion=request, actor=reviewer)
    assert "production" not in selectors.alias_map(upsell)


def test_too_many_flipped_decisions_fail_the_gate(
    upsell, pipeline, reviewer, trained, django_capture_on_commit_callbacks
):
    holdout = holdout_of(upsell, pipeline, trained["holdout"])
    services.promotion_approve(
        promotion=request_and_gate(upsell, 1, pipeline, holdout, django_capture_on_commit_callbacks), actor=reviewer
    )
    services.policy_update(model=upsell, actor=reviewer, max_flip_rate=0.0001)
    request = request_and_gate(upsell, 2, pipeline, holdout, django_capture_on_commit_callbacks)
    assert request.state == PromotionState.VALIDATION_FAILED
    assert any("changes the decision on" in reason for reason in request.failure_reasons), request.failure_reasons
    assert selectors.alias_map(upsell)["production"].version == 1


def _frame_bytes(frame):
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False)
    return buffer.getvalue().encode()


@pytest.mark.parametrize(
    "spoil,reason",
    [
        (lambda f: f.drop(columns=["country"]), "lacks feature column(s) v1 needs: country"),
        (
            lambda f: f.assign(meeting_minutes=["lots"] + list(f["meeting_minutes"][1:])),
            "'meeting_minutes' should be float",
        ),
        (lambda f: f.assign(upgraded_90d=0), "needs rows of both outcomes"),
        (lambda f: f.assign(upgraded_90d=["yes"] * len(f)), "Every hold-out row has label yes;"),
        (lambda f: f.assign(upgraded_90d=(["yes", "no", "maybe"] * len(f))[: len(f)]), "holds 3: yes, maybe, no."),
        (lambda f: f.assign(upgraded_90d=[None] + list(f["upgraded_90d"][1:])), "empty values"),
        (lambda f: f.head(0), "no rows"),
    ],
)
def test_bad_holdout_data_fails_validation_with_a_precise_reason(
    upsell, pipeline, trained, spoil, reason, django_capture_on_commit_callbacks
):
    holdout = holdout_of(upsell, pipeline, spoil(trained["holdout"].copy()))
    request = request_and_gate(upsell, 1, pipeline, holdout, django_capture_on_commit_callbacks)
    assert request.state == PromotionState.VALIDATION_FAILED
    assert any(reason in r for r in request.failure_reasons), request.failure_reasons
    assert not upsell.aliases.exists()


@pytest.mark.parametrize(
    "changed, tail, reason",
    [
        ("holdout", b"C999999,2026-10-31,free,DE,meeting,10,2,1\n", "changed since it was registered"),
        ("artifact", b"malicious tail", "refusing to load it"),  # a tampered artifact is never unpickled
    ],
)
def test_a_file_changed_after_registration_is_refused(
    upsell, pipeline, trained, django_capture_on_commit_callbacks, changed, tail, reason
):
    holdout = holdout_of(upsell, pipeline, trained["holdout"])
    path = holdout.file.path if changed == "holdout" else upsell.versions.get(version=1).artifact.path
    with open(path, "ab") as handle:
        handle.write(tail)
    request = request_and_gate(upsell, 1, pipeline, holdout, django_capture_on_commit_callbacks)
    assert request.state == PromotionState.VALIDATION_FAILED
    assert reason in request.failure_reasons[0]


def test_a_retried_gate_changes_nothing(upsell, pipeline, trained, django_capture_on_commit_callbacks):
    holdout = holdout_of(upsell, pipeline, trained["holdout"])
    request = request_and_gate(upsell, 1, pipeline, holdout, django_capture_on_commit_callbacks)
    events = request.events.count()
    again = services.promotion_gate_run(promotion_id=request.pk)
    assert again.state == PromotionState.AWAITING_APPROVAL and again.events.count() == events


def test_a_holdout_labelled_churned_or_stayed_is_judged_with_its_declared_positive_label(
    upsell, pipeline, trained, django_capture_on_commit_callbacks
):
    frame = trained["holdout"].copy()
    frame[LABEL] = frame[LABEL].map({1: "churned", 0: "stayed"})
    holdout = services.holdout_register(
        model=upsell,
        actor=pipeline,
        name="october-words",
        label_column=LABEL,
        positive_label="churned",
        uploaded=csv_upload(frame),
    )
    request = request_and_gate(upsell, 1, pipeline, holdout, django_capture_on_commit_callbacks)
    assert request.state == PromotionState.AWAITING_APPROVAL, request.failure_reasons
    y = trained["holdout"][LABEL].to_numpy()
    p = trained["early"].pipeline.predict_proba(features(trained["holdout"], trained["early"]))[:, 1]
    assert request.evidence["metrics"]["candidate"]["roc_auc"] == pytest.approx(roc_auc_score(y, p), abs=1e-12)
