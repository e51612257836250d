"""A schedule set in Keel runs by itself: a real `celery beat` process with django-celery-beat's
database scheduler sends the tick, a real worker audits the day's file (Redis, PostgreSQL)."""

import shutil
import time
import uuid
from datetime import date
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from audits.models import Alert, AuditJob, AuditState
from demo.batches import clean_batch, to_csv
from tests.audits.factories import AuditScheduleFactory
from tests.integration.processes import CeleryProcess

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

DATABASE_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"


class BeatProcess(CeleryProcess):
    """`celery -A mlops beat` with django-celery-beat's database scheduler, waking every second."""

    def __init__(self, *, database_url: str, log_path: Path):
        arguments = ["beat", "--loglevel=INFO", "--max-interval=1", "--pidfile=", "-S", DATABASE_SCHEDULER]
        super().__init__(arguments, database_url=database_url, log_path=log_path)


def test_beat_fires_a_schedule_and_the_worker_audits_the_days_file(
    celery_worker, test_database_url, tmp_path, reviewer, pipeline, django_capture_on_commit_callbacks
):
    from mlops.celery import app as celery_app
    from tests.audits.reference_scenario import upsell_reference_for

    celery_app.conf.task_always_eager = True  # the reference is built in-process, the schedule by the worker
    try:
        model = upsell_reference_for(reviewer, pipeline, django_capture_on_commit_callbacks)
    finally:
        celery_app.conf.task_always_eager = False

    # The worker reads the default data root; this test's files live in a folder of their own there.
    folder = f"beat-test-{uuid.uuid4().hex[:8]}"
    drop = Path(django_settings.KEEL_DATA_ROOT) / folder
    drop.mkdir(parents=True)
    beat = None
    try:
        today = time.strftime("%Y-%m-%d", time.gmtime())
        frame = clean_batch(2000, start=date(2026, 10, 1), end=date(2026, 10, 31), seed=8, first_customer=70_000)
        (drop / f"{today}.csv").write_bytes(to_csv(frame))
        schedule = AuditScheduleFactory(model=model, actor=reviewer, storage_path=f"{folder}/%Y-%m-%d.csv")
        # Fire every 2 seconds instead of waiting for 06:00: the same PeriodicTask, another clock.
        every_two, _ = IntervalSchedule.objects.get_or_create(every=2, period=IntervalSchedule.SECONDS)
        PeriodicTask.objects.filter(pk=schedule.periodic_task_id).update(crontab=None, interval=every_two)

        beat = BeatProcess(database_url=test_database_url, log_path=tmp_path / "beat.log")
        deadline = time.monotonic() + 90
        while True:
            jobs = list(AuditJob.objects.filter(schedule=schedule).order_by("created_at"))
            stale = Alert.objects.filter(model=model, check_name="staleness").first()
            if jobs and jobs[0].state == AuditState.SUCCEEDED and stale is not None:
                break
            assert beat.process.poll() is None, f"beat exited.\n{beat.log()}"
            assert time.monotonic() < deadline, f"no scheduled audit finished.\n{beat.log()}\n{celery_worker.log()}"
            time.sleep(0.5)
    finally:
        if beat is not None:
            beat.stop()
        shutil.rmtree(drop, ignore_errors=True)

    first = jobs[0]
    assert first.verdict in ("pass", "warn") and first.trigger_key  # beat's task id
    assert first.batch.storage_path == f"{folder}/{today}.csv"
    # The next tick found the same bytes again: the feed did not refresh, and Keel says so once.
    assert "same bytes" in stale.message
    assert len({job.trigger_key for job in jobs}) == len(jobs)
