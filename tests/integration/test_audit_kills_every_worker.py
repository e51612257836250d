"""An audit whose worker dies every time it runs it (killed, out of memory) is not redelivered for
ever: after two deaths the next delivery ends it failed with that reason, and the work is not run a
third time (real worker processes, Redis, PostgreSQL)."""

import os
import signal
import time
from datetime import date

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from audits import services
from audits.models import AuditState
from audits.tasks import run_audit
from demo.batches import shifted_batch, to_csv
from tests.integration.processes import WorkerProcess

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

QUEUE = "audit-kills-every-worker"
WORKER_ENV = {"KEEL_BROKER_VISIBILITY_TIMEOUT": "5", "KEEL_AUDIT_CHUNK_ROWS": "5000"}


def test_an_audit_that_kills_its_worker_twice_ends_failed(
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
        model = upsell_reference_for(reviewer, pipeline, django_capture_on_commit_callbacks)
    finally:
        celery_app.conf.task_always_eager = False

    batch_rows = 300_000
    content = to_csv(
        shifted_batch(batch_rows, start=date(2026, 10, 1), end=date(2026, 10, 31), seed=5, first_customer=10**6)
    )
    monkeypatch.setattr(services.jobs, "_queue", lambda job_id: None)
    batch = services.batch_register(
        model=model, actor=pipeline, name="deadly october", uploaded=SimpleUploadedFile("october.csv", content)
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

    run_audit.apply_async(args=[job.pk], queue=QUEUE)
    for attempt in (1, 2):  # each worker dies part-way through the file
        dying = worker(f"dying-{attempt}")
        try:
            # No ping: a solo worker busy with the audit answers only once it is done. A killed
            # worker's task comes back once Redis's visibility timeout has passed.
            deadline = time.monotonic() + 150
            while True:
                job.refresh_from_db()
                if job.state == AuditState.RUNNING and job.attempts == attempt and 0 < job.rows_done < batch_rows:
                    break
                assert job.state == AuditState.RUNNING or job.attempts < attempt, job.error
                assert dying.process.poll() is None, f"worker {attempt} exited.\n{dying.log()}"
                assert time.monotonic() < deadline, f"run {attempt} never started.\n{dying.log()}"
                time.sleep(0.02)
            os.kill(dying.process.pid, signal.SIGKILL)
            dying.process.wait(timeout=10)
        finally:
            dying.stop()

    last = worker("last")
    try:
        last.wait_ready()
        deadline = time.monotonic() + 150
        while True:
            job.refresh_from_db()
            if job.state in (AuditState.SUCCEEDED, AuditState.FAILED):
                break
            assert time.monotonic() < deadline, f"the audit was not redelivered.\n{last.log()}"
            time.sleep(0.2)
    finally:
        last.stop()

    assert job.state == AuditState.FAILED
    assert job.error == "The worker running this audit died twice (killed or out of memory); not retrying."
    assert job.attempts == 2  # the third delivery did not run the audit
