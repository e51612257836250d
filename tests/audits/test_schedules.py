"""Audits run by themselves on a schedule (django-celery-beat): the daily file of a feed, or the
serving log of the last hours. A feed that does not arrive, or arrives unchanged, is an alert."""

from datetime import UTC, date, datetime, timedelta

import pytest
from django_celery_beat.models import PeriodicTask

from audits import services
from audits.models import Alert, AlertState, AuditJob, AuditSchedule
from demo.batches import clean_batch, to_csv
from tests.audits.factories import AuditScheduleFactory

NOV_23 = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)


@pytest.fixture
def data_root(settings, tmp_path):
    settings.KEEL_DATA_ROOT = tmp_path / "data"
    (settings.KEEL_DATA_ROOT / "incoming").mkdir(parents=True)
    return settings.KEEL_DATA_ROOT


def drop_file(root, day: date, seed: int = 3):
    frame = clean_batch(2000, start=date(2026, 10, 1), end=date(2026, 10, 31), seed=seed, first_customer=90_000)
    (root / "incoming" / f"{day:%Y-%m-%d}.csv").write_bytes(to_csv(frame))


@pytest.fixture
def daily(upsell_with_reference, data_root, reviewer, api_as):
    response = api_as(reviewer).post(
        "/api/v1/models/upsell/audit-schedules",
        {"name": "daily-feed", "source": "storage_path", "cron": "0 6 * * *", "storage_path": "incoming/%Y-%m-%d.csv"},
        format="json",
    )
    assert response.status_code == 201, response.content
    return AuditSchedule.objects.get(name="daily-feed")


def test_a_reviewer_schedules_a_daily_audit_and_beat_knows_it(daily):
    task = PeriodicTask.objects.get(pk=daily.periodic_task_id)
    assert task.task == "audits.tasks.run_scheduled_audit" and task.args == f"[{daily.pk}]"
    assert (task.crontab.minute, task.crontab.hour, task.crontab.day_of_week) == ("0", "6", "*")
    assert task.enabled


def test_a_bad_cron_expression_is_a_field_error(upsell_with_reference, reviewer, api_as):
    for cron in ("every morning", "61 6 * * *"):
        response = api_as(reviewer).post(
            "/api/v1/models/upsell/audit-schedules", {"name": "x", "source": "serving_log", "cron": cron}, format="json"
        )
        assert response.status_code == 400 and "cron" in response.json()["detail"], cron
    assert not AuditSchedule.objects.exists() and not PeriodicTask.objects.filter(name__startswith="keel-").exists()


def test_a_file_schedule_needs_a_path(upsell_with_reference, reviewer, api_as):
    response = api_as(reviewer).post(
        "/api/v1/models/upsell/audit-schedules",
        {"name": "x", "source": "storage_path", "cron": "0 6 * * *"},
        format="json",
    )
    assert response.status_code == 400 and "storage_path" in response.json()["detail"]


@pytest.mark.parametrize(
    "actor, status", [("reviewer", 201), ("pipeline", 403), ("agent", 403), ("labeller", 403), ("outsider", 403)]
)
def test_who_may_schedule_audits(upsell_with_reference, api_as, request, actor, status):
    response = api_as(request.getfixturevalue(actor)).post(
        "/api/v1/models/upsell/audit-schedules",
        {"name": "logs", "source": "serving_log", "cron": "0 * * * *"},
        format="json",
    )
    assert response.status_code == status


def test_the_days_file_is_audited_when_the_schedule_fires(daily, data_root, django_capture_on_commit_callbacks):
    drop_file(data_root, NOV_23.date())
    with django_capture_on_commit_callbacks(execute=True):
        job = services.scheduled_audit_run(schedule_id=daily.pk, trigger_key="beat-1", now=NOV_23)
    job.refresh_from_db()
    assert job.state == "succeeded" and job.verdict in ("pass", "warn")
    assert job.batch.storage_path == "incoming/2026-11-23.csv" and job.schedule == daily


def test_a_redelivered_tick_starts_one_audit(daily, data_root, django_capture_on_commit_callbacks):
    drop_file(data_root, NOV_23.date())
    with django_capture_on_commit_callbacks(execute=True):
        first = services.scheduled_audit_run(schedule_id=daily.pk, trigger_key="beat-1", now=NOV_23)
        again = services.scheduled_audit_run(schedule_id=daily.pk, trigger_key="beat-1", now=NOV_23)
    assert first.pk == again.pk and AuditJob.objects.filter(schedule=daily).count() == 1


def test_a_missing_file_is_one_staleness_alert_until_the_feed_returns(
    daily, data_root, django_capture_on_commit_callbacks
):
    services.scheduled_audit_run(schedule_id=daily.pk, trigger_key="t1", now=NOV_23)
    services.scheduled_audit_run(schedule_id=daily.pk, trigger_key="t2", now=NOV_23 + timedelta(days=1))
    alert = Alert.objects.get(check_name="staleness")
    assert alert.state == AlertState.OPEN and alert.occurrences == 2 and alert.severity == "error"
    assert "incoming/2026-11-24.csv" in alert.message and "late or stopped" in alert.message
    drop_file(data_root, date(2026, 11, 25))
    with django_capture_on_commit_callbacks(execute=True):
        services.scheduled_audit_run(schedule_id=daily.pk, trigger_key="t3", now=NOV_23 + timedelta(days=2))
    alert.refresh_from_db()
    assert alert.state == AlertState.RESOLVED


def test_a_feed_that_sends_yesterdays_bytes_again_is_stale(daily, data_root, django_capture_on_commit_callbacks):
    drop_file(data_root, date(2026, 11, 23), seed=3)
    drop_file(data_root, date(2026, 11, 24), seed=3)  # the same rows: the export did not refresh
    with django_capture_on_commit_callbacks(execute=True):
        services.scheduled_audit_run(schedule_id=daily.pk, trigger_key="t1", now=NOV_23)
        services.scheduled_audit_run(schedule_id=daily.pk, trigger_key="t2", now=NOV_23 + timedelta(days=1))
    assert "same bytes" in Alert.objects.get(check_name="staleness").message


def test_a_paused_schedule_does_nothing(daily, data_root, reviewer, api_as):
    response = api_as(reviewer).patch(
        "/api/v1/models/upsell/audit-schedules/daily-feed", {"enabled": False}, format="json"
    )
    assert response.status_code == 200 and response.json()["enabled"] is False
    assert not PeriodicTask.objects.get(pk=daily.periodic_task_id).enabled
    drop_file(data_root, NOV_23.date())
    assert services.scheduled_audit_run(schedule_id=daily.pk, trigger_key="t1", now=NOV_23) is None
    assert not AuditJob.objects.filter(schedule=daily).exists()


def test_a_serving_log_schedule_with_no_predictions_alerts(upsell_with_reference, reviewer):
    schedule = AuditScheduleFactory(model=upsell_with_reference, actor=reviewer, source="serving_log", window_hours=1)
    assert services.scheduled_audit_run(schedule_id=schedule.pk, trigger_key="t1", now=NOV_23) is None
    assert "logged no predictions" in Alert.objects.get(check_name="staleness").message
