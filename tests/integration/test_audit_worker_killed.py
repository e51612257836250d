"""A worker killed in the middle of an audit loses nothing: the task was not acknowledged, Redis hands
it to another worker, and the audit completes exactly once (real worker processes, Redis, PostgreSQL)."""

import os
import signal
import time
from datetime import date

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from audits import services
from audits.models import AuditJob, AuditState, Finding
from audits.tasks import run_audit
from demo.batches import shifted_batch, to_csv
from tests.integration.processes import WorkerProcess

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

QUEUE = "audit-kill-test"  # only this test's workers read it, so we know which one is doing the work
WORKER_ENV = {"KEEL_BROKER_VISIBILITY_TIMEOUT": "5", "KEEL_AUDIT_CHUNK_ROWS": "5000"}


def test_a_killed_worker_does_not_lose_the_audit(
    integration_services,
    test_database_url,
    integration_media_root,
    settings,
    tmp_path,
    reviewer,
    pipeline,
    monkeypatch,
    django_capture_on_commit_callbacks,
):
    from mlops.celery import app as celery_app
    from tests.audits.reference_scenario import upsell_reference_for

    settings.MEDIA_ROOT = integration_media_root
    celery_app.conf.task_always_eager = True
    try:
        model = upsell_reference_for(reviewer, pipeline, django_capture_on_commit_callbacks)  # built in-process
    finally:
        celery_app.conf.task_always_eager = False

    batch_rows = 300_000
    content = to_csv(
        shifted_batch(batch_rows, start=date(2026, 10, 1), end=date(2026, 10, 31), seed=5, first_customer=10**6)
    )
    monkeypatch.setattr(services.jobs, "_queue", lambda job_id: None)  # we send it to our queue ourselves
    batch = services.batch_register(
        model=model, actor=pipeline, name="big october", uploaded=SimpleUploadedFile("october.csv", content)
    )
    job = services.audit_start(batch=batch, actor=pipeline)

    def worker(name: str) -> WorkerProcess:
        return WorkerProcess(
            database_url=test_database_url,
            media_root=integration_media_root,
            queues=QUEUE,
            log_path=tmp_path / f"{name}.log",
            extra_env=WORKER_ENV,
        )

    first = worker("first")
    second = None
    try:
        first.wait_ready()
        run_audit.apply_async(args=[job.pk], queue=QUEUE)
        deadline = time.monotonic() + 60
        while True:  # wait until the audit is visibly part-way through the file
            job.refresh_from_db()
            if job.state == AuditState.RUNNING and 0 < job.rows_done < batch_rows:
                break
            assert job.state != AuditState.SUCCEEDED, "the audit finished before it could be interrupted"
            assert time.monotonic() < deadline, f"the audit never started.\n{first.log()}"
            time.sleep(0.02)
        os.kill(first.process.pid, signal.SIGKILL)
        first.process.wait(timeout=10)
        interrupted_at = job.rows_done

        second = worker("second")
        second.wait_ready()
        deadline = time.monotonic() + 120
        while True:
            job.refresh_from_db()
            if job.state in (AuditState.SUCCEEDED, AuditState.FAILED):
                break
            assert time.monotonic() < deadline, f"the audit was not redelivered.\n{second.log()}"
            time.sleep(0.2)
    finally:
        first.stop()
        if second is not None:
            second.stop()

    assert job.state == AuditState.SUCCEEDED, job.error
    assert 0 < interrupted_at < batch_rows
    assert job.attempts == 2 and job.rows_done == batch_rows
    assert job.verdict == "fail"  # the shifted batch's drift is reported in full
    findings = list(Finding.objects.filter(job=job).values_list("check_name", "column"))
    assert len(findings) == len(set(findings))  # written once, not once per attempt
    assert AuditJob.objects.filter(batch=batch).count() == 1
