"""Every background job is bounded in time and in redeliveries: a job past its time limit ends failed
naming the limit, and a job whose worker died twice while running it ends failed at its next
delivery instead of killing workers for ever (tasks are acks_late, so a dead worker's task comes
back). The tasks run in-process here; a worker's death is a BaseException escaping the task, the
way a killed process leaves its run unfinished."""

import pytest
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings

from audits.models import AuditState
from audits.tasks import run_audit
from mlops.celery import app
from registry import services as registry_services
from registry.models import DeliveryState, NotificationChannel, NotificationDelivery, PromotionState
from registry.tasks import deliver_notification, run_promotion_gate
from support.models import Explanation, ExplanationState
from support.tasks import compute_explanation, erase_privacy_request
from tests.audits.factories import AuditJobFactory, ReferenceProfileFactory
from tests.factories import ModelVersionFactory, PrivacyRequestFactory
from tests.registry.promotion_helpers import holdout_for, model_with_versions

KEEL_APPS = ("registry.", "audits.", "support.", "mlops.", "demo.")


class WorkerKilled(BaseException):
    """Stands in for SIGKILL or the OOM killer: the run never returns and never raises into Celery."""


def out_of_time(*args, **kwargs):
    raise SoftTimeLimitExceeded()


def kills_its_worker(*args, **kwargs):
    raise WorkerKilled()


@pytest.fixture
def queued_audit(db, settings, tmp_path):
    settings.KEEL_DATA_ROOT = tmp_path
    job = AuditJobFactory(state=AuditState.QUEUED)
    (tmp_path / job.batch.storage_path).parent.mkdir(parents=True)
    (tmp_path / job.batch.storage_path).write_text("customer_id,meeting_minutes\n1,3\n")
    ReferenceProfileFactory(version=job.version)
    return job


@pytest.fixture
def validating_request(db, pipeline):
    model = model_with_versions(count=2)
    holdout = holdout_for(model, pipeline)
    return registry_services.promotion_request_create(
        version=model.versions.get(version=2), actor=pipeline, reason="retrained on October", holdout=holdout
    )


@pytest.fixture
def queued_explanation(db, reviewer):
    return Explanation.objects.create(
        version=ModelVersionFactory(), input_key="ab" * 32, input={"meeting_minutes": 3}, created_by=reviewer
    )


@pytest.fixture
def pending_erasure(db):
    return PrivacyRequestFactory()


@pytest.fixture
def pending_delivery(db):
    channel = NotificationChannel.objects.create(name="ops", kind="webhook", target="https://hooks.example/keel")
    return NotificationDelivery.objects.create(channel=channel, event="validation_failed", dedupe_key="k1", payload={})


def test_every_keel_task_has_a_soft_and_a_hard_time_limit_below_the_visibility_timeout():
    tasks = {name: task for name, task in app.tasks.items() if name.startswith(KEEL_APPS)}
    assert {"audits.tasks.run_audit", "registry.tasks.run_promotion_gate", "support.tasks.compute_explanation"} <= set(
        tasks
    )
    visibility = settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"]
    for name, task in tasks.items():
        assert task.soft_time_limit and task.time_limit, f"{name} has no time limits"
        assert task.soft_time_limit < task.time_limit < visibility, name
        assert task.acks_late, name


PAST_THE_LIMIT = [
    pytest.param(
        "queued_audit",
        "audits.engine.audit.check_file",
        run_audit,
        {"state": AuditState.FAILED, "error": "The audit exceeded its 30-minute time limit."},
        id="audit-ends-failed",
    ),
    pytest.param(
        "validating_request",
        "registry.services.gate.load_holdout",
        run_promotion_gate,
        {
            "state": PromotionState.VALIDATION_FAILED,
            "failure_reasons": ["The promotion gate exceeded its 30-minute time limit."],
        },
        id="gate-fails-validation",
    ),
    pytest.param(
        "queued_explanation",
        "support.services.explanations.background_for_compute",
        compute_explanation,
        {"state": ExplanationState.FAILED, "error": "The explanation exceeded its 5-minute time limit."},
        id="explanation-ends-failed",
    ),
    pytest.param(
        "pending_erasure",
        "support.services.privacy.entity_data_erase",
        erase_privacy_request,
        {
            "erase_state": "failed",  # not left pending for ever
            "erase_attempts": 1,
            "erase_error": "The privacy erasure exceeded its 30-minute time limit.",
        },
        id="erasure-records-the-limit",
    ),
    pytest.param(
        "pending_delivery",
        "registry.services.notifications._send_webhook",
        deliver_notification,
        {"state": DeliveryState.FAILED, "last_error": "The notification delivery exceeded its 2-minute time limit."},
        id="notification-is-given-up",
    ),
]


