"""A reviewer edits or deletes an audit schedule, from its page or the API, saying why; the schedule
keeps a history of who changed what (before and after), when and why, which nobody can rewrite. Beat
runs the new settings from its next tick, and a deleted schedule never runs again but its history
stays readable."""

from datetime import UTC, datetime

import pytest
from django.db import DatabaseError, connection, transaction
from django.urls import reverse
from django_celery_beat.models import PeriodicTask, PeriodicTasks
from django_celery_beat.schedulers import ModelEntry

from audits import models, services
from audits.models import AuditJob, AuditSchedule
from mlops.celery import app as celery_app
from tests.audits.factories import ReferenceProfileFactory
from tests.audits.reference_scenario import upsell_in_production

URL = "/api/v1/models/upsell/audit-schedules"
NOV_23 = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)


@pytest.fixture
def data_root(settings, tmp_path):
    settings.KEEL_DATA_ROOT = tmp_path / "data"
    for folder in ("incoming", "feeds/signups"):
        (settings.KEEL_DATA_ROOT / folder).mkdir(parents=True)
    return settings.KEEL_DATA_ROOT


@pytest.fixture
def daily(db, media, data_root, reviewer, pipeline, api_as):
    """The upsell model's daily audit of incoming/<day>.csv at 06:00, made by the reviewer."""
    _, version = upsell_in_production(reviewer, pipeline)
    ReferenceProfileFactory(version=version, batch__created_by=pipeline)
    response = api_as(reviewer).post(
        URL,
        {"name": "daily-feed", "source": "storage_path", "cron": "0 6 * * *", "storage_path": "incoming/%Y-%m-%d.csv"},
        format="json",
    )
    assert response.status_code == 201, response.content
    return AuditSchedule.objects.get(name="daily-feed")


def drop(root, path: str) -> None:
    (root / path).write_text("customer_id,plan\n1,basic\n2,pro\n")


def beat_entry(schedule: AuditSchedule) -> ModelEntry:
    """What django-celery-beat's database scheduler would run for this schedule."""
    return ModelEntry(PeriodicTask.objects.get(pk=schedule.periodic_task_id), app=celery_app)


def test_a_reviewer_moves_the_feed_and_the_next_run_reads_the_new_path_at_the_new_time(
    daily, data_root, reviewer, api_as
):
    changed_before = PeriodicTasks.last_change()
    response = api_as(reviewer).patch(
        f"{URL}/daily-feed",
        {
            "storage_path": "feeds/signups/%Y-%m-%d.csv",
            "cron": "30 7 * * mon-fri",
            "reason": "The export moved (OPS-88)",
        },
        format="json",
    )
    assert response.status_code == 200, response.content

    entry = beat_entry(daily)
    assert (entry.schedule._orig_minute, entry.schedule._orig_hour, entry.schedule._orig_day_of_week) == (
        "30",
        "7",
        "mon-fri",
    )
    assert PeriodicTasks.last_change() != changed_before  # a running beat reloads its schedule
    drop(data_root, "feeds/signups/2026-11-23.csv")
    job = services.scheduled_audit_run(schedule_id=daily.pk, trigger_key="t1", now=NOV_23)
    assert job is not None and job.batch.storage_path == "feeds/signups/2026-11-23.csv"

    edit = response.json()["history"][0]
    assert (edit["action"], edit["actor"], edit["reason"]) == ("edited", "rita-reviewer", "The export moved (OPS-88)")
    assert edit["changes"] == {
        "cron": {"before": "0 6 * * *", "after": "30 7 * * mon-fri"},
        "storage_path": {"before": "incoming/%Y-%m-%d.csv", "after": "feeds/signups/%Y-%m-%d.csv"},
    }
    assert edit["created_at"] and response.json()["history"][-1]["action"] == "created"


