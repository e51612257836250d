"""The leads' API: the disputes, a decision, gold items, agreement and each labeller's figures; who
may call what is in tests/mlops/permission_table.py (the matrix), the rest here."""

import pytest

from mlops import roles
from tests.audits.relabel_app.lead_scenario import work
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

API = "/api/v1/relabel"


@pytest.fixture
def disputed(drawn, labeller, second_labeller):
    campaign = drawn(design={"kind": "uniform", "size": 2}, overlap_share=1.0, overlap_labels=2)
    work(campaign, labeller, ["churn", "stay"])
    work(campaign, second_labeller, ["stay", "stay"])
    return campaign


def test_a_lead_reads_the_disputes_and_decides(disputed, reviewer, api_as):
    api = api_as(reviewer)
    body = api.get(f"{API}/campaigns/{disputed.pk}/disputes").json()
    [dispute] = body["results"]
    assert [(a["labeller"], a["label"]) for a in dispute["answers"]] == [
        ("lou-labeller", "churn"),
        ("lee-labeller", "stay"),
    ]
    assert set(dispute["prediction"]) == {"id", "version", "predicted_at", "features", "score", "label"}
    answer = api.post(f"{API}/items/{dispute['item']}/adjudicate", {"label": "churn", "note": "ok"}, format="json")
    assert answer.status_code == 201
    assert answer.json()["lead"] == "rita-reviewer"
    assert api.get(f"{API}/campaigns/{disputed.pk}/disputes").json()["results"] == []


def test_a_bad_decision_names_the_field(disputed, reviewer, api_as):
    item = disputed.items.order_by("pk").first()
    answer = api_as(reviewer).post(f"{API}/items/{item.pk}/adjudicate", {"label": "unsure"}, format="json")
    assert answer.status_code == 400
    assert "label" in answer.json()["detail"]


def test_gold_items_through_the_api(disputed, churn, reviewer, api_as):
    api = api_as(reviewer)
    taken = set(disputed.items.values_list("prediction_id", flat=True))
    free = next(row.pk for row in churn.rows if row.pk not in taken)
    answer = api.post(
        f"{API}/campaigns/{disputed.pk}/gold", {"items": [{"prediction": free, "label": "churn"}]}, format="json"
    )
    assert answer.status_code == 201
    assert [(row["prediction"]["id"], row["gold_label"]) for row in answer.json()] == [(free, "churn")]
    again = api.post(
        f"{API}/campaigns/{disputed.pk}/gold", {"items": [{"prediction": free, "label": "churn"}]}, format="json"
    )
    assert again.status_code == 400
    assert "already an item" in again.json()["detail"]["items"][0]
    assert len(api.get(f"{API}/campaigns/{disputed.pk}/gold").json()["results"]) == 1


def test_pipelines_read_agreement_but_not_peoples_figures(disputed, pipeline, reviewer, api_as):
    agreement = api_as(pipeline).get(f"{API}/campaigns/{disputed.pk}/agreement")
    assert agreement.status_code == 200
    assert agreement.json()["items_overlapped"] == 2 and agreement.json()["disputed"] == 1
    assert api_as(pipeline).get(f"{API}/campaigns/{disputed.pk}/labellers").status_code == 403
    figures = api_as(reviewer).get(f"{API}/campaigns/{disputed.pk}/labellers").json()["results"]
    assert [row["labeller"] for row in figures] == ["lee-labeller", "lou-labeller"]
    assert figures[1]["agreement_share"] == 0.5


def test_labellers_read_no_agreement(disputed, labeller, api_as):
    assert api_as(labeller).get(f"{API}/campaigns/{disputed.pk}/agreement").status_code == 403


def test_a_lead_who_answered_gets_403(drawn, labeller, api_as):
    both = UserFactory(username="lena-lead", groups=[roles.REVIEWERS, roles.LABELLERS])
    campaign = drawn(design={"kind": "uniform", "size": 1}, overlap_share=1.0, overlap_labels=2)
    [item] = work(campaign, labeller, ["churn"])
    work(campaign, both, ["stay"])
    answer = api_as(both).post(f"{API}/items/{item.pk}/adjudicate", {"label": "stay"}, format="json")
    assert answer.status_code == 403
