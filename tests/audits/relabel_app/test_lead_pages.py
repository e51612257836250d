"""The leads' pages: the disputed items with a form each, gold items, and the team's figures. Who may
open them is in tests/mlops/permission_table.py (the matrix)."""

import pytest

from audits import selectors
from audits.models import RelabelAdjudication, RelabelItem
from mlops import roles
from tests.audits.relabel_app.lead_scenario import work
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def disputed(drawn, labeller, second_labeller):
    campaign = drawn(design={"kind": "uniform", "size": 2}, overlap_share=1.0, overlap_labels=2)
    work(campaign, labeller, ["churn", "stay"], seconds=[3, 5])
    work(campaign, second_labeller, ["stay", "stay"])
    return campaign


def test_the_disputes_page_shows_each_answer_and_decides(disputed, reviewer, client_as):
    client = client_as(reviewer)
    url = f"/relabel/{disputed.pk}/adjudicate/"
    page = client.get(url)
    [dispute] = page.context["disputes"]
    text = page.content.decode()
    assert f'id="dispute-{dispute["item"].pk}"' in text
    assert "lou-labeller" in text and "lee-labeller" in text
    assert 'name="label" value="churn"' in text and 'value="unsure"' not in text
    answer = client.post(url, {"item": dispute["item"].pk, "label": "churn", "note": "checked"})
    assert answer.status_code == 302
    assert RelabelAdjudication.objects.get().label == "churn"
    assert client.get(url).context["disputes"] == []


def test_a_refused_decision_shows_on_its_form(disputed, reviewer, client_as):
    item = selectors.campaign_disputes(disputed)[0]["item"]
    page = client_as(reviewer).post(f"/relabel/{disputed.pk}/adjudicate/", {"item": item.pk, "label": "unsure"})
    assert page.status_code == 400
    assert "A lead decides: give a label, not &quot;unsure&quot;." in page.content.decode()
    assert not RelabelAdjudication.objects.exists()


def test_an_item_of_another_campaign_is_refused(disputed, drawn, reviewer, client_as):
    other = drawn(name="December check", design={"kind": "uniform", "size": 1})
    item = selectors.campaign_disputes(disputed)[0]["item"]
    page = client_as(reviewer).post(f"/relabel/{other.pk}/adjudicate/", {"item": item.pk, "label": "churn"})
    assert page.status_code == 400
    assert "This item is not in this campaign." in page.content.decode()
    assert not RelabelAdjudication.objects.exists()


def test_the_gold_page_adds_gold_items_and_names_bad_lines(disputed, churn, reviewer, client_as):
    client = client_as(reviewer)
    taken = set(disputed.items.values_list("prediction_id", flat=True))
    free = [row.pk for row in churn.rows if row.pk not in taken][:2]
    bad = client.post(f"/relabel/{disputed.pk}/gold/", {"lines": f"{free[0]}, churn\nnonsense"})
    assert bad.status_code == 400 and "Line 2" in bad.content.decode()
    page = client.post(f"/relabel/{disputed.pk}/gold/", {"lines": f"{free[0]}, churn\n{free[1]}, stay\n"})
    assert page.status_code == 302
    assert sorted(RelabelItem.objects.filter(is_gold=True).values_list("gold_label", flat=True)) == ["churn", "stay"]
    assert len(client.get(f"/relabel/{disputed.pk}/gold/").context["gold_items"]) == 2
    refused = client.post(f"/relabel/{disputed.pk}/gold/", {"lines": f"{free[0]}, churn"})
    assert refused.status_code == 400 and "already an item" in refused.content.decode()


def test_the_team_page_shows_agreement_and_each_labeller(disputed, reviewer, client_as):
    page = client_as(reviewer).get(f"/relabel/{disputed.pk}/team/")
    text = page.content.decode()
    assert page.context["agreement"]["items_overlapped"] == 2
    assert [row["labeller"] for row in page.context["labellers"]] == ["lee-labeller", "lou-labeller"]
    assert 'id="labellers"' in text and "50%" in text  # Lou agreed with Lee on one item of two


def test_a_lead_who_answered_sees_why_they_may_not_decide(drawn, labeller, client_as):
    both = UserFactory(username="lena-lead", groups=[roles.REVIEWERS, roles.LABELLERS])
    campaign = drawn(design={"kind": "uniform", "size": 1}, overlap_share=1.0, overlap_labels=2)
    [item] = work(campaign, labeller, ["churn"])
    work(campaign, both, ["stay"])
    page = client_as(both).post(f"/relabel/{campaign.pk}/adjudicate/", {"item": item.pk, "label": "stay"})
    assert page.status_code == 403
    assert "You answered this item yourself: another lead decides it." in page.content.decode()
    assert not RelabelAdjudication.objects.exists()