def test_the_schedule_page_shows_who_changed_what_when_and_why(daily, client, reviewer):
    client.force_login(reviewer)
    page = reverse("audits:schedule", args=["upsell", "daily-feed"])
    edit = {"source": "storage_path", "cron": "0 6 * * *", "storage_path": "incoming/%Y-%m-%d.csv", "format": ""}
    response = client.post(
        page, {**edit, "window_hours": 24, "cron": "0 5 * * *", "reason": "Earlier", "action": "edit"}
    )
    assert response.status_code == 302
    body = client.get(page).content.decode()
    assert "rita-reviewer" in body and "Earlier" in body and "0 6 * * *" in body and "0 5 * * *" in body
    assert "UTC" in body  # when, with its zone
    assert AuditSchedule.objects.get().cron == "0 5 * * *"


def test_a_deleted_schedule_never_runs_again_and_keeps_its_history(daily, data_root, reviewer, api_as, client):
    api = api_as(reviewer)
    response = api.delete(f"{URL}/daily-feed?reason=Feed+retired+with+the+old+CRM")
    assert response.status_code == 200, response.content
    assert response.json()["deleted_at"] and not PeriodicTask.objects.filter(pk=daily.periodic_task_id).exists()

    drop(data_root, "incoming/2026-11-23.csv")  # a tick beat queued before the deletion
    assert services.scheduled_audit_run(schedule_id=daily.pk, trigger_key="late", now=NOV_23) is None
    assert not AuditJob.objects.exists()

    assert api.get(URL).json()["count"] == 0
    kept = api.get(f"{URL}/daily-feed").json()
    assert [e["action"] for e in kept["history"]] == ["deleted", "created"]
    assert kept["history"][0]["reason"] == "Feed retired with the old CRM"
    client.force_login(reviewer)
    body = client.get(reverse("audits:schedule", args=["upsell", "daily-feed"])).content.decode()
    assert "Feed retired with the old CRM" in body and "Deleted" in body
    assert "daily-feed" in client.get("/audits/schedules/upsell/").content.decode()
    assert api.patch(f"{URL}/daily-feed", {"cron": "0 7 * * *", "reason": "x"}, format="json").status_code == 409


def test_a_reviewer_deletes_from_the_page_with_a_reason_and_a_confirmation(daily, client, reviewer):
    client.force_login(reviewer)
    page = reverse("audits:schedule", args=["upsell", "daily-feed"])
    unconfirmed = client.post(page, {"action": "delete", "reason": "Retired"})
    assert unconfirmed.status_code == 400 and AuditSchedule.objects.get().deleted_at is None
    assert client.post(page, {"action": "delete", "reason": "Retired", "confirm": "on"}).status_code == 302
    assert AuditSchedule.objects.get().deleted_at is not None


def test_an_edit_or_a_deletion_without_a_reason_is_refused(daily, reviewer, api_as, client):
    api = api_as(reviewer)
    for body in ({"cron": "0 7 * * *"}, {"cron": "0 7 * * *", "reason": "  "}):
        response = api.patch(f"{URL}/daily-feed", body, format="json")
        assert response.status_code == 400 and "reason" in response.json()["detail"], response.content
    for query in ("", "?reason=", "?reason=+++"):
        response = api.delete(f"{URL}/daily-feed{query}")
        assert response.status_code == 400 and "reason" in response.json()["detail"], (query, response.content)
    response = api.delete(f"{URL}/daily-feed", {}, format="json")
    assert response.status_code == 400 and "reason" in response.json()["detail"]

    client.force_login(reviewer)
    page = reverse("audits:schedule", args=["upsell", "daily-feed"])
    edit = {"action": "edit", "source": "storage_path", "cron": "0 7 * * *", "storage_path": "incoming/%d.csv"}
    assert client.post(page, {**edit, "window_hours": 24, "reason": ""}).status_code == 400
    assert client.post(page, {"action": "delete", "reason": "", "confirm": "on"}).status_code == 400
    daily.refresh_from_db()
    assert (daily.cron, daily.deleted_at) == ("0 6 * * *", None)
    assert list(daily.history.values_list("action", flat=True)) == ["created"]


