"""`manage.py seed_demo`: the demo's people, pipeline token and the upsell model, and that a second run
changes nothing."""

import hashlib
import io
from dataclasses import replace
from datetime import date

import pytest
import skops.io
from django.contrib.auth import get_user_model
from django.core.management import call_command
from rest_framework.authtoken.models import Token

from demo.signups import generate_signups
from demo.stories import soom
from demo.training import FEATURES
from mlops import modelformats, roles
from registry.models import (
    AliasEvent,
    ArtifactCheck,
    ModelVersion,
    PromotionRequest,
    RegisteredModel,
    RunStatus,
    TrainingRun,
)

pytestmark = pytest.mark.django_db

User = get_user_model()


@pytest.fixture(scope="module")
def seeded(django_db_setup, django_db_blocker, tmp_path_factory):
    """Runs the command twice, on a smaller scenario so the module stays quick; returns both outputs.

    Seeded once for the module, as Django's setUpTestData does: inside a transaction that stays open
    while the module's tests run, each test in a savepoint rolled back after it (so a test that
    changes the seeded rows changes them for itself only), and the whole seed rolled back at the end,
    so the next module starts from an empty database."""
    from django.core.cache import cache
    from django.db import transaction
    from django.test import TestCase, override_settings

    from mlops.celery import app

    eager = app.conf.task_always_eager
    with (
        pytest.MonkeyPatch.context() as patch,
        override_settings(MEDIA_ROOT=tmp_path_factory.mktemp("seed-demo-media")),
    ):
        patch.setattr(soom, "SIGNUPS", 8_000)
        patch.setattr(soom, "HOLDOUT_SIGNUPS", 800)
        patch.setattr(soom, "BATCH_SIGNUPS", 1500)
        patch.setattr(
            soom, "RELEASES", [replace(r, hyperparameters={**r.hyperparameters, "max_iter": 40}) for r in soom.RELEASES]
        )
        # Tasks in-process, as the autouse fixture sets them for each test (it runs after this one).
        app.conf.task_always_eager = True
        with django_db_blocker.unblock():
            cache.clear()
            module_transaction = transaction.atomic()
            module_transaction.__enter__()
        try:
            outputs = []
            with django_db_blocker.unblock():
                for _ in range(2):
                    out = io.StringIO()
                    # execute=True runs the artifact checks queued on commit, as the eager Celery setup does.
                    with TestCase.captureOnCommitCallbacks(execute=True):
                        call_command("seed_demo", stdout=out)
                    outputs.append(out.getvalue())
            app.conf.task_always_eager = eager
            yield outputs
        finally:
            app.conf.task_always_eager = eager
            with django_db_blocker.unblock():
                transaction.set_rollback(True)
                module_transaction.__exit__(None, None, None)
                cache.clear()


def test_second_run_duplicates_nothing(seeded):
    model = RegisteredModel.objects.get(name="upsell")
    assert model.versions.count() == 4
    assert TrainingRun.objects.filter(experiment__name="upsell-nightly").count() == 4
    assert PromotionRequest.objects.count() == 4 and model.holdouts.count() == 1
    assert model.audit_jobs.count() == 6  # the reference build, four batch audits, one serving-log audit
    assert AliasEvent.objects.count() == 3
    assert User.objects.filter(username__in=[*soom.PEOPLE, "upsell-pipeline"]).count() == 8
    assert "already has versions" in seeded[1]


def test_the_promotion_story_replays_through_the_real_gate(seeded):
    model = RegisteredModel.objects.get(name="upsell")
    states = list(model.promotion_requests.order_by("pk").values_list("version__version", "state"))
    assert states == [(1, "approved"), (2, "rolled_back"), (3, "validation_failed"), (4, "awaiting_approval")]
    history = [
        (e.alias, e.from_version and e.from_version.version, e.to_version and e.to_version.version, e.actor.username)
        for e in model.alias_events.order_by("id")
    ]
    assert history == [
        ("production", None, 1, "reviewer"),
        ("production", 1, 2, "reviewer2"),
        ("production", 2, 1, "reviewer"),
    ]
    assert {a.name: a.version.version for a in model.aliases.all()} == {"production": 1}
    assert model.alias_events.order_by("id").last().reason.startswith("Rollback:")

    failed = model.promotion_requests.get(version__version=3)
    assert failed.failure_reasons and failed.evidence["metrics"]["candidate"]["roc_auc"] is not None
    waiting = model.promotion_requests.get(version__version=4)
    assert waiting.submitted_by.username == "upsell-pipeline"  # so either demo reviewer may approve it
    assert waiting.evidence["production"]["version"] == 1 and waiting.proposed_threshold is not None
    assert waiting.evidence["audit"]["status"] == "pass"  # the hold-out's own bytes were audited


