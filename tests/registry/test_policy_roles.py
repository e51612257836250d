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
