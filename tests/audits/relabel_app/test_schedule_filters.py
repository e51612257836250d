"""A scheduled campaign's template names a surface or segment too: each run samples only those
predictions, edits to the filters are kept in the history, and bad filters are refused by field."""

from datetime import timedelta

import pytest

from audits import services
from audits.models import CampaignState, RelabelSchedule
from tests.audits.relabel_app.churn_log import START

pytestmark = pytest.mark.django_db
URL = "/api/v1/relabel/schedules/"
RUN_AT = START + timedelta(days=7)
TEMPLATE = {
    "model": "churn",
    "name": "weekly-app",
    "cron": "0 6 * * mon",
    "design": {"kind": "uniform", "rate": 1.0},
    "surfaces": ["app"],
    "segment": {"country": ["DE", "FR"]},
}


@pytest.fixture
def weekly(segmented, api_as, reviewer):
    response = api_as(reviewer).post(URL, TEMPLATE, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["surfaces"], body["segment"]) == (["app"], {"country": ["DE", "FR"]})
    return RelabelSchedule.objects.get(name="weekly-app")


def test_each_run_samples_only_the_templates_surface_and_segment(weekly, segmented, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        run = services.scheduled_campaign_run(schedule_id=weekly.pk, trigger_key="beat-1", now=RUN_AT)
    campaign = run.campaign
    campaign.refresh_from_db()
    assert campaign.state == CampaignState.OPEN, campaign.error
    assert (campaign.surfaces, campaign.segment) == (["app"], {"country": ["DE", "FR"]})
    expected = segmented.ids(predicted_at__lt=RUN_AT, surface="app", features__country__in=["DE", "FR"])
    assert set(campaign.items.values_list("prediction_id", flat=True)) == expected
    assert campaign.population == len(expected)


def test_an_edit_of_the_filters_is_kept_in_the_history(weekly, api_as, reviewer):
    response = api_as(reviewer).patch(
        f"{URL}{weekly.pk}", {"segment": {"country": ["NL"]}, "surfaces": [], "reason": "NL launch"}, format="json"
    )
    assert response.status_code == 200, response.content
    weekly.refresh_from_db()
    assert (weekly.surfaces, weekly.segment) == ([], {"country": ["NL"]})
    edit = weekly.history.first()
    assert edit.changes["segment"] == {"before": {"country": ["DE", "FR"]}, "after": {"country": ["NL"]}}
    assert edit.changes["surfaces"] == {"before": ["app"], "after": []}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"segment": {"cuntry": ["DE"]}}, "segment"),
        ({"segment": {"country": []}}, "segment"),
        ({"surfaces": ["a b"]}, "surfaces"),
    ],
)
def test_a_template_with_bad_filters_is_refused_naming_the_field(segmented, api_as, pipeline, change, field):
    response = api_as(pipeline).post(URL, {**TEMPLATE, **change}, format="json")
    assert response.status_code == 400, response.content
    assert list(response.json()["detail"]) == [field]
    assert not RelabelSchedule.objects.exists()
