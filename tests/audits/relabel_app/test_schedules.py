"""A lead or a pipeline schedules relabelling campaigns: a template (design, labels, overlap, versions,
"the last N hours") run by django-celery-beat on a cron or every so many hours. Each run creates a
campaign named with its date over its window and draws it; a retried run creates no second one;
edits and deletions keep a history; bad templates are refused by field; labellers may not schedule."""

from datetime import timedelta

import pytest
from django.db import DatabaseError, transaction
from django_celery_beat.models import PeriodicTask, PeriodicTasks
from django_celery_beat.schedulers import ModelEntry

from audits import services
from audits.models import CampaignState, RelabelCampaign, RelabelSchedule, RelabelScheduleEvent, RelabelScheduleRun
from audits.tasks import run_relabel_schedule
from mlops.celery import app as celery_app
from tests.audits.relabel_app.churn_log import START

pytestmark = pytest.mark.django_db
URL = "/api/v1/relabel/schedules/"
# A Monday a week into churn's log: the last 7 days hold predictions of hours 0 to 167.
RUN_AT = START + timedelta(days=7)
WEEKLY = {
    "model": "churn",
    "name": "weekly-check",
    "cron": "0 6 * * mon",
    "design": {"kind": "uniform", "size": 20},
    "overlap_share": 0.5,
    "window_hours": 24 * 7,
}


@pytest.fixture
def weekly(churn, api_as, reviewer):
    response = api_as(reviewer).post(URL, WEEKLY, format="json")
    assert response.status_code == 201, response.content
    return RelabelSchedule.objects.get(name="weekly-check")


def beat_entry(schedule) -> ModelEntry:
    return ModelEntry(PeriodicTask.objects.get(pk=schedule.periodic_task_id), app=celery_app)


def test_a_lead_schedules_a_weekly_campaign_that_beat_runs(weekly):
    task = PeriodicTask.objects.get(pk=weekly.periodic_task_id)
    assert task.task == "audits.tasks.run_relabel_schedule" and task.args == f"[{weekly.pk}]"
    entry = beat_entry(weekly)
    assert (entry.schedule._orig_minute, entry.schedule._orig_hour, entry.schedule._orig_day_of_week) == (
        "0",
        "6",
        "mon",
    )
    created = weekly.history.get()
    assert created.action == "created" and created.changes["design"] == {"before": None, "after": WEEKLY["design"]}


def test_a_relabelling_schedule_and_its_history_read_like_an_audit_schedules(weekly):
    # Both kinds of schedule share their base model, so the admin and logs name them the same way.
    assert str(weekly) == "churn: weekly-check (0 6 * * mon)"
    assert str(weekly.history.get()) == f"churn: weekly-check created by {weekly.created_by}"


def test_a_pipeline_schedules_every_few_hours(churn, api_as, pipeline):
    body = {**WEEKLY, "cron": "", "every_hours": 6, "name": "six-hourly"}
    response = api_as(pipeline).post(URL, body, format="json")
    assert response.status_code == 201, response.content
    entry = beat_entry(RelabelSchedule.objects.get(name="six-hourly"))
    assert entry.schedule.run_every == timedelta(hours=6)


