"""A lead or a pipeline samples a model's serving log into a relabelling campaign: settings are checked
field by field, the draw is seeded (the same seed draws the same rows) and runs once, and people who
asked to be erased are never drawn and leave the queue if erased later."""

from datetime import timedelta

import pytest

from audits import selectors, services
from audits.models import CampaignState, PredictionLog, RelabelAssignment, RelabelCampaign, RelabelItem
from audits.tasks import draw_relabel_campaign
from mlops.errors import ApplicationError, Conflict
from tests.audits.relabel_app.churn_log import START
from tests.factories import ModelVersionFactory

pytestmark = pytest.mark.django_db


def item_ids(campaign) -> list[int]:
    return list(campaign.items.order_by("prediction_id").values_list("prediction_id", flat=True))


def test_a_campaign_with_bad_settings_is_refused_field_by_field(api_as, pipeline, churn):
    response = api_as(pipeline).post(
        "/api/v1/relabel/campaigns/",
        {
            "model": "churn",
            "name": "check",
            "design": {"kind": "uniform"},
            "window_start": (START + timedelta(days=2)).isoformat(),
            "window_end": START.isoformat(),
        },
        format="json",
    )
    assert response.status_code == 400, response.content
    body = response.json()
    assert set(body) == {"message", "detail"}
    assert set(body["detail"]) == {"design", "window_end"}
    assert not RelabelCampaign.objects.exists()


def test_types_and_ranges_are_checked_before_the_service(api_as, pipeline, churn):
    response = api_as(pipeline).post(
        "/api/v1/relabel/campaigns/",
        {
            "model": "churn",
            "name": "",
            "design": {"kind": "uniform", "rate": 0.1},
            "overlap_share": 1.5,
            "overlap_labels": 1,
        },
        format="json",
    )
    assert response.status_code == 400
    assert set(response.json()["detail"]) == {"name", "overlap_share", "overlap_labels"}


def test_versions_must_be_the_models_own(reviewer, churn):
    other = ModelVersionFactory()
    with pytest.raises(ApplicationError) as refused:
        services.campaign_create(
            actor=reviewer, model=churn.model, name="x", design={"kind": "uniform", "rate": 0.1}, versions=[other]
        )
    assert set(refused.value.detail) == {"versions"}


def test_the_label_set_defaults_to_the_classes_the_model_logged_plus_unsure(drawn):
    campaign = drawn()
    assert campaign.label_set == ["churn", "stay", "unsure"]
    assert drawn(label_set=["fraud", "ok"]).label_set == ["fraud", "ok", "unsure"]


def test_the_draw_is_reproducible_and_records_what_estimates_need(drawn, churn):
    first, second, other_seed = drawn(seed=5), drawn(seed=5), drawn(seed=6)
    assert item_ids(first) == item_ids(second)
    assert item_ids(first) != item_ids(other_seed)
    assert first.state == CampaignState.OPEN and first.population == 240
    assert first.items_total == len(item_ids(first)) > 0
    assert set(first.items.values_list("inclusion_probability", flat=True)) == {0.1}
    assert set(item_ids(first)) <= churn.ids()


def test_drawing_again_changes_nothing(drawn):
    campaign = drawn()
    items = list(campaign.items.order_by("pk").values_list("pk", "prediction_id", "required_labels"))
    again = services.campaign_draw(campaign_id=campaign.pk)
    draw_relabel_campaign.delay(campaign.pk)
    assert again.state == CampaignState.OPEN
    assert list(campaign.items.order_by("pk").values_list("pk", "prediction_id", "required_labels")) == items


def test_versions_and_the_window_bound_the_population(drawn, churn):
    campaign = drawn(
        design={"kind": "uniform", "rate": 1.0},
        versions=[churn.v2],
        window_start=START + timedelta(hours=130),
        window_end=START + timedelta(hours=140),
    )
    assert campaign.population == 10
    assert set(item_ids(campaign)) == {row.pk for row in churn.rows[130:140]}


def test_overlap_items_are_chosen_by_the_seed_and_need_k_labels(drawn):
    campaign = drawn(design={"kind": "uniform", "size": 40}, overlap_share=0.25, overlap_labels=3)
    required = dict(campaign.items.values_list("prediction_id", "required_labels"))
    assert sorted(required.values()).count(3) == 10 and sorted(required.values()).count(1) == 30
    again = drawn(design={"kind": "uniform", "size": 40}, overlap_share=0.25, overlap_labels=3)
    assert dict(again.items.values_list("prediction_id", "required_labels")) == required
    assert campaign.labels_required == 30 + 10 * 3


def test_people_who_asked_to_be_erased_are_never_drawn(drawn, churn):
    for entity in ("C0003", "C0004", "C0150"):
        services.entity_erase(entity_id=entity)
    campaign = drawn(design={"kind": "uniform", "rate": 1.0})
    erased = {churn.rows[3].pk, churn.rows[4].pk, churn.rows[150].pk}
    assert campaign.population == 237
    assert not erased & set(item_ids(campaign))


def test_an_item_whose_person_is_erased_later_leaves_the_queue(drawn, churn, labeller):
    campaign = drawn(design={"kind": "uniform", "size": 2})
    first, second = campaign.items.order_by("pk")
    held = services.item_next(labeller=labeller, campaign=campaign)
    assert held.item == first

    counts = services.entity_erase(entity_id=first.prediction.entity_id)

    first.refresh_from_db()
    assert counts["relabel_items"] == 1
    assert first.withdrawn_at is not None and first.withdrawn_reason == "privacy"
    assert PredictionLog.objects.get(pk=first.prediction_id).features == {}
    with pytest.raises(Conflict):
        services.answer_submit(labeller=labeller, item=first, label="churn")
    assert services.item_next(labeller=labeller, campaign=campaign).item == second
    progress = selectors.campaign_progress(campaign)
    assert (progress["items"], progress["withdrawn"]) == (1, 1)


def test_an_empty_sample_fails_and_says_why(drawn):
    campaign = drawn(
        window_start=START - timedelta(days=9), window_end=START - timedelta(days=8), label_set=["churn", "stay"]
    )
    assert campaign.state == CampaignState.FAILED
    assert "0 prediction(s)" in campaign.error
    assert not RelabelItem.objects.exists() and not RelabelAssignment.objects.exists()


def test_a_pipeline_creates_a_campaign_drawn_in_the_background(
    api_as, pipeline, churn, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = api_as(pipeline).post(
            "/api/v1/relabel/campaigns/",
            {"model": "churn", "name": "weekly", "design": {"kind": "uniform", "rate": 0.05}, "seed": 3},
            format="json",
        )
    assert response.status_code == 202, response.content
    assert response.json()["state"] == CampaignState.DRAWING
    detail = api_as(pipeline).get(f"/api/v1/relabel/campaigns/{response.json()['id']}").json()
    assert detail["state"] == CampaignState.OPEN and detail["population"] == 240
    assert detail["progress"]["items"] == detail["items_total"] > 0
    assert sum(s["answers_needed"] for s in detail["progress"]["strata"].values()) == detail["items_total"]


def test_a_window_with_no_predicted_classes_asks_for_the_labels(reviewer, churn):
    with pytest.raises(ApplicationError) as refused:
        services.campaign_create(
            actor=reviewer,
            model=churn.model,
            name="empty",
            design={"kind": "uniform", "rate": 0.1},
            window_end=START,
            start=False,
        )
    assert set(refused.value.detail) == {"label_set"}
