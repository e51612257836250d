"""A reviewer schedules audits and audits the serving log from the model's schedules page; an agent
may look but not change anything."""

import pytest

from audits.models import AuditSchedule


@pytest.fixture
def page(upsell_with_reference):
    return "/audits/schedules/upsell/"


def daily_schedule(**fields) -> dict:
    """The page's form adding a daily schedule that reads the day's file, with `fields` changed."""
    return {
        "action": "create",
        "name": "daily",
        "source": "storage_path",
        "cron": "0 6 * * *",
        "storage_path": "incoming/%Y-%m-%d.csv",
        "window_hours": 24,
        **fields,
    }


def test_a_reviewer_adds_a_daily_schedule_from_the_page(page, client, reviewer):
    client.force_login(reviewer)
    response = client.post(page, daily_schedule(), follow=True)
    assert response.status_code == 200
    assert "beat runs it at" in response.content.decode()
    assert AuditSchedule.objects.get().storage_path == "incoming/%Y-%m-%d.csv"


def test_a_bad_schedule_is_shown_on_the_form(page, client, reviewer):
    client.force_login(reviewer)
    response = client.post(page, daily_schedule(cron="at six", storage_path="in/%Y.csv"))
    assert response.status_code == 400
    body = response.content.decode()
    assert "five fields" in body and not AuditSchedule.objects.exists()


def test_auditing_an_empty_serving_log_says_so(page, client, reviewer):
    client.force_login(reviewer)
    response = client.post(page, {"action": "serving", "hours": 24})
    assert response.status_code == 400 and "logged no predictions" in response.content.decode()


def test_a_reviewer_pauses_a_schedule(page, client, reviewer):
    client.force_login(reviewer)
    client.post(
        page, {"action": "create", "name": "logs", "source": "serving_log", "cron": "0 * * * *", "window_hours": 1}
    )
    client.post(page, {"action": "pause", "schedule": "logs"})
    assert AuditSchedule.objects.get().enabled is False


def test_an_agent_neither_sees_schedules_nor_adds_one(page, client, agent):
    client.force_login(agent)
    assert client.get(page).status_code == 403
    response = client.post(page, {"action": "create", "name": "x", "source": "serving_log", "cron": "0 * * * *"})
    assert response.status_code == 403 and not AuditSchedule.objects.exists()
