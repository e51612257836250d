"""A campaign's estimate is stored as snapshots: recomputed after labels change (coalesced), once
per change, per version when the campaign covers several, and once more when the campaign closes."""

from unittest import mock

import pytest

from audits import services, tasks
from audits.models import CampaignState, RelabelAdjudication, RelabelEstimate
from mlops.errors import Conflict
from tests.audits.relabel_app.results_helpers import label_all

pytestmark = pytest.mark.django_db


def test_a_refresh_stores_the_estimate_once_per_change(drawn, churn, labeller):
    campaign = drawn(design={"kind": "uniform", "size": 10}, versions=[churn.v1])
    assert services.estimate_refresh(campaign_id=campaign.pk) == []  # nothing settled yet

    items = label_all(campaign, labeller, wrong=lambda item: item.pk % 5 == 0)
    [stored] = services.estimate_refresh(campaign_id=campaign.pk)

    wrong = sum(item.pk % 5 == 0 for item in items)
    assert (stored.settled, stored.wrong, stored.version) == (10, wrong, None)
    assert stored.accuracy == pytest.approx(1 - wrong / 10)
    assert stored.accuracy_low <= stored.accuracy <= stored.accuracy_high
    assert stored.method == "wilson"
    assert set(stored.per_class) <= {"churn", "stay"}
    assert services.estimate_refresh(campaign_id=campaign.pk) == []  # idempotent: nothing new
    assert RelabelEstimate.objects.filter(campaign=campaign).count() == 1


def test_an_adjudication_changes_the_estimate(drawn, churn, labeller, reviewer):
    campaign = drawn(design={"kind": "uniform", "size": 5}, versions=[churn.v1])
    items = label_all(campaign, labeller)
    services.estimate_refresh(campaign_id=campaign.pk)
    flipped = {"churn": "stay", "stay": "churn"}[items[0].prediction.label]
    RelabelAdjudication.objects.create(item=items[0], lead=reviewer, label=flipped)
    [again] = services.estimate_refresh(campaign_id=campaign.pk)
    assert again.wrong == 1


def test_a_campaign_over_two_versions_is_estimated_per_version_too(drawn, churn, labeller):
    campaign = drawn(design={"kind": "uniform", "rate": 0.1})
    label_all(campaign, labeller, wrong=lambda item: item.prediction.version_id == churn.v2.pk)
    stored = {e.version_id: e for e in services.estimate_refresh(campaign_id=campaign.pk)}
    assert set(stored) == {None, churn.v1.pk, churn.v2.pk}
    assert stored[churn.v1.pk].accuracy == 1.0
    assert stored[churn.v2.pk].accuracy == 0.0
    assert stored[None].settled == stored[churn.v1.pk].settled + stored[churn.v2.pk].settled


def test_answers_in_a_burst_queue_one_refresh_after_commit(drawn, labeller, django_capture_on_commit_callbacks):
    campaign = drawn(design={"kind": "uniform", "size": 5})
    with mock.patch.object(tasks.refresh_relabel_estimate, "apply_async") as send:
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            label_all(campaign, labeller)
        assert send.call_count == 0  # nothing before the answers commit
        for callback in callbacks:
            callback()
    assert send.call_count == 1
    assert send.call_args.args[0] == (campaign.pk,)
    assert send.call_args.kwargs["countdown"] > 0


def test_the_queued_refresh_runs_the_service(drawn, churn, labeller, django_capture_on_commit_callbacks):
    campaign = drawn(design={"kind": "uniform", "size": 4}, versions=[churn.v1])
    with django_capture_on_commit_callbacks(execute=True):
        label_all(campaign, labeller)  # eager Celery: the refresh runs at once
    assert RelabelEstimate.objects.filter(campaign=campaign).count() == 1


def test_closing_a_campaign_computes_its_final_estimate(
    drawn, churn, labeller, reviewer, django_capture_on_commit_callbacks
):
    campaign = drawn(design={"kind": "uniform", "size": 4}, versions=[churn.v1])
    label_all(campaign, labeller)
    services.estimate_refresh(campaign_id=campaign.pk)
    with django_capture_on_commit_callbacks(execute=True):
        closed = services.campaign_close(campaign=campaign, actor=reviewer)
    assert closed.state == CampaignState.CLOSED
    final = RelabelEstimate.objects.filter(campaign=campaign).first()
    assert final.campaign_closed and RelabelEstimate.objects.filter(campaign=campaign).count() == 2
    with pytest.raises(Conflict):
        services.campaign_close(campaign=closed, actor=reviewer)


def test_a_labeller_does_not_close_a_campaign(drawn, churn, labeller):
    from mlops.errors import ApplicationError

    campaign = drawn(design={"kind": "uniform", "size": 2}, versions=[churn.v1])
    with pytest.raises(ApplicationError) as refused:
        services.campaign_close(campaign=campaign, actor=labeller)
    assert refused.value.status_code == 403


def test_relabelling_alerts_have_their_own_feed_in_words():
    assert services.feed_describe(services.RELABEL_FEED) == "relabelling campaigns"