def test_each_run_creates_and_draws_a_campaign_named_with_its_date_over_its_window(
    weekly, churn, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        run = services.scheduled_campaign_run(schedule_id=weekly.pk, trigger_key="beat-1", now=RUN_AT)
    campaign = run.campaign
    campaign.refresh_from_db()
    assert campaign.name == "weekly-check 2026-11-09 00:00"
    assert (campaign.window_start, campaign.window_end) == (START, RUN_AT)
    assert campaign.state == CampaignState.OPEN and campaign.items_total == 20
    assert campaign.population == 168
    assert campaign.overlap_share == 0.5 and campaign.design == WEEKLY["design"]
    drawn = set(campaign.items.values_list("prediction_id", flat=True))
    assert drawn <= churn.ids(predicted_at__lt=RUN_AT)


def test_a_retried_run_creates_no_second_campaign(weekly, monkeypatch):
    monkeypatch.setattr("django.utils.timezone.now", lambda: RUN_AT)
    first = run_relabel_schedule.apply(args=[weekly.pk], task_id="beat-7").get()
    again = run_relabel_schedule.apply(args=[weekly.pk], task_id="beat-7").get()
    assert first == again and first["campaign_id"]
    assert RelabelCampaign.objects.count() == 1 and RelabelScheduleRun.objects.count() == 1
    later = services.scheduled_campaign_run(schedule_id=weekly.pk, trigger_key="beat-8", now=RUN_AT)
    assert later.campaign_id != first["campaign_id"] and RelabelCampaign.objects.count() == 2


def test_a_run_whose_template_no_longer_fits_says_why_and_creates_nothing(weekly):
    run = services.scheduled_campaign_run(schedule_id=weekly.pk, trigger_key="t1", now=START - timedelta(days=30))
    assert run.campaign is None and "no predicted classes" in run.error
    assert not RelabelCampaign.objects.exists()


def test_a_lead_edits_the_template_with_a_reason_and_beat_reloads(weekly, api_as, reviewer):
    changed_before = PeriodicTasks.last_change()
    response = api_as(reviewer).patch(
        f"{URL}{weekly.pk}",
        {"design": {"kind": "uniform", "rate": 0.05}, "cron": "30 7 * * *", "reason": "Daily now (REL-3)"},
        format="json",
    )
    assert response.status_code == 200, response.content
    edit = response.json()["history"][0]
    assert (edit["action"], edit["actor"], edit["reason"]) == ("edited", "rita-reviewer", "Daily now (REL-3)")
    assert edit["changes"] == {
        "cron": {"before": "0 6 * * mon", "after": "30 7 * * *"},
        "design": {"before": WEEKLY["design"], "after": {"kind": "uniform", "rate": 0.05}},
    }
    assert beat_entry(weekly).schedule._orig_hour == "7"
    assert PeriodicTasks.last_change() != changed_before


def test_switching_to_an_interval_drops_the_cron(weekly, reviewer):
    services.relabel_schedule_update(schedule=weekly, actor=reviewer, reason="hourly", every_hours=1)
    weekly.refresh_from_db()
    assert (weekly.cron, weekly.every_hours) == ("", 1)
    assert beat_entry(weekly).schedule.run_every == timedelta(hours=1)


def test_an_edit_needs_a_reason_but_a_pause_does_not(weekly, api_as, reviewer):
    api = api_as(reviewer)
    refused = api.patch(f"{URL}{weekly.pk}", {"window_hours": 48}, format="json")
    assert refused.status_code == 400 and list(refused.json()["detail"]) == ["reason"]
    paused = api.patch(f"{URL}{weekly.pk}", {"enabled": False}, format="json")
    assert paused.status_code == 200 and paused.json()["history"][0]["action"] == "paused"
    assert not PeriodicTask.objects.get(pk=weekly.periodic_task_id).enabled
    assert services.scheduled_campaign_run(schedule_id=weekly.pk, trigger_key="t1", now=RUN_AT) is None


def test_a_deleted_schedule_never_runs_again_and_keeps_its_history(weekly, api_as, reviewer):
    response = api_as(reviewer).delete(f"{URL}{weekly.pk}?reason=Model+retired")
    assert response.status_code == 200, response.content
    assert response.json()["deleted_at"] and not PeriodicTask.objects.filter(pk=weekly.periodic_task_id).exists()
    assert services.scheduled_campaign_run(schedule_id=weekly.pk, trigger_key="t1", now=RUN_AT) is None
    assert [e["action"] for e in api_as(reviewer).get(f"{URL}{weekly.pk}").json()["history"]] == [
        "deleted",
        "created",
    ]
    assert api_as(reviewer).get(URL).json()["results"] == []


def test_the_history_cannot_be_rewritten(weekly):
    with pytest.raises(DatabaseError), transaction.atomic():
        RelabelScheduleEvent.objects.filter(schedule=weekly).update(reason="rewritten")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"design": {"kind": "uniform"}}, "design"),
        ({"design": {"kind": "audit_flagged", "size": 5, "audit": 99_999}}, "design"),
        ({"cron": "0 6 * *"}, "cron"),
        ({"cron": "", "every_hours": None}, "cron"),
        ({"every_hours": 6}, "cron"),
        ({"versions": [7]}, "versions"),
        ({"overlap_share": 2}, "overlap_share"),
        ({"label_set": ["unsure"]}, "label_set"),
        ({"window_hours": 0}, "window_hours"),
    ],
)
def test_a_bad_template_is_refused_naming_the_field(churn, api_as, pipeline, change, field):
    response = api_as(pipeline).post(URL, {**WEEKLY, **change}, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()["detail"], response.json()
    assert not RelabelSchedule.objects.exists() and not RelabelCampaign.objects.exists()


def test_a_name_is_taken_once_per_model(weekly, api_as, reviewer):
    response = api_as(reviewer).post(URL, WEEKLY, format="json")
    assert response.status_code == 409 and list(response.json()["detail"]) == ["name"]


def test_labellers_may_not_schedule(churn, api_as, labeller):
    assert api_as(labeller).post(URL, WEEKLY, format="json").status_code == 403
    assert api_as(labeller).get(URL).status_code == 403


def test_a_disagreement_template_compares_with_the_shadow_of_each_run(churn, reviewer):
    from registry.services.catalog import alias_point

    alias_point(model=churn.model, alias="production", version=churn.v1, actor=reviewer, reason="live")
    alias_point(model=churn.model, alias="shadow", version=churn.v2, actor=reviewer, reason="trying")
    schedule = services.relabel_schedule_create(
        model=churn.model,
        actor=reviewer,
        name="shadow-check",
        every_hours=24,
        design={"kind": "disagreement", "size": 5},
    )
    assert schedule.design == {"kind": "disagreement", "size": 5}  # resolved at each run, not frozen
    run = services.scheduled_campaign_run(schedule_id=schedule.pk, trigger_key="t1", now=RUN_AT)
    assert run.campaign.design["against"] == [2]
