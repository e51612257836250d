"""When relabelling shows the live model below its policy's minimum (the interval's upper bound
below it), an alert opens and subscribers get the signed `model.degraded` webhook, once per
crossing; a later estimate back above resolves the alert. A model exactly at the minimum is flagged
in at most ~2.5% of campaigns."""

import numpy as np
import pytest

from audits import services
from audits.engine import relabel as engine
from audits.engine.relabel.degradation import below_minimum
from audits.models import Alert, AlertState, RelabelAdjudication
from registry import selectors as registry_selectors
from registry.models import NotificationChannel, NotificationDelivery, PromotionPolicy
from tests.audits.relabel_app.results_helpers import label_all

pytestmark = pytest.mark.django_db


@pytest.fixture
def subscribed(churn):
    """churn's policy asks for a live accuracy of at least 0.9; a pipeline's webhook listens."""
    PromotionPolicy.objects.create(model=churn.model, min_live_accuracy=0.9)
    return NotificationChannel.objects.create(
        name="retrain", kind="webhook", target="https://pipeline.example/hooks", events=["model.degraded"]
    )


def _deliveries():
    return list(NotificationDelivery.objects.filter(event="model.degraded").order_by("pk"))


def test_a_model_clearly_below_its_minimum_opens_an_alert_and_sends_the_webhook_once(
    drawn, churn, labeller, subscribed
):
    campaign = drawn(design={"kind": "uniform", "size": 20}, versions=[churn.v1])
    label_all(campaign, labeller, wrong=lambda item: item.pk % 2 == 0)

    [estimate] = services.estimate_refresh(campaign_id=campaign.pk)

    assert estimate.degraded and estimate.accuracy_high < 0.9 and estimate.minimum == 0.9
    alert = Alert.objects.get(model=churn.model, feed="relabelling", state=AlertState.OPEN)
    assert (alert.check_name, alert.column, alert.severity) == ("live_accuracy", "v1", "error")
    [delivery] = _deliveries()
    body = delivery.payload
    assert body["event"] == "model.degraded" and body["model"] == "churn"
    assert (body["campaign_id"], body["version"], body["minimum"]) == (campaign.pk, 1, 0.9)
    assert body["accuracy"] == {
        "value": estimate.accuracy,
        "low": estimate.accuracy_low,
        "high": estimate.accuracy_high,
    }
    assert body["url"].endswith(f"/relabel/{campaign.pk}/")
    assert body["labels_url"].endswith(f"/api/v1/relabel/campaigns/{campaign.pk}/labels?format=parquet")

    services.estimate_refresh(campaign_id=campaign.pk)  # a redelivered refresh: nothing new
    assert len(_deliveries()) == 1


def test_still_below_on_a_later_estimate_does_not_send_again(drawn, churn, labeller, reviewer, subscribed):
    campaign = drawn(design={"kind": "uniform", "size": 20}, versions=[churn.v1])
    items = label_all(campaign, labeller, wrong=lambda item: item.pk % 2 == 0)
    services.estimate_refresh(campaign_id=campaign.pk)
    wrongly_answered = next(item for item in items if item.pk % 2 == 0)
    RelabelAdjudication.objects.create(item=wrongly_answered, lead=reviewer, label=wrongly_answered.prediction.label)
    [later] = services.estimate_refresh(campaign_id=campaign.pk)
    assert later.degraded
    assert len(_deliveries()) == 1
    assert Alert.objects.get(feed="relabelling").occurrences == 2


def test_a_later_estimate_back_above_resolves_the_alert(drawn, churn, labeller, subscribed):
    bad = drawn(design={"kind": "uniform", "size": 20}, versions=[churn.v1], name="bad week")
    label_all(bad, labeller, wrong=lambda item: item.pk % 2 == 0)
    services.estimate_refresh(campaign_id=bad.pk)
    good = drawn(design={"kind": "uniform", "size": 40}, versions=[churn.v1], name="good week", seed=5)
    label_all(good, labeller)
    [estimate] = services.estimate_refresh(campaign_id=good.pk)
    assert not estimate.degraded
    alert = Alert.objects.get(feed="relabelling")
    assert alert.state == AlertState.RESOLVED and "good week" in alert.resolution_reason