def test_the_audit_story_catches_each_broken_batch(seeded):
    from audits.models import AuditJob

    verdicts = dict(
        AuditJob.objects.filter(kind="batch", batch__purpose="incoming").values_list("batch__name", "verdict")
    )
    assert verdicts == {
        "signups-2026-10.csv": "pass",
        "signups-2026-11-a-lobby-minutes.csv": "fail",
        "signups-2026-11-b-festivals.csv": "fail",
        "signups-2026-11-c-new-export.csv": "fail",
    }
    failing = {
        job.batch.name: {f.column for f in job.findings.filter(status="fail")}
        for job in AuditJob.objects.filter(verdict="fail")
    }
    assert "meeting_minutes" in failing["signups-2026-11-a-lobby-minutes.csv"]
    assert "event_type" in failing["signups-2026-11-b-festivals.csv"]
    assert "signup_date" in failing["signups-2026-11-c-new-export.csv"]


def test_versions_carry_their_full_config(seeded):
    v1, v2, v3, v4 = ModelVersion.objects.filter(model__name="upsell").order_by("version")
    assert (v1.train_window_start, v1.train_window_end) == (date(2026, 1, 1), date(2026, 6, 30))
    assert (v2.train_window_start, v2.train_window_end) == (date(2026, 1, 1), date(2026, 9, 30))
    assert v1.code_commit != v2.code_commit and len(v2.code_commit) == 40
    assert v1.hyperparameters != v2.hyperparameters
    assert v1.dataset_sha256 != v2.dataset_sha256
    assert len({v.code_commit for v in (v1, v2, v3, v4)}) == 4
    for version in (v1, v2, v3, v4):
        version.full_clean()
        assert 0 < version.decision_threshold < 1
        assert [f["name"] for f in version.feature_schema] == FEATURES
        assert 0.6 < version.metrics["roc_auc"] < 0.95
        assert version.run.status == RunStatus.FINISHED
        assert version.created_by.username == "upsell-pipeline"


def test_runs_log_params_and_a_metric_history(seeded):
    for run in TrainingRun.objects.filter(experiment__name="upsell-nightly"):
        params = dict(run.params.values_list("key", "value"))
        assert params["max_iter"] == "40" and "train_window_end" in params
        history = list(run.metrics.filter(key="holdout_roc_auc").order_by("step").values_list("step", flat=True))
        assert history == [1, 10, 20, 30, 40]
        assert run.metrics.filter(key="roc_auc").exists()
        assert run.tags.filter(key="mlflow.source.git.commit", value=run.code_commit).exists()


def test_artifacts_match_their_hash_and_predict(seeded):
    frame = generate_signups(200, start=date(2026, 10, 1), end=date(2026, 10, 31), seed=99)
    for version in ModelVersion.objects.filter(model__name="upsell"):
        with version.artifact.open("rb") as handle:
            data = handle.read()
        assert hashlib.sha256(data).hexdigest() == version.artifact_sha256
        assert version.artifact_size == len(data)
        assert version.artifact_format == "skops"  # the safe format: loading builds only trusted types
        model = skops.io.loads(data, trusted=modelformats.trusted_types(data))
        scores = model.predict_proba(frame[FEATURES])[:, 1]
        assert scores.shape == (200,) and ((scores >= 0) & (scores <= 1)).all()
        # The integrity check queued on commit ran once per attach, and passed.
        assert list(ArtifactCheck.objects.filter(version=version).values_list("ok", flat=True)) == [True]


def test_demo_people_sign_in_with_their_roles(seeded):
    expected = {
        "reviewer": roles.REVIEWERS,
        "reviewer2": roles.REVIEWERS,
        "agent": roles.SUPPORT_AGENTS,
        "labeller": roles.LABELLERS,
        "labeller2": roles.LABELLERS,
        "labeller3": roles.LABELLERS,
    }
    for username, group in expected.items():
        user = User.objects.get(username=username)
        assert list(user.groups.values_list("name", flat=True)) == [group]
        assert user.check_password(soom.DEMO_PASSWORD)
        assert not user.is_staff
    admin = User.objects.get(username="admin")
    assert admin.is_superuser and admin.is_staff and admin.check_password(soom.DEMO_PASSWORD)
    assert "reviewer2" in seeded[0] and soom.DEMO_PASSWORD in seeded[0]


def test_pipeline_has_a_token_and_no_password(seeded):
    pipeline = User.objects.get(username="upsell-pipeline")
    assert list(pipeline.groups.values_list("name", flat=True)) == [roles.PIPELINES]
    assert not pipeline.has_usable_password()
    token = Token.objects.get(user=pipeline)
    assert token.key in seeded[0] and token.key in seeded[1]  # the same token, printed both times


