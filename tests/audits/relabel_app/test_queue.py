"""Labellers take items one at a time: a held item is nobody else's (unless it needs several labels),
an abandoned one returns to the queue, nobody gets an item twice, and nobody sees another answer
before giving their own."""

import pytest

from audits import services
from audits.models import RelabelAnswer, RelabelAssignment
from mlops.errors import ApplicationError, Conflict

pytestmark = pytest.mark.django_db

CARD_FIELDS = {
    "item",
    "version",
    "predicted_at",
    "features",
    "raw_features",
    "score",
    "predicted_label",
    "surface",
    "assigned_at",
    "expires_at",
}


def test_two_labellers_never_hold_the_same_single_label_item(drawn, labeller, second_labeller):
    campaign = drawn(design={"kind": "uniform", "size": 3})
    mine = services.item_next(labeller=labeller, campaign=campaign)
    theirs = services.item_next(labeller=second_labeller, campaign=campaign)
    assert mine.item_id != theirs.item_id
    # Asking again hands back the item already held, not a second one.
    assert services.item_next(labeller=labeller, campaign=campaign).pk == mine.pk
    assert RelabelAssignment.objects.filter(labeller=labeller).count() == 1


def test_an_abandoned_item_returns_to_the_queue_but_never_to_who_left_it(
    drawn, labeller, second_labeller, third_labeller, clock, settings
):
    settings.KEEL_RELABEL_ASSIGNMENT_MINUTES = 10
    campaign = drawn(design={"kind": "uniform", "size": 2})
    first, second = campaign.items.order_by("pk")
    assert services.item_next(labeller=labeller, campaign=campaign).item == first
    assert services.item_next(labeller=second_labeller, campaign=campaign).item == second

    clock.advance(minutes=9)
    assert services.item_next(labeller=third_labeller, campaign=campaign) is None
    clock.advance(minutes=2)
    assert services.item_next(labeller=third_labeller, campaign=campaign).item == first
    # Who left an item gets another one, never that one again.
    assert services.item_next(labeller=labeller, campaign=campaign).item == second
    assert services.item_next(labeller=second_labeller, campaign=campaign) is None
    assert services.assignments_release_expired() == 2


def test_a_late_answer_to_an_abandoned_item_nobody_took_still_counts(drawn, labeller, clock):
    campaign = drawn(design={"kind": "uniform", "size": 1})
    held = services.item_next(labeller=labeller, campaign=campaign)
    clock.advance(minutes=30)
    services.answer_submit(labeller=labeller, item=held.item, label="churn")
    held.item.refresh_from_db()
    assert held.item.labels_count == 1


def test_a_late_answer_to_an_item_someone_else_took_is_refused(drawn, labeller, second_labeller, clock):
    campaign = drawn(design={"kind": "uniform", "size": 1})
    held = services.item_next(labeller=labeller, campaign=campaign)
    clock.advance(minutes=30)
    assert services.item_next(labeller=second_labeller, campaign=campaign).item == held.item
    with pytest.raises(Conflict, match="expired"):
        services.answer_submit(labeller=labeller, item=held.item, label="churn")


def test_nobody_gets_the_same_item_twice(drawn, labeller):
    campaign = drawn(design={"kind": "uniform", "size": 4}, overlap_share=1.0, overlap_labels=3)
    seen = []
    while (assignment := services.item_next(labeller=labeller, campaign=campaign)) is not None:
        seen.append(assignment.item_id)
        services.answer_submit(labeller=labeller, item=assignment.item, label="stay")
    assert sorted(seen) == sorted(campaign.items.values_list("pk", flat=True))


def test_overlap_items_get_k_labellers_and_no_more(drawn, labeller, second_labeller, third_labeller):
    campaign = drawn(design={"kind": "uniform", "size": 1}, overlap_share=1.0, overlap_labels=2)
    [item] = campaign.items.all()
    assert services.item_next(labeller=labeller, campaign=campaign).item == item
    assert services.item_next(labeller=second_labeller, campaign=campaign).item == item
    # Two labellers hold it: a third would be one too many.
    assert services.item_next(labeller=third_labeller, campaign=campaign) is None
    services.answer_submit(labeller=labeller, item=item, label="churn")
    services.answer_submit(labeller=second_labeller, item=item, label="stay")
    assert services.item_next(labeller=third_labeller, campaign=campaign) is None
    item.refresh_from_db()
    assert item.labels_count == 2


