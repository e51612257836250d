"""A lead samples the requests where the shadow (or canary) version decided otherwise than
production: the log pairs both decisions by request_id, only disagreements are drawn, seeded, with
their inclusion probabilities; a campaign without a version to compare with is refused by field."""

from datetime import timedelta

import pytest

from audits import services
from audits.models import CampaignState, PredictionLog
from mlops.errors import ApplicationError
from registry.services.catalog import alias_point
from tests.audits.relabel_app.churn_log import START

pytestmark = pytest.mark.django_db


@pytest.fixture
def shadowed(churn, reviewer):
    """v1 is production, v2 the shadow; v2 also scored v1's 120 requests and disagrees on every
    fourth (r0, r4, …: 30 requests); r1 was never scored by the shadow."""
    alias_point(model=churn.model, alias="production", version=churn.v1, actor=reviewer, reason="live")
    alias_point(model=churn.model, alias="shadow", version=churn.v2, actor=reviewer, reason="trying")
    rows = []
    for row in churn.rows[:120]:
        if row.request_id == "r1":
            continue
        flipped = int(row.request_id[1:]) % 4 == 0
        label = {"churn": "stay", "stay": "churn"}[row.label] if flipped else row.label
        rows.append(
            PredictionLog(
                model=churn.model,
                version=churn.v2,
                request_id=row.request_id,
                entity_id=row.entity_id,
                predicted_at=row.predicted_at,
                features=row.features,
                score=row.score,
                label=label,
            )
        )
    PredictionLog.objects.bulk_create(rows)
    return {row.pk for row in churn.rows[:120] if int(row.request_id[1:]) % 4 == 0}


def test_only_requests_the_shadow_decided_otherwise_are_drawn(drawn, churn, shadowed):
    campaign = drawn(design={"kind": "disagreement", "size": 12})
    assert campaign.state == CampaignState.OPEN, campaign.error
    assert campaign.design["against"] == [2]  # the shadow alias, recorded for the record
    assert [v.version for v in campaign.versions.all()] == [1]  # production by default
    drawn_ids = set(campaign.items.values_list("prediction_id", flat=True))
    assert len(drawn_ids) == 12 and drawn_ids <= shadowed
    assert campaign.stratum_population == {"disagreement": 30}
    assert set(campaign.items.values_list("inclusion_probability", flat=True)) == {12 / 30}


def test_every_pair_is_found_and_agreeing_requests_are_never_drawn(drawn, churn, shadowed):
    campaign = drawn(design={"kind": "disagreement", "size": 500})
    drawn_ids = set(campaign.items.values_list("prediction_id", flat=True))
    assert drawn_ids == shadowed
    for item in campaign.items.select_related("prediction"):
        shadow = PredictionLog.objects.get(model=churn.model, version=churn.v2, request_id=item.prediction.request_id)
        assert shadow.label != item.prediction.label
    assert set(campaign.items.values_list("inclusion_probability", flat=True)) == {1.0}


def test_the_disagreement_draw_is_seeded(drawn, shadowed):
    first = drawn(design={"kind": "disagreement", "size": 10}, seed=4)
    again = drawn(design={"kind": "disagreement", "size": 10}, seed=4)
    other = drawn(design={"kind": "disagreement", "size": 10}, seed=5)
    ids = [sorted(c.items.values_list("prediction_id", flat=True)) for c in (first, again, other)]
    assert ids[0] == ids[1] != ids[2]


def test_named_versions_and_the_window_bound_the_pairs(drawn, churn, shadowed):
    campaign = drawn(
        design={"kind": "disagreement", "size": 500, "against": [2]},
        versions=[churn.v1],
        window_start=START,
        window_end=START + timedelta(hours=40),
    )
    assert set(campaign.items.values_list("prediction_id", flat=True)) == {
        pk for pk in shadowed if pk in {row.pk for row in churn.rows[:40]}
    }


def test_without_a_version_to_compare_with_the_campaign_is_refused(reviewer, churn, api_as, pipeline):
    alias_point(model=churn.model, alias="production", version=churn.v1, actor=reviewer, reason="live")
    response = api_as(pipeline).post(
        "/api/v1/relabel/campaigns/",
        {"model": "churn", "name": "shadow check", "design": {"kind": "disagreement", "size": 5}},
        format="json",
    )
    assert response.status_code == 400, response.content
    assert list(response.json()["detail"]) == ["design"]
    assert "against" in response.json()["detail"]["design"][0]


@pytest.mark.parametrize(
    ("design", "words"),
    [
        ({"kind": "disagreement", "size": 5, "against": [9]}, "no version 9"),
        ({"kind": "disagreement", "size": 5, "against": [1]}, "itself"),
        ({"kind": "disagreement", "size": 5, "against": "2"}, "against"),
    ],
)
def test_bad_comparisons_are_refused_naming_the_field(reviewer, churn, design, words):
    with pytest.raises(ApplicationError) as refused:
        services.campaign_create(
            actor=reviewer,
            model=churn.model,
            name="x",
            design=design,
            versions=[churn.v1],
            start=False,
        )
    assert list(refused.value.detail) == ["design"]
    assert words in refused.value.detail["design"][0]


def test_without_production_the_versions_must_be_named(reviewer, churn):
    with pytest.raises(ApplicationError) as refused:
        services.campaign_create(
            actor=reviewer, model=churn.model, name="x", design={"kind": "disagreement", "size": 5}, start=False
        )
    assert list(refused.value.detail) == ["versions"]


def test_people_who_asked_to_be_erased_are_never_drawn_for_disagreement(drawn, churn, shadowed):
    erased = sorted(shadowed)[:3]
    for pk in erased:
        services.entity_erase(entity_id=PredictionLog.objects.get(pk=pk).entity_id)
    campaign = drawn(design={"kind": "disagreement", "size": 500})
    assert set(campaign.items.values_list("prediction_id", flat=True)) == shadowed - set(erased)
