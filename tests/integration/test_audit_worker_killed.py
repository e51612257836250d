"""A worker killed in the middle of an audit loses nothing: the task was not acknowledged, Redis hands
it to another worker, and the audit completes exactly once (real worker processes, Redis, PostgreSQL)."""

import os
import signal
import time

import pytest

from audits.models import AuditJob, AuditState, Finding
from audits.tasks import run_audit
from tests.integration.processes import BIG_AUDIT_ROWS, audit_ended, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

QUEUE = "audit-kill-test"  # only this test's workers read it, so we know which one is doing the work


def test_a_killed_worker_does_not_lose_the_audit(integration_services, big_audit, audit_worker):
    job = big_audit
    first = audit_worker("first", QUEUE)
    second = None
    try:
        first.wait_ready()
        run_audit.apply_async(args=[job.pk], queue=QUEUE)
        deadline = time.monotonic() + 60
        while True:  # wait until the audit is visibly part-way through the file
            job.refresh_from_db()
            if job.state == AuditState.RUNNING and 0 < job.rows_done < BIG_AUDIT_ROWS:
                break
            assert job.state != AuditState.SUCCEEDED, "the audit finished before it could be interrupted"
            assert time.monotonic() < deadline, f"the audit never started.\n{first.log()}"
            time.sleep(0.02)
        os.kill(first.process.pid, signal.SIGKILL)
        first.process.wait(timeout=10)
        interrupted_at = job.rows_done

        second = audit_worker("second", QUEUE)
        second.wait_ready()
        job = wait_for(lambda: audit_ended(job), second, "the redelivered audit", timeout=120)
    finally:
        first.stop()
        if second is not None:
            second.stop()

    assert job.state == AuditState.SUCCEEDED, job.error
    assert 0 < interrupted_at < BIG_AUDIT_ROWS
    assert job.attempts == 2 and job.rows_done == BIG_AUDIT_ROWS
    assert job.verdict == "fail"  # the shifted batch's drift is reported in full
    findings = list(Finding.objects.filter(job=job).values_list("check_name", "column"))
    assert len(findings) == len(set(findings))  # written once, not once per attempt
    assert AuditJob.objects.filter(batch=job.batch).count() == 1