@pytest.mark.parametrize("path", ["../../etc/passwd", "/etc/%Y.csv", ""])
def test_an_invalid_path_gets_the_error_creation_gives(daily, reviewer, api_as, path):
    api = api_as(reviewer)
    created = api.post(
        URL, {"name": "other", "source": "storage_path", "cron": "0 6 * * *", "storage_path": path}, format="json"
    )
    edited = api.patch(f"{URL}/daily-feed", {"storage_path": path, "reason": "move"}, format="json")
    assert created.status_code == edited.status_code == 400
    assert edited.json()["detail"]["storage_path"] == created.json()["detail"]["storage_path"]
    assert AuditSchedule.objects.get().storage_path == "incoming/%Y-%m-%d.csv"


def test_an_invalid_cron_gets_the_error_creation_gives(daily, reviewer, api_as):
    api = api_as(reviewer)
    created = api.post(URL, {"name": "other", "source": "serving_log", "cron": "every day"}, format="json")
    edited = api.patch(f"{URL}/daily-feed", {"cron": "every day", "reason": "x"}, format="json")
    assert created.status_code == edited.status_code == 400
    assert edited.json()["detail"]["cron"] == created.json()["detail"]["cron"]


@pytest.mark.parametrize("actor", ["pipeline", "agent", "labeller", "outsider"])
def test_only_reviewers_edit_or_delete_schedules(daily, api_as, request, actor):
    api = api_as(request.getfixturevalue(actor))
    assert api.patch(f"{URL}/daily-feed", {"cron": "0 7 * * *", "reason": "x"}, format="json").status_code == 403
    assert api.delete(f"{URL}/daily-feed", {"reason": "x"}, format="json").status_code == 403
    assert AuditSchedule.objects.get().deleted_at is None


def test_pausing_from_the_page_is_in_the_history_with_who_did_it(daily, client, reviewer):
    client.force_login(reviewer)
    client.post("/audits/schedules/upsell/", {"action": "pause", "schedule": "daily-feed"})
    paused = daily.history.first()
    assert (paused.action, paused.actor, paused.changes) == (
        "paused",
        reviewer,
        {"enabled": {"before": True, "after": False}},
    )


def test_the_history_cannot_be_rewritten(daily, reviewer, client):
    event = daily.history.get()
    with pytest.raises(DatabaseError), transaction.atomic():
        models.AuditScheduleEvent.objects.filter(pk=event.pk).update(reason="nothing happened")
    if connection.vendor == "postgresql":  # SQLite's test reset deletes rows, so only UPDATE is refused there
        with pytest.raises(DatabaseError), transaction.atomic():
            models.AuditScheduleEvent.objects.filter(pk=event.pk).delete()
    reviewer.is_staff = reviewer.is_superuser = True
    reviewer.save()
    client.force_login(reviewer)
    change = reverse("admin:audits_auditscheduleevent_change", args=[event.pk])
    assert client.get(change).status_code == 200  # readable
    assert client.post(change, {"reason": "nothing happened"}).status_code == 403
    delete = reverse("admin:audits_auditscheduleevent_delete", args=[event.pk])
    assert client.post(delete, {"post": "yes"}).status_code == 403
    assert models.AuditScheduleEvent.objects.get(pk=event.pk).reason == ""


def test_a_change_that_changes_nothing_answers_the_schedule_and_records_nothing(daily, reviewer, api_as):
    api = api_as(reviewer)
    before = api.get(f"{URL}/daily-feed").json()
    for body in ({"cron": before["cron"], "reason": "Same again"}, {}):
        response = api.patch(f"{URL}/daily-feed", body, format="json")
        assert response.status_code == 200, response.content
        assert response.json()["history"] == before["history"]
    no_body = api.generic("PATCH", f"{URL}/daily-feed", "", content_type="application/json")
    assert no_body.status_code == 400 and "JSON object" in no_body.json()["message"]
