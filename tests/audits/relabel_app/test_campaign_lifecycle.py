"""A campaign from the lead's side: its progress counted as labels come in (whatever its size),
closed from its page or by a pipeline, and its pages linked to each other."""

import pytest
from django.urls import reverse

from audits import selectors, services
from audits.models import CampaignState, RelabelProgress
from tests.audits.relabel_app.results_helpers import label_all

pytestmark = pytest.mark.django_db


def test_progress_counts_follow_answers_overlap_and_erasure(drawn, labeller, second_labeller):
    campaign = drawn(design={"kind": "uniform", "size": 6}, overlap_share=0.5, overlap_labels=2, seed=3)
    needed = sum(campaign.items.values_list("required_labels", flat=True))
    progress = selectors.campaign_progress(campaign)
    assert (progress["items"], progress["done"], progress["answers"], progress["answers_needed"]) == (6, 0, 0, needed)

    label_all(campaign, labeller)
    overlapped = campaign.items.filter(required_labels=2).count()
    progress = selectors.campaign_progress(campaign)
    assert (progress["answers"], progress["done"]) == (6, 6 - overlapped)

    # A person erased: their item leaves the queue and the counts are taken again from the items.
    erased = campaign.items.order_by("pk").first()
    services.relabel_items_withdraw(entity_id=erased.prediction.entity_id)
    progress = selectors.campaign_progress(campaign)
    assert progress["items"] == 5 and progress["withdrawn"] == 1
    assert progress["answers_needed"] == needed - erased.required_labels
    # The counts kept equal what counting every item says.
    counted = services.progress_counts(campaign.items.all())
    assert {row.stratum: row.done for row in RelabelProgress.objects.filter(campaign=campaign)} == {
        stratum: values["done"] for stratum, values in counted.items()
    }


def test_a_pipeline_closes_a_campaign_and_labellers_cannot(drawn, pipeline, labeller, api_as):
    campaign = drawn(design={"kind": "uniform", "size": 3})
    url = reverse("audits-api:relabel-campaign-close", args=[campaign.pk])
    assert api_as(labeller).post(url).status_code == 403
    answer = api_as(pipeline).post(url)
    assert answer.status_code == 200 and answer.json()["state"] == "closed"
    again = api_as(pipeline).post(url)
    assert again.status_code == 409 and "closed" in again.json()["message"]
    campaign.refresh_from_db()
    assert campaign.state == CampaignState.CLOSED


def test_a_lead_closes_a_campaign_from_its_page_and_moves_between_its_pages(drawn, reviewer, client_as):
    campaign = drawn(design={"kind": "uniform", "size": 3})
    client = client_as(reviewer)
    page = client.get(reverse("relabel:campaign", args=[campaign.pk])).content.decode()
    for name in ("relabel:lead-adjudicate", "relabel:lead-gold", "relabel:lead-team", "relabel:campaign-close"):
        assert reverse(name, args=[campaign.pk]) in page
    closed = client.post(reverse("relabel:campaign-close", args=[campaign.pk]), follow=True).content.decode()
    assert "is closed" in closed and 'id="close-campaign"' not in closed
    # The list shows a lead every campaign, closed ones too, each linked to its results.
    listing = client.get(reverse("relabel:list")).content.decode()
    assert reverse("relabel:campaign", args=[campaign.pk]) in listing and "Closed" in listing
