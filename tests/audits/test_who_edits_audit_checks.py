"""Suites and schedules decide what a model's data is checked against, so they are the reviewers':
a pipeline sends batches and starts audits of its own data, but cannot weaken the checks on it."""

import json

import pytest
from django.urls import reverse

from audits.models import AuditSchedule, AuditSuite
from tests.audits.factories import AuditScheduleFactory
from tests.clients import page

LOGS = {"name": "logs", "source": "serving_log", "cron": "0 * * * *"}


@pytest.fixture
def hourly(upsell_with_reference, reviewer):
    return AuditScheduleFactory(
        model=upsell_with_reference, actor=reviewer, name="hourly", source="serving_log", cron="0 * * * *"
    )


# --- the API ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("actor, status", [("pipeline", 403), ("reviewer", 201)])
def test_only_a_reviewer_creates_a_schedule_through_the_api(upsell_with_reference, api_as, request, actor, status):
    response = api_as(request.getfixturevalue(actor)).post("/api/v1/models/upsell/audit-schedules", LOGS, format="json")
    assert response.status_code == status, response.content
    assert AuditSchedule.objects.filter(name="logs").exists() == (status == 201)


@pytest.mark.parametrize("actor, status", [("pipeline", 403), ("reviewer", 200)])
def test_only_a_reviewer_pauses_a_schedule_through_the_api(hourly, api_as, request, actor, status):
    response = api_as(request.getfixturevalue(actor)).patch(
        "/api/v1/models/upsell/audit-schedules/hourly", {"enabled": False}, format="json"
    )
    assert response.status_code == status, response.content
    hourly.refresh_from_db()
    assert hourly.enabled is (status != 200)


@pytest.mark.parametrize("actor, status", [("pipeline", 403), ("reviewer", 200)])
def test_only_a_reviewer_edits_a_suite_through_the_api(upsell_with_reference, api_as, request, actor, status):
    client = api_as(request.getfixturevalue(actor))
    suite = client.get("/api/v1/models/upsell/audit-suite").json()["suite"]
    loosened = {**suite, "columns": {}}
    response = client.put("/api/v1/models/upsell/audit-suite", {"suite": loosened}, format="json")
    assert response.status_code == status, response.content
    assert (AuditSuite.objects.get(model=upsell_with_reference).suite["columns"] == {}) == (status == 200)


def test_a_pipeline_still_reads_suites_and_schedules(hourly, api_as, pipeline):
    client = api_as(pipeline)
    assert client.get("/api/v1/models/upsell/audit-suite").status_code == 200
    assert [s["name"] for s in client.get("/api/v1/models/upsell/audit-schedules").json()["results"]] == ["hourly"]


# --- the pages --------------------------------------------------------------------------------------


def test_a_pipeline_account_sees_the_schedules_but_cannot_add_or_pause_one(hourly, client_as, pipeline):
    client = client_as(pipeline)
    url = reverse("audits:schedules", args=["upsell"])
    html = page(client, url)
    assert 'value="create"' not in html and 'value="pause"' not in html
    assert 'value="serving"' in html  # auditing the serving log is running an audit, which pipelines may
    assert client.post(url, {"action": "create", "window_hours": 1, **LOGS}).status_code == 403
    assert client.post(url, {"action": "pause", "schedule": "hourly"}).status_code == 403
    hourly.refresh_from_db()
    assert hourly.enabled and not AuditSchedule.objects.filter(name="logs").exists()


def test_a_reviewer_adds_and_pauses_schedules_from_the_page(hourly, client_as, reviewer):
    client = client_as(reviewer)
    url = reverse("audits:schedules", args=["upsell"])
    assert client.post(url, {"action": "create", "window_hours": 1, **LOGS}).status_code == 302
    assert client.post(url, {"action": "pause", "schedule": "hourly"}).status_code == 302
    hourly.refresh_from_db()
    assert not hourly.enabled and AuditSchedule.objects.filter(name="logs").exists()


def test_a_pipeline_account_reads_the_suite_page_but_cannot_edit_it(suite, client_as, pipeline):
    client = client_as(pipeline)
    url = reverse("audits:suite", args=["soom-upsell"])
    html = page(client, url)
    assert "Edit the rules" not in html and "Reviewers edit the suite." in html
    before = suite.suite
    response = client.post(url, {"suite": json.dumps({**before, "columns": {}})})
    assert response.status_code == 403
    suite.refresh_from_db()
    assert suite.suite == before


def test_a_reviewer_edits_the_suite_from_the_page(suite, client_as, reviewer):
    url = reverse("audits:suite", args=["soom-upsell"])
    response = client_as(reviewer).post(url, {"suite": json.dumps({**suite.suite, "history_batches": 5})})
    assert response.status_code == 302
    suite.refresh_from_db()
    assert suite.suite["history_batches"] == 5
