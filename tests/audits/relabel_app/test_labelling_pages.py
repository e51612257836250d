"""A labeller signs in and finds work: the campaigns open for labelling, then one card at a time (the
prediction, its inputs, its reasons), answered blind, with the consensus shown only afterwards."""

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from audits import selectors, services
from audits.models import RelabelAnswer, RelabelAssignment
from mlops import roles
from support.models import Explanation
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def label_url(campaign, item=None) -> str:
    url = reverse("relabel:label", args=[campaign.pk])
    return f"{url}?item={item}" if item else url


def card_item(response) -> int:
    return int(re.search(r'id="card" data-item="(\d+)"', response.content.decode()).group(1))


def answer(client, campaign, item, label, note="", **extra):
    shown_at = extra.pop("shown_at", timezone.now().timestamp())
    return client.post(
        label_url(campaign), {"item": item, "label": label, "note": note, "shown_at": shown_at, **extra}, follow=True
    )


# --- the list -------------------------------------------------------------------------------------


def test_the_list_shows_open_campaigns_with_progress_and_whats_left_for_me(drawn, labeller, client_as):
    campaign = drawn(design={"kind": "uniform", "size": 4}, name="November check")
    page = client_as(labeller).get(reverse("relabel:list"))
    body = page.content.decode()
    assert page.status_code == 200
    assert "November check" in body and "4</strong> items left for you" in body
    assert "0 of 4 answers" in body
    assert f'href="{label_url(campaign)}">Start labelling' in body
    assert ">Relabel</a>" in body  # the nav shows it to labellers


def test_a_lead_sees_the_list_but_no_start_button(drawn, reviewer, client_as):
    drawn(design={"kind": "uniform", "size": 2})
    body = client_as(reviewer).get(reverse("relabel:list")).content.decode()
    assert "November check" in body and "Start labelling" not in body and ">Relabel</a>" in body


@pytest.mark.parametrize("actor", ["agent", "outsider"])
def test_agents_and_outsiders_are_refused_and_see_no_nav_link(request, drawn, client_as, actor):
    campaign = drawn()
    client = client_as(request.getfixturevalue(actor))
    assert client.get(reverse("relabel:list")).status_code == 403
    assert client.get(label_url(campaign)).status_code == 403
    if actor == "agent":
        assert ">Relabel</a>" not in client.get(reverse("support:home")).content.decode()


def test_a_lead_without_label_items_cannot_label(drawn, reviewer, client_as):
    assert client_as(reviewer).get(label_url(drawn())).status_code == 403


def test_a_lead_who_also_labels_gets_the_card(drawn, client_as):
    lead = UserFactory(username="lena-lead", groups=[roles.REVIEWERS, roles.LABELLERS])
    campaign = drawn()
    assert "Start labelling" in client_as(lead).get(reverse("relabel:list")).content.decode()
    assert client_as(lead).get(label_url(campaign)).status_code == 200


def test_anonymous_visitors_are_sent_to_sign_in(drawn, client):
    response = client.get(label_url(drawn()))
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


# --- the card ---------------------------------------------------------------------------------------


def test_the_card_shows_features_raw_beside_processed_the_prediction_and_the_label_keys(
    drawn, churn, labeller, client_as
):
    campaign = drawn(design={"kind": "uniform", "size": 3})
    page = client_as(labeller).get(label_url(campaign))
    body = page.content.decode()
    item = campaign.items.get(pk=card_item(page))
    prediction = item.prediction
    assert page.status_code == 200
    assert re.search(
        rf'data-feature="tenure">.*?<td>{prediction.raw_features["tenure"]}</td><td>{prediction.features["tenure"]}</td>',
        body,
    )
    assert f'id="predicted-label">{prediction.label}<' in body
    assert f'id="predicted-score">{prediction.score:.3f}<' in body
    assert "<kbd>1</kbd> churn" in body and "<kbd>2</kbd> stay" in body and "<kbd>u</kbd> unsure" in body
    assert "0 of 3" in body and 'id="my-count">0 answered · 3 left for you' in body
    assert "No estimate yet" in body
    assert "No explanation available" in body
    assert 'src="/static/audits/relabel.js"' in body and "<script>" not in body  # no inline script


