"""A promotion request's body has four shapes (promote to production, to canary, to shadow; switch
shadow or canary traffic off): the published schema says which, so a client's generated body is
one the API accepts, and what the schema refuses the API refuses too."""

import pytest

from registry.models import PromotionRequest
from tests.api_schema import schema_admits
from tests.registry.promotion_helpers import approved, holdout_for, model_with_versions

PATH = "/api/v1/promotions/"


@pytest.fixture
def holdout(db, reviewer, pipeline):
    """A hold-out of "upsell", whose three versions have their artifacts."""
    return holdout_for(model_with_versions(owner=reviewer), pipeline)


def body(the_holdout=None, **fields):
    base = {"model": "upsell", "version": 2, "reason": "weekly retrain", **fields}
    if the_holdout is not None:
        base["holdout"] = the_holdout.pk
    return base


@pytest.mark.parametrize(
    "fields, with_holdout",
    [
        ({}, True),
        ({"target_alias": "production", "action": "promote", "canary_percent": None}, True),
        ({"target_alias": "canary", "canary_percent": 5}, True),
        ({"target_alias": "shadow"}, False),
        ({"target_alias": "shadow", "holdout": None, "canary_percent": None}, False),
        ({"target_alias": "shadow"}, True),
    ],
)
def test_every_promotion_shape_the_schema_admits_is_accepted(api_as, pipeline, holdout, fields, with_holdout):
    sent = body(holdout if with_holdout else None, **fields)
    assert schema_admits("POST", PATH, sent)
    response = api_as(pipeline).post(PATH, sent, format="json")
    assert response.status_code == 201, response.content


def test_switching_shadow_traffic_off_is_a_shape_of_its_own(api_as, pipeline, reviewer, holdout):
    shadow = api_as(pipeline).post(PATH, body(target_alias="shadow"), format="json")
    approved(PromotionRequest.objects.get(pk=shadow.json()["id"]), reviewer)
    sent = body(target_alias="shadow", action="remove")
    assert schema_admits("POST", PATH, sent)
    assert api_as(pipeline).post(PATH, sent, format="json").status_code == 201


@pytest.mark.parametrize(
    "fields, with_holdout, field",
    [
        ({}, False, "holdout"),
        ({"target_alias": "canary"}, True, "canary_percent"),
        ({"target_alias": "canary", "canary_percent": 5}, False, "holdout"),
        ({"canary_percent": 5}, True, "canary_percent"),
        ({"target_alias": "shadow", "canary_percent": 5}, False, "canary_percent"),
        ({"target_alias": "production", "action": "remove"}, True, "action"),
        ({"action": "remove"}, True, "action"),
        ({"reason": " \t\u3000"}, True, "reason"),
    ],
)
def test_a_shape_the_schema_refuses_is_refused(api_as, pipeline, holdout, fields, with_holdout, field):
    sent = body(holdout if with_holdout else None, **fields)
    assert not schema_admits("POST", PATH, sent)
    response = api_as(pipeline).post(PATH, sent, format="json")
    assert response.status_code == 400 and field in response.json()["detail"], response.content
    assert not PromotionRequest.objects.exists()
