"""A model's promotion policy is the reviewers': a pipeline reads it but cannot loosen the gate its
own versions must pass, through the API or the page."""

import pytest
from django.urls import reverse

from registry.models import PromotionPolicy
from tests.factories import RegisteredModelFactory


@pytest.fixture
def upsell(db, reviewer):
    return RegisteredModelFactory(name="upsell", owner=reviewer)


@pytest.mark.parametrize("actor, status", [("pipeline", 403), ("reviewer", 200)])
def test_only_a_reviewer_edits_the_policy_through_the_api(upsell, api_as, request, actor, status):
    client = api_as(request.getfixturevalue(actor))
    assert client.get("/api/v1/models/upsell/policy").status_code == 200
    response = client.put("/api/v1/models/upsell/policy", {"max_flip_rate": 1.0}, format="json")
    assert response.status_code == status, response.content
    assert PromotionPolicy.objects.filter(model=upsell, max_flip_rate=1.0).exists() == (status == 200)


def test_a_pipeline_account_cannot_edit_the_policy_page(upsell, client_as, pipeline):
    url = reverse("registry:model-policy", args=["upsell"])
    client = client_as(pipeline)
    assert client.get(url).status_code == 200
    assert client.post(url, {"max_flip_rate": "1"}).status_code == 403
    assert not PromotionPolicy.objects.filter(model=upsell).exists()


def test_a_rule_left_without_its_target_is_a_conflict_with_the_stored_policy(upsell, api_as, reviewer):
    response = api_as(reviewer).put("/api/v1/models/upsell/policy", {"threshold_rule": "min_recall"}, format="json")
    assert response.status_code == 409
    assert "threshold_target" in response.json()["detail"]
    assert not PromotionPolicy.objects.filter(model=upsell).exclude(threshold_target=None).exists()


def test_slice_columns_sent_as_numbers_are_refused(upsell, api_as, reviewer):
    response = api_as(reviewer).put("/api/v1/models/upsell/policy", {"slice_columns": [0]}, format="json")
    assert response.status_code == 400 and response.json()["detail"] == {"slice_columns": ["Send text."]}


def test_a_threshold_target_sent_as_a_boolean_is_refused(upsell, api_as, reviewer):
    response = api_as(reviewer).put("/api/v1/models/upsell/policy", {"threshold_target": False}, format="json")
    assert response.status_code == 400 and response.json()["detail"] == {"threshold_target": ["Send a number."]}