def test_an_estimate_whose_interval_reaches_the_minimum_is_not_degraded(drawn, churn, labeller, subscribed):
    campaign = drawn(design={"kind": "uniform", "size": 5}, versions=[churn.v1])
    label_all(campaign, labeller, wrong=lambda item: item.pk == campaign.items.first().pk)
    [estimate] = services.estimate_refresh(campaign_id=campaign.pk)
    assert estimate.accuracy < 0.9 <= estimate.accuracy_high
    assert not estimate.degraded and not Alert.objects.exists() and not _deliveries()


def test_the_minimum_comes_from_the_policy(churn):
    assert registry_selectors.live_accuracy_minimum(churn.model) is None  # default: roc_auc, no floor
    policy = PromotionPolicy.objects.create(model=churn.model, primary_metric="accuracy", min_primary_metric=0.8)
    assert registry_selectors.live_accuracy_minimum(churn.model) == {"value": 0.8, "source": "min_primary_metric"}
    policy.min_live_accuracy = 0.85
    policy.save()
    assert registry_selectors.live_accuracy_minimum(churn.model) == {"value": 0.85, "source": "min_live_accuracy"}


@pytest.mark.parametrize("size", [200, 2000])
def test_a_model_exactly_at_the_minimum_fires_in_at_most_about_2_5_percent_of_campaigns(size):
    rng = np.random.default_rng(20261207)
    minimum, campaigns, population = 0.9, 1500, 1_000_000
    fired = 0
    for _ in range(campaigns):
        correct = rng.random(size) < minimum
        estimate = engine.accuracy(correct, np.full(size, size / population), population=population)
        fired += below_minimum(estimate.high, minimum)
    # one-sided 95%: 2.5% expected; the allowance is three standard errors of 1,500 campaigns
    assert fired / campaigns <= 0.025 + 3 * np.sqrt(0.025 * 0.975 / campaigns)


def test_a_reviewer_sets_the_live_minimum_through_the_api(api_as, reviewer, churn):
    response = api_as(reviewer).put("/api/v1/models/churn/policy", {"min_live_accuracy": 0.88}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["min_live_accuracy"] == 0.88
    assert registry_selectors.live_accuracy_minimum(churn.model)["value"] == 0.88
    refused = api_as(reviewer).put("/api/v1/models/churn/policy", {"min_live_accuracy": 1.5}, format="json")
    assert refused.status_code == 400 and "min_live_accuracy" in refused.json()["detail"]


def test_a_subscriber_may_ask_for_model_degraded_only(churn):
    channel = NotificationChannel(name="x", kind="webhook", target="https://a.example/", events=["model.degraded"])
    channel.full_clean()
    assert channel.wants("model.degraded", churn.model.pk) and not channel.wants("audit.alert_opened", churn.model.pk)


def test_the_audits_page_lists_the_open_relabelling_alert(drawn, churn, labeller, subscribed, client_as, reviewer):
    campaign = drawn(design={"kind": "uniform", "size": 20}, versions=[churn.v1])
    label_all(campaign, labeller, wrong=lambda item: item.pk % 2 == 0)
    services.estimate_refresh(campaign_id=campaign.pk)
    page = client_as(reviewer).get("/audits/?model=churn")
    assert page.status_code == 200
    assert "below the policy&#x27;s minimum" in page.content.decode()


def test_a_design_weighted_campaign_at_the_minimum_fires_rarely_too():
    """An uncertainty-style draw over-samples the hard cases (where the errors are); the weighted
    interval still flags a model exactly at the minimum in at most about 2.5% of campaigns."""
    rng = np.random.default_rng(7)
    population, minimum, campaigns = 20_000, 0.9, 800
    hard = rng.random(population) < 0.2
    wrong = np.zeros(population, dtype=bool)
    wrong[rng.choice(np.flatnonzero(hard), 1400, replace=False)] = True
    wrong[rng.choice(np.flatnonzero(~hard), 600, replace=False)] = True  # exactly 10% wrong in all
    pi = np.where(hard, 0.04, 0.01)
    fired = 0
    for _ in range(campaigns):
        drawn = rng.random(population) < pi
        estimate = engine.accuracy(~wrong[drawn], pi[drawn], population=population, design_kind="uncertainty")
        fired += below_minimum(estimate.high, minimum)
    assert fired / campaigns <= 0.025 + 3 * np.sqrt(0.025 * 0.975 / campaigns)