def test_rerun_keeps_changed_passwords_unless_asked(seeded):
    reviewer = User.objects.get(username="reviewer")
    reviewer.set_password("changed-by-hand")
    reviewer.save()
    call_command("seed_demo", stdout=io.StringIO())
    reviewer.refresh_from_db()
    assert reviewer.check_password("changed-by-hand")
    call_command("seed_demo", "--reset-passwords", stdout=io.StringIO())
    reviewer.refresh_from_db()
    assert reviewer.check_password(soom.DEMO_PASSWORD)


def test_the_serving_log_story_shows_skew_and_schedules(seeded):
    from audits.models import AuditJob, AuditSchedule, PredictionLog

    model = RegisteredModel.objects.get(name="upsell")
    assert PredictionLog.objects.filter(model=model).count() == soom.SERVING_SIGNUPS
    serving = AuditJob.objects.get(model=model, batch__purpose="serving")
    flagged = set(serving.findings.exclude(status="pass").values_list("check_name", "column"))
    assert ("skew_processing", "meeting_minutes") in flagged and ("skew_nulls", "meeting_minutes") in flagged
    assert serving.verdict != "pass" and not serving.findings.filter(check_name="schema", status="fail").exists()
    assert serving.findings.filter(check_name="prediction_drift").exists()
    october = AuditJob.objects.get(model=model, batch__name="signups-2026-10.csv")
    assert october.verdict != "fail", list(october.findings.filter(status="fail").values_list("check_name", "message"))
    assert set(AuditSchedule.objects.values_list("name", flat=True)) == {"nightly-serving-log", "daily-signups"}


def test_the_demo_has_an_explainable_customer(seeded):
    import re

    from support.models import ExplainerBackground, Explanation

    model = RegisteredModel.objects.get(name="upsell")
    v1 = model.versions.get(version=1)
    assert ExplainerBackground.objects.get(version=v1).rows == 100
    found = re.findall(r"Explain a decision: /support/explain/\?entity_id=(C\d+)", seeded[0])
    assert found and re.findall(r"entity_id=(C\d+)", seeded[1]) == found  # the same customer, both runs
    explanation = Explanation.objects.get(entity_id=found[0])
    assert explanation.state == "succeeded" and explanation.version == v1
    assert explanation.result["method"] == "tree" and explanation.result["reasons"]
    assert Explanation.objects.count() == 1  # the second run answered from the cache


def test_the_support_desk_has_active_entries_and_a_privacy_request(seeded):
    from audits.models import ErasedEntity
    from support.models import ListEntry, PrivacyRequest

    assert ListEntry.objects.filter(kind="blacklist").count() == 3  # fraud, inappropriate, the privacy one
    assert ListEntry.objects.filter(kind="boost").count() == 1
    request = PrivacyRequest.objects.get()
    assert ErasedEntity.objects.filter(entity_id=request.entity_id).exists()
    assert "Privacy request" in seeded[0] and "Privacy request" not in seeded[1]


def test_a_labeller_finds_an_open_campaign_where_others_already_answered(seeded):
    from audits import selectors, services
    from audits.models import PredictionLog, RelabelAnswer, RelabelCampaign
    from demo.stories import relabelling

    campaign = RelabelCampaign.objects.get(name=relabelling.CAMPAIGN_NAME)  # one, after two runs
    assert "Relabelling campaign" in seeded[0] and "Relabelling campaign" not in seeded[1]  # nothing added
    v1 = campaign.model.versions.get(version=1)
    assert campaign.state == "open" and list(campaign.versions.all()) == [v1]
    assert campaign.items_total == relabelling.SAMPLE_SIZE
    assert campaign.label_set == ["upgrades", "stays-free", "unsure"]
    # Drawn from v1's serving log, which logs each decision; the erased customer's rows never wait in
    # the queue (drawn after the erasure they are left out; erased after the draw, with a worker doing
    # the erasure in the background, they are withdrawn).
    assert not campaign.items.filter(prediction__erased_at__isnull=False, withdrawn_at__isnull=True).exists()
    assert set(PredictionLog.objects.filter(model=campaign.model).values_list("label", flat=True)) == {
        "upgrades",
        "stays-free",
    }

    labeller, second = User.objects.get(username="labeller"), User.objects.get(username="labeller2")
    assert not RelabelAnswer.objects.filter(labeller=labeller).exists()  # a newcomer: nothing done yet
    assert campaign in selectors.campaigns_for(labeller)
    assert services.item_next(labeller=labeller, campaign=campaign) is not None  # labels right away

    assert RelabelAnswer.objects.filter(item__campaign=campaign, labeller=second).count() >= 12
    twice = {
        item: set(item.answers.values_list("label", flat=True))
        for item in campaign.items.filter(required_labels=2, labels_count=2)
    }
    assert len(twice) >= 2  # overlapped items answered by two labellers: agreement shows
    assert any(len(labels) == 2 for labels in twice.values())  # one disagreement, for the lead
    assert any(len(labels) == 1 for labels in twice.values())
    disputed = [r for r in selectors.campaign_resolutions(campaign).values() if r.source == "disputed"]
    assert disputed