def test_answers_are_blind_until_given_then_show_the_consensus(drawn, labeller, second_labeller, api_as):
    campaign = drawn(design={"kind": "uniform", "size": 1}, overlap_share=1.0, overlap_labels=2)
    [item] = campaign.items.all()
    services.item_next(labeller=labeller, campaign=campaign)
    services.answer_submit(labeller=labeller, item=item, label="churn", note="cancelled twice")

    client = api_as(second_labeller)
    card = client.post(f"/api/v1/relabel/campaigns/{campaign.pk}/next")
    assert card.status_code == 200, card.content
    body = card.json()
    assert set(body) == {"card", "label_set", "progress"}
    assert set(body["card"]) == CARD_FIELDS
    assert "cancelled twice" not in card.content.decode()
    assert body["progress"]["answers"] == 1  # how far the campaign has come, not what was answered

    answered = client.post(f"/api/v1/relabel/items/{item.pk}/answer", {"label": "stay", "seconds": 4.5}, format="json")
    assert answered.status_code == 201, answered.content
    consensus = answered.json()["consensus"]
    assert consensus["counts"] == {"churn": 1, "stay": 1} and consensus["answers"] == 2
    assert "cancelled twice" not in answered.content.decode()


def test_the_card_shows_the_prediction_and_its_inputs(drawn, churn, labeller, api_as):
    campaign = drawn(design={"kind": "uniform", "size": 1})
    [item] = campaign.items.select_related("prediction")
    card = api_as(labeller).post(f"/api/v1/relabel/campaigns/{campaign.pk}/next").json()["card"]
    row = item.prediction
    assert card["item"] == item.pk
    assert (card["features"], card["raw_features"]) == (row.features, row.raw_features)
    assert (card["score"], card["predicted_label"]) == (row.score, row.label)
    assert row.entity_id not in str(card)


def test_an_answer_names_a_label_of_the_campaign(drawn, labeller, api_as):
    campaign = drawn(design={"kind": "uniform", "size": 1})
    [item] = campaign.items.all()
    services.item_next(labeller=labeller, campaign=campaign)
    response = api_as(labeller).post(f"/api/v1/relabel/items/{item.pk}/answer", {"label": "maybe"}, format="json")
    assert response.status_code == 400
    assert set(response.json()["detail"]) == {"label"}
    with pytest.raises(ApplicationError):
        services.answer_submit(labeller=labeller, item=item, label="")
    services.answer_submit(labeller=labeller, item=item, label="unsure")
    assert RelabelAnswer.objects.get().label == "unsure"


def test_only_the_holder_answers(drawn, labeller, second_labeller, api_as):
    campaign = drawn(design={"kind": "uniform", "size": 1})
    [item] = campaign.items.all()
    response = api_as(second_labeller).post(f"/api/v1/relabel/items/{item.pk}/answer", {"label": "stay"}, format="json")
    assert response.status_code == 409
    assert not RelabelAnswer.objects.exists()


def test_labellers_read_only_campaigns_open_for_labelling(drawn, labeller, reviewer, api_as):
    open_campaign = drawn()
    draft = services.campaign_create(
        actor=reviewer, model=open_campaign.model, name="later", design={"kind": "uniform", "rate": 0.1}, start=False
    )
    listed = api_as(labeller).get("/api/v1/relabel/campaigns/").json()["results"]
    assert [c["id"] for c in listed] == [open_campaign.pk]
    assert api_as(labeller).get(f"/api/v1/relabel/campaigns/{draft.pk}").status_code == 404
    assert {c["id"] for c in api_as(reviewer).get("/api/v1/relabel/campaigns/").json()["results"]} == {
        open_campaign.pk,
        draft.pk,
    }
