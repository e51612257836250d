"""What an item's label is once answered: agreement settles it, disagreement and "all unsure" go to a
lead, and a lead's decision wins over every answer."""

import pytest
from django.db import DatabaseError, transaction

from audits import selectors, services
from audits.models import RelabelAdjudication

pytestmark = pytest.mark.django_db


def _two_answers(campaign, labeller, second_labeller, first, second):
    [item] = campaign.items.all()
    for who, label in ((labeller, first), (second_labeller, second)):
        services.item_next(labeller=who, campaign=campaign)
        services.answer_submit(labeller=who, item=item, label=label)
    return item


@pytest.fixture
def overlapped(drawn):
    return drawn(design={"kind": "uniform", "size": 1}, overlap_share=1.0, overlap_labels=2)


def test_an_item_waits_for_all_its_labellers(overlapped, labeller):
    [item] = overlapped.items.all()
    services.item_next(labeller=labeller, campaign=overlapped)
    services.answer_submit(labeller=labeller, item=item, label="churn")
    [resolution] = selectors.campaign_resolutions(overlapped).values()
    assert (resolution.source, resolution.label) == ("pending", None)


def test_labellers_who_agree_settle_the_label_and_unsure_does_not_block(overlapped, labeller, second_labeller):
    item = _two_answers(overlapped, labeller, second_labeller, "churn", "unsure")
    resolution = selectors.campaign_resolutions(overlapped)[item.pk]
    assert (resolution.source, resolution.label) == ("agreed", "churn")
    assert resolution.answers == {labeller.pk: "churn", second_labeller.pk: "unsure"}


@pytest.mark.parametrize("answers", [("churn", "stay"), ("unsure", "unsure")])
def test_disagreement_or_everyone_unsure_goes_to_a_lead_whose_decision_wins(
    overlapped, labeller, second_labeller, reviewer, answers
):
    item = _two_answers(overlapped, labeller, second_labeller, *answers)
    assert selectors.campaign_resolutions(overlapped)[item.pk].source == "disputed"
    RelabelAdjudication.objects.create(item=item, lead=reviewer, label="stay")
    resolution = selectors.campaign_resolutions(overlapped)[item.pk]
    assert (resolution.source, resolution.label) == ("adjudicated", "stay")


def test_a_decision_is_kept_as_written(overlapped, reviewer):
    [item] = overlapped.items.all()
    decision = RelabelAdjudication.objects.create(item=item, lead=reviewer, label="stay")
    with pytest.raises(DatabaseError), transaction.atomic():
        RelabelAdjudication.objects.filter(pk=decision.pk).update(label="churn")


def test_the_estimate_counts_settled_items_against_the_model(drawn, labeller):
    campaign = drawn(design={"kind": "uniform", "size": 10})
    assert selectors.campaign_estimates_now(campaign) == {}
    items = list(campaign.items.select_related("prediction").order_by("pk"))
    for index, item in enumerate(items):
        services.item_next(labeller=labeller, campaign=campaign)
        flipped = {"churn": "stay", "stay": "churn"}[item.prediction.label]
        services.answer_submit(labeller=labeller, item=item, label=flipped if index < 3 else item.prediction.label)
    estimate = selectors.campaign_estimates_now(campaign)[None]
    assert (estimate["settled"], estimate["wrong"]) == (10, 3)
    assert estimate["error_rate"]["value"] == pytest.approx(0.3)
    assert estimate["error_rate"]["low"] < 0.3 < estimate["error_rate"]["high"]
    assert estimate["accuracy"]["value"] == pytest.approx(0.7)
    assert set(estimate["per_class"]) == {"churn", "stay"}
