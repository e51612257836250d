"""A lead reads a campaign's results page: progress, the live estimate with its intervals, the trend
across the model's campaigns beside the hold-out accuracy, error patterns and export links.
Labellers are sent to the labelling card."""

import pytest

from audits import plots, selectors, services
from registry import selectors as registry_selectors
from registry.models import PromotionPolicy, PromotionRequest
from tests.audits.relabel_app.results_helpers import label_all
from tests.factories import ModelVersionFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_campaigns(drawn, churn, labeller, pipeline):
    # v1's hold-out accuracy as the gate measured it when v1 was proposed for production
    PromotionRequest.objects.create(
        model=churn.model,
        version=churn.v1,
        reason="first model",
        submitted_by=pipeline,
        evidence={"metrics": {"candidate": {"accuracy": 0.93, "roc_auc": 0.97}}},
    )
    PromotionPolicy.objects.create(model=churn.model, min_live_accuracy=0.8)
    first = drawn(design={"kind": "uniform", "size": 10}, versions=[churn.v1], name="October")
    label_all(first, labeller, wrong=lambda item: item.pk % 5 == 0)
    services.estimate_refresh(campaign_id=first.pk)
    second = drawn(design={"kind": "uniform", "size": 20}, versions=[churn.v1], name="November", seed=3)
    label_all(second, labeller, wrong=lambda item: item.pk % 2 == 0)
    services.estimate_refresh(campaign_id=second.pk)
    return first, second


def test_a_lead_reads_progress_estimate_trend_patterns_and_exports(client_as, reviewer, two_campaigns):
    _, second = two_campaigns
    response = client_as(reviewer).get(f"/relabel/{second.pk}/")
    assert response.status_code == 200
    page = response.content.decode()
    [estimate] = selectors.campaign_latest_estimates(second)
    assert "20 of 20 items have all their answers" in page
    assert f"{100 * estimate.accuracy:.1f}%" in page and f"{100 * estimate.accuracy_high:.1f}%" in page
    assert "below the minimum 80.0%" in page  # the interval is wholly below the policy's minimum
    assert f"/relabel/{second.pk}/trend.png" in page
    assert "93.0%" in page  # v1's hold-out accuracy beside its live accuracy
    assert "October" in page and "November" in page
    for fmt in ("csv", "parquet", "jsonl"):
        assert f"/api/v1/relabel/campaigns/{second.pk}/labels?format={fmt}" in page
    assert 'id="patterns"' in page or "No feature value stands out" in page


def test_the_trend_pairs_each_campaign_with_its_versions_holdout(churn, two_campaigns):
    trend = selectors.model_estimate_trend(churn.model)
    assert [(p["campaign"], p["version"], p["holdout"]) for p in trend] == [
        ("October", 1, 0.93),
        ("November", 1, 0.93),
    ]
    figure = plots.relabel_trend_figure(trend, minimum=0.8)
    ax = figure.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["October", "November"]
    labels = ax.get_legend_handles_labels()[1]
    assert "v1 live" in labels and "v1 hold-out" in labels and "minimum 0.80" in labels


def test_the_trend_picture_is_a_png(client_as, reviewer, two_campaigns):
    response = client_as(reviewer).get(f"/relabel/{two_campaigns[0].pk}/trend.png")
    assert response.status_code == 200 and response["Content-Type"] == "image/png"
    assert response.content.startswith(b"\x89PNG")


def test_a_labeller_is_sent_to_the_labelling_card(client_as, labeller, two_campaigns):
    response = client_as(labeller).get(f"/relabel/{two_campaigns[0].pk}/")
    assert response.status_code == 302 and response["Location"].endswith(f"/relabel/{two_campaigns[0].pk}/label/")


def test_a_campaign_without_estimates_says_so(client_as, reviewer, drawn):
    campaign = drawn(design={"kind": "uniform", "size": 3})
    page = client_as(reviewer).get(f"/relabel/{campaign.pk}/").content.decode()
    assert "No estimate yet" in page
    assert plots.relabel_trend_png([]).startswith(b"\x89PNG")


def test_without_gate_evidence_the_recorded_metric_is_the_holdout(churn, pipeline):
    v3 = ModelVersionFactory(model=churn.model, created_by=pipeline, metrics={"accuracy": 0.91})
    assert registry_selectors.holdout_metric(v3) == {"value": 0.91, "source": "recorded"}
    assert registry_selectors.holdout_metric(churn.v2) is None