def test_answering_records_the_label_note_and_time_then_shows_the_next_card(
    drawn, labeller, client_as, clock, django_capture_on_commit_callbacks
):
    campaign = drawn(design={"kind": "uniform", "size": 3})
    client = client_as(labeller)
    first = card_item(client.get(label_url(campaign)))
    shown_at = timezone.now().timestamp()
    clock.advance(seconds=7)
    with django_capture_on_commit_callbacks(execute=True):  # the estimate's refresh runs after commit
        answer(client, campaign, first, "churn", note="cancelled last week", shown_at=shown_at)
    page = client.get(label_url(campaign))
    saved = RelabelAnswer.objects.get(item_id=first)
    assert (saved.label, saved.note, saved.labeller) == ("churn", "cancelled last week", labeller)
    assert 6.5 <= saved.seconds <= 8
    assert card_item(page) != first
    body = page.content.decode()
    assert "1 of 3" in body and 'id="my-count">1 answered · 2 left for you' in body
    # The one answer settled its item: the sidebar shows the estimate refreshed since.
    assert 'id="estimate-accuracy">Accuracy' in body and "from 1 settled item" in body


def test_blind_no_other_answer_shows_before_mine_and_the_consensus_shows_after(
    drawn, labeller, second_labeller, client_as
):
    campaign = drawn(design={"kind": "uniform", "size": 1}, overlap_share=1.0, overlap_labels=2)
    theirs = client_as(second_labeller)
    item = card_item(theirs.get(label_url(campaign)))
    answer(theirs, campaign, item, "churn", note="the other labeller's note")

    mine = client_as(labeller)
    card = mine.get(label_url(campaign))
    body = card.content.decode()
    assert card_item(card) == item
    assert "the other labeller's note" not in body and "agree" not in body and 'id="consensus"' not in body
    assert not re.search(r"churn \d", body)

    after = answer(mine, campaign, item, "churn").content.decode()
    assert "Nothing left for you in this campaign" in after
    assert re.search(r"Your last answer: <strong>churn</strong> — 2 of 2 agree", after)


def test_the_consensus_after_answering_counts_disagreement(drawn, labeller, second_labeller, client_as):
    campaign = drawn(design={"kind": "uniform", "size": 2}, overlap_share=1.0, overlap_labels=2)
    theirs, mine = client_as(second_labeller), client_as(labeller)
    item = card_item(theirs.get(label_url(campaign)))
    answer(theirs, campaign, item, "stay")
    assert card_item(mine.get(label_url(campaign))) == item
    after = answer(mine, campaign, item, "churn").content.decode()
    assert "Your last answer: <strong>churn</strong> — 1 of 2 agree" in after
    assert "churn 1, stay 1" in after
    # Shown once: the card after that one no longer repeats it.
    assert "Your last answer" not in mine.get(label_url(campaign)).content.decode()


def test_going_back_shows_my_answer_and_a_new_answer_supersedes_it(drawn, labeller, client_as):
    campaign = drawn(design={"kind": "uniform", "size": 3})
    client = client_as(labeller)
    first = card_item(client.get(label_url(campaign)))
    page = answer(client, campaign, first, "churn", note="first thought")
    second = card_item(page)
    assert f'href="{label_url(campaign, first)}" id="previous"' in page.content.decode()

    back = client.get(label_url(campaign, first))
    body = back.content.decode()
    assert card_item(back) == first
    assert "You answered <strong>churn</strong>" in body and "first thought" in body
    assert 'value="churn" checked' in body

    page = answer(client, campaign, first, "stay", note="second look")
    assert card_item(page) == second  # back to the item held, not a new one
    latest = selectors.labeller_answer(campaign.items.get(pk=first), labeller)
    assert (latest.label, latest.note) == ("stay", "second look")
    assert RelabelAnswer.objects.filter(item_id=first).count() == 2
    assert campaign.items.get(pk=first).labels_count == 1  # the second answer replaces, it does not add


def test_going_back_only_reaches_items_answered_in_this_session(drawn, labeller, client_as):
    campaign = drawn(design={"kind": "uniform", "size": 3})
    client = client_as(labeller)
    first = card_item(client.get(label_url(campaign)))
    answer(client, campaign, first, "churn")
    other = client_as(labeller)  # another session of the same labeller
    assert other.get(label_url(campaign, first)).status_code == 404
    not_mine = campaign.items.exclude(pk=first).first().pk
    assert client.get(label_url(campaign, not_mine)).status_code == 404


def test_unsure_is_an_answer(drawn, labeller, client_as):
    campaign = drawn(design={"kind": "uniform", "size": 2})
    client = client_as(labeller)
    first = card_item(client.get(label_url(campaign)))
    answer(client, campaign, first, "unsure")
    assert RelabelAnswer.objects.get(item_id=first).label == "unsure"


def test_a_label_outside_the_campaign_is_refused_on_the_same_card(drawn, labeller, client_as):
    campaign = drawn(design={"kind": "uniform", "size": 2})
    client = client_as(labeller)
    first = card_item(client.get(label_url(campaign)))
    page = answer(client, campaign, first, "maybe")
    assert page.status_code == 200 and card_item(page) == first
    assert "maybe is not a label of this campaign" in page.content.decode()
    assert not RelabelAnswer.objects.exists()


