"""An audit whose worker dies every time it runs it (killed, out of memory) is not redelivered for
ever: after two deaths the next delivery ends it failed with that reason, and the work is not run a
third time (real worker processes, Redis, PostgreSQL)."""

import os
import signal
import time

import pytest

from audits.models import AuditState
from audits.tasks import run_audit
from tests.integration.processes import BIG_AUDIT_ROWS, audit_ended, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

QUEUE = "audit-kills-every-worker"


def test_an_audit_that_kills_its_worker_twice_ends_failed(integration_services, big_audit, audit_worker):
    job = big_audit
    run_audit.apply_async(args=[job.pk], queue=QUEUE)
    for attempt in (1, 2):  # each worker dies part-way through the file
        dying = audit_worker(f"dying-{attempt}", QUEUE)
        try:
            # No ping: a solo worker busy with the audit answers only once it is done. A killed
            # worker's task comes back once Redis's visibility timeout has passed.
            deadline = time.monotonic() + 150
            while True:
                job.refresh_from_db()
                if job.state == AuditState.RUNNING and job.attempts == attempt and 0 < job.rows_done < BIG_AUDIT_ROWS:
                    break
                assert job.state == AuditState.RUNNING or job.attempts < attempt, job.error
                assert dying.process.poll() is None, f"worker {attempt} exited.\n{dying.log()}"
                assert time.monotonic() < deadline, f"run {attempt} never started.\n{dying.log()}"
                time.sleep(0.02)
            os.kill(dying.process.pid, signal.SIGKILL)
            dying.process.wait(timeout=10)
        finally:
            dying.stop()

    last = audit_worker("last", QUEUE)
    try:
        last.wait_ready()
        job = wait_for(lambda: audit_ended(job), last, "the redelivered audit", timeout=150)
    finally:
        last.stop()

    assert job.state == AuditState.FAILED
    assert job.error == "The worker running this audit died twice (killed or out of memory); not retrying."
    assert job.attempts == 2  # the third delivery did not run the audit
