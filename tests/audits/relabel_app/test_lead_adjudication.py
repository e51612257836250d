"""A lead settles what the labellers did not: the disputed items wait in a queue showing each answer,
note and the model's prediction; the lead's label wins, and nobody settles a dispute they are part of."""

import pytest
from django.core.exceptions import PermissionDenied

from audits import selectors, services
from audits.models import RelabelAdjudication
from mlops import roles
from mlops.errors import ApplicationError, Conflict
from tests.audits.relabel_app.lead_scenario import work
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def disputed(drawn, labeller, second_labeller):
    """One item both labellers answered differently (with a note), and one they agreed on."""
    campaign = drawn(design={"kind": "uniform", "size": 2}, overlap_share=1.0, overlap_labels=2)
    first, second = campaign.items.order_by("pk")
    services.item_next(labeller=labeller, campaign=campaign)
    services.answer_submit(labeller=labeller, item=first, label="churn", note="cancelled twice", seconds=4)
    services.item_next(labeller=second_labeller, campaign=campaign)
    services.answer_submit(labeller=second_labeller, item=first, label="stay")
    work(campaign, labeller, ["stay"])
    work(campaign, second_labeller, ["stay"])
    return campaign, first, second


def test_the_disputes_queue_shows_each_answer_note_and_the_models_prediction(disputed):
    campaign, first, _ = disputed
    [dispute] = selectors.campaign_disputes(campaign)
    assert dispute["item"] == first
    assert dispute["prediction"].label == first.prediction.label
    assert [(a["labeller"], a["label"], a["note"]) for a in dispute["answers"]] == [
        ("lou-labeller", "churn", "cancelled twice"),
        ("lee-labeller", "stay", ""),
    ]


def test_the_leads_label_wins_and_the_item_leaves_the_queue(disputed, reviewer):
    campaign, first, _ = disputed
    decision = services.item_adjudicate(lead=reviewer, item=first, label="churn", note="called the customer")
    assert (decision.lead, decision.label, decision.note) == (reviewer, "churn", "called the customer")
    resolution = selectors.campaign_resolutions(campaign)[first.pk]
    assert (resolution.source, resolution.label) == ("adjudicated", "churn")
    assert selectors.campaign_disputes(campaign) == []
    # A later decision supersedes the earlier one; both are kept.
    services.item_adjudicate(lead=reviewer, item=first, label="stay")
    assert selectors.campaign_resolutions(campaign)[first.pk].label == "stay"
    assert RelabelAdjudication.objects.filter(item=first).count() == 2


@pytest.mark.parametrize("label", ["unsure", "maybe", ""])
def test_a_decision_is_a_label_of_the_campaign_and_not_unsure(disputed, reviewer, label):
    _, first, _ = disputed
    with pytest.raises(ApplicationError) as refused:
        services.item_adjudicate(lead=reviewer, item=first, label=label)
    assert "label" in refused.value.detail
    assert not RelabelAdjudication.objects.exists()


def test_only_leads_decide(disputed, labeller, pipeline):
    _, first, _ = disputed
    for who in (labeller, pipeline):
        with pytest.raises(PermissionDenied):
            services.item_adjudicate(lead=who, item=first, label="churn")


def test_a_lead_who_answered_the_item_may_not_decide_it(drawn, labeller):
    # Four eyes, as for promotions: a lead who also labels (both roles) cannot settle their own dispute.
    lead_labeller = UserFactory(username="lena-lead", groups=[roles.REVIEWERS, roles.LABELLERS])
    campaign = drawn(design={"kind": "uniform", "size": 1}, overlap_share=1.0, overlap_labels=2)
    [item] = work(campaign, labeller, ["churn"])
    work(campaign, lead_labeller, ["stay"])
    with pytest.raises(ApplicationError) as refused:
        services.item_adjudicate(lead=lead_labeller, item=item, label="stay")
    assert refused.value.status_code == 403
    assert "answered this item yourself" in refused.value.message


def test_withdrawn_and_unfinished_items_are_refused(drawn, labeller, reviewer):
    campaign = drawn(design={"kind": "uniform", "size": 2}, overlap_share=1.0, overlap_labels=2)
    first, second = campaign.items.select_related("prediction").order_by("pk")
    work(campaign, labeller, ["churn"])
    with pytest.raises(Conflict, match="1 of its 2 answers"):
        services.item_adjudicate(lead=reviewer, item=first, label="churn")
    services.relabel_items_withdraw(entity_id=second.prediction.entity_id)
    with pytest.raises(Conflict, match="left the queue"):
        services.item_adjudicate(lead=reviewer, item=second, label="churn")