# --- conflicts are messages, never 500s --------------------------------------------------------------


def test_an_expired_item_someone_else_took_shows_a_message_and_the_next_card(
    drawn, labeller, second_labeller, client_as, clock
):
    campaign = drawn(design={"kind": "uniform", "size": 2})
    client = client_as(labeller)
    first = card_item(client.get(label_url(campaign)))
    clock.advance(minutes=60)
    taken = services.item_next(labeller=second_labeller, campaign=campaign)
    assert taken.item_id == first
    page = answer(client, campaign, first, "churn")
    body = page.content.decode()
    assert page.status_code == 200 and "expired and another labeller took it" in body
    assert card_item(page) != first


def test_a_withdrawn_item_shows_a_message_and_the_next_card(drawn, labeller, client_as):
    campaign = drawn(design={"kind": "uniform", "size": 2})
    client = client_as(labeller)
    first = card_item(client.get(label_url(campaign)))
    services.relabel_items_withdraw(entity_id=campaign.items.get(pk=first).prediction.entity_id)
    page = answer(client, campaign, first, "churn")
    assert "left the queue" in page.content.decode()
    assert card_item(page) != first


def test_a_closed_campaign_sends_the_labeller_back_to_the_list_with_a_message(drawn, labeller, client_as):
    campaign = drawn(design={"kind": "uniform", "size": 2})
    client = client_as(labeller)
    first = card_item(client.get(label_url(campaign)))
    campaign.state = "closed"
    campaign.save(update_fields=["state"])
    page = answer(client, campaign, first, "churn")
    assert page.status_code == 200 and page.redirect_chain[-1][0] == reverse("relabel:list")
    assert "not open for labelling any more" in page.content.decode()


def test_an_empty_queue_says_so_with_the_progress(drawn, labeller, client_as):
    campaign = drawn(design={"kind": "uniform", "size": 1})
    client = client_as(labeller)
    page = answer(client, campaign, card_item(client.get(label_url(campaign))), "stay")
    body = page.content.decode()
    assert "Nothing left for you in this campaign" in body and "1 of 1" in body
    assert client.get(label_url(campaign)).status_code == 200
    assert RelabelAssignment.objects.filter(labeller=labeller).count() == 1


# --- reasons ----------------------------------------------------------------------------------------


def test_reasons_come_from_a_registered_provider_and_a_failing_one_is_skipped(drawn, labeller, client_as):
    campaign = drawn(design={"kind": "uniform", "size": 1})

    def broken(prediction):
        raise RuntimeError("explainer down")

    def plain(prediction):
        return [f"tenure = {prediction.features['tenure']} raised the score"]

    services.register_reason_provider(broken)
    services.register_reason_provider(plain)
    try:
        body = client_as(labeller).get(label_url(campaign)).content.decode()
    finally:
        services.unregister_reason_provider(broken)
        services.unregister_reason_provider(plain)
    prediction = campaign.items.get().prediction
    assert f"<li>tenure = {prediction.features['tenure']} raised the score</li>" in body
    assert services.card_reasons(prediction) is None  # none registered but support's, which has nothing


def test_support_offers_the_reasons_of_a_stored_explanation_without_computing_one(
    drawn, labeller, agent, client_as, django_assert_max_num_queries
):
    campaign = drawn(design={"kind": "uniform", "size": 1})
    prediction = campaign.items.get().prediction
    assert "No explanation available" in client_as(labeller).get(label_url(campaign)).content.decode()

    Explanation.objects.create(
        version=prediction.version,
        input_key="cd" * 32,
        input=prediction.features,
        entity_id=prediction.entity_id,
        prediction=prediction,
        state="succeeded",
        result={"reasons": ["plan = free raised the score by 0.12", "tenure = 3 raised the score by 0.05"]},
        created_by=agent,
        finished_at=timezone.now() - timedelta(minutes=1),
    )
    body = client_as(labeller).get(label_url(campaign)).content.decode()
    assert "<li>plan = free raised the score by 0.12</li>" in body
    with django_assert_max_num_queries(1):
        assert services.card_reasons(prediction)[1] == "tenure = 3 raised the score by 0.05"
    assert Explanation.objects.count() == 1  # nothing queued


def test_an_explanation_still_running_gives_no_reasons(drawn, agent):
    campaign = drawn(design={"kind": "uniform", "size": 1})
    prediction = campaign.items.get().prediction
    Explanation.objects.create(
        version=prediction.version, input_key="ef" * 32, input={}, prediction=prediction, created_by=agent
    )
    assert services.card_reasons(prediction) is None