@pytest.mark.parametrize(("job", "step", "task", "recorded"), PAST_THE_LIMIT)
def test_a_job_past_its_time_limit_records_the_limit(request, monkeypatch, job, step, task, recorded):
    job = request.getfixturevalue(job)
    monkeypatch.setattr(step, out_of_time)
    with pytest.raises(SoftTimeLimitExceeded):
        task.apply(args=[job.pk])
    job.refresh_from_db()
    assert {field: getattr(job, field) for field in recorded} == recorded


def test_an_audit_that_killed_its_worker_twice_ends_failed_without_running_again(queued_audit, monkeypatch):
    monkeypatch.setattr("audits.engine.audit.check_file", kills_its_worker)
    for _ in range(2):  # delivered, the worker dies; redelivered (same task id), it dies again
        with pytest.raises(WorkerKilled):
            run_audit.apply(args=[queued_audit.pk], task_id="audit-task-1")
    queued_audit.refresh_from_db()
    assert (queued_audit.state, queued_audit.attempts) == (AuditState.RUNNING, 2)

    ran = []
    monkeypatch.setattr("audits.engine.audit.check_file", lambda *a, **k: ran.append(1))
    assert run_audit.apply(args=[queued_audit.pk], task_id="audit-task-1").get() is None  # the third delivery
    queued_audit.refresh_from_db()
    assert ran == [] and queued_audit.attempts == 2
    assert queued_audit.state == AuditState.FAILED
    assert queued_audit.error == ("The worker running this audit died twice (killed or out of memory); not retrying.")


def test_a_gate_that_killed_its_worker_twice_fails_validation_with_that_reason(validating_request, monkeypatch):
    monkeypatch.setattr("registry.services.gate.load_holdout", kills_its_worker)
    for _ in range(2):
        with pytest.raises(WorkerKilled):
            run_promotion_gate.apply(args=[validating_request.pk], task_id="gate-task-1")
    run_promotion_gate.apply(args=[validating_request.pk], task_id="gate-task-1")
    validating_request.refresh_from_db()
    assert validating_request.state == PromotionState.VALIDATION_FAILED
    assert validating_request.failure_reasons == [
        "The worker running this promotion gate died twice (killed or out of memory); not retrying."
    ]


def test_a_job_whose_worker_died_once_runs_again_and_completes(queued_audit, monkeypatch):
    monkeypatch.setattr("audits.engine.audit.check_file", kills_its_worker)
    with pytest.raises(WorkerKilled):
        run_audit.apply(args=[queued_audit.pk], task_id="audit-task-1")

    def bad_file(*args, **kwargs):
        from audits.engine.audit import AuditInputError

        raise AuditInputError("The file is empty.")

    monkeypatch.setattr("audits.engine.audit.check_file", bad_file)
    run_audit.apply(args=[queued_audit.pk], task_id="audit-task-1")  # redelivered: runs, and finishes
    queued_audit.refresh_from_db()
    assert (queued_audit.state, queued_audit.error, queued_audit.attempts) == (
        AuditState.FAILED,
        "The file is empty.",
        2,
    )


def test_runs_killed_at_the_hard_limit_count_across_sweeps(queued_audit, monkeypatch):
    """The hard limit ends the run and its message is acknowledged; the sweep queues the job again
    under a new task id. A start older than the hard limit that never finished died too."""
    import time

    monkeypatch.setattr("audits.engine.audit.check_file", kills_its_worker)
    clock = [time.time()]
    monkeypatch.setattr("mlops.jobs.time.time", lambda: clock[0])
    for task_id in ("first-delivery", "sweep-1"):
        with pytest.raises(WorkerKilled):
            run_audit.apply(args=[queued_audit.pk], task_id=task_id)
        clock[0] += run_audit.time_limit + settings.KEEL_TASK_TIME_LIMIT_GRACE + 1
    run_audit.apply(args=[queued_audit.pk], task_id="sweep-2")
    queued_audit.refresh_from_db()
    assert queued_audit.state == AuditState.FAILED and "died twice" in queued_audit.error
