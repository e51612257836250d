"""Reviewers point aliases at versions; every move is kept with who, when, from, to and why."""

import pytest
from django.db import IntegrityError, transaction

from mlops.errors import ApplicationError
from registry import services
from registry.models import AliasEvent, ModelAlias
from tests.factories import ModelVersionFactory, RegisteredModelFactory


@pytest.fixture
def upsell(db):
    model = RegisteredModelFactory(name="upsell")
    for _ in range(3):
        ModelVersionFactory(model=model)
    return model


def move(api, alias, version, reason="because"):
    return api.put(f"/api/v1/models/upsell/aliases/{alias}", {"version": version, "reason": reason}, format="json")


def test_moving_an_alias_records_the_history(api_as, reviewer, second_reviewer, upsell):
    assert move(api_as(reviewer), "challenger", 1, "first model").status_code == 200
    response = move(api_as(second_reviewer), "challenger", 2, "retrained on Q3 data")
    assert response.json() == {
        **response.json(),
        "alias": "challenger",
        "from_version": 1,
        "to_version": 2,
        "actor": second_reviewer.username,
        "reason": "retrained on Q3 data",
    }
    assert api_as(reviewer).get("/api/v1/models/upsell/aliases/challenger").json() == {
        "alias": "challenger",
        "version": 2,
    }
    history = api_as(reviewer).get("/api/v1/models/upsell/alias-history/").json()["results"]
    assert [(h["from_version"], h["to_version"], h["actor"]) for h in history] == [
        (1, 2, second_reviewer.username),
        (None, 1, reviewer.username),
    ]
    assert api_as(reviewer).get("/api/v1/models/upsell/").json()["aliases"] == {"challenger": 2}


def test_an_alias_names_one_version_and_a_version_may_carry_several(api_as, reviewer, upsell):
    move(api_as(reviewer), "challenger", 1)
    move(api_as(reviewer), "staging", 1)
    move(api_as(reviewer), "staging", 3)
    assert dict(upsell.aliases.values_list("name", "version__version")) == {"challenger": 1, "staging": 3}
    with pytest.raises(IntegrityError), transaction.atomic():
        ModelAlias.objects.create(model=upsell, name="challenger", version=upsell.versions.get(version=2))


def test_pointing_an_alias_where_it_already_points_records_nothing(api_as, reviewer, upsell):
    move(api_as(reviewer), "challenger", 1)
    response = move(api_as(reviewer), "challenger", 1)
    assert response.status_code == 200 and "nothing moved" in response.json()["message"]
    assert AliasEvent.objects.count() == 1


def test_removing_an_alias_is_a_recorded_move_too(api_as, reviewer, upsell):
    move(api_as(reviewer), "challenger", 3)
    assert move(api_as(reviewer), "challenger", None, "challenger lost").json()["to_version"] is None
    assert not upsell.aliases.exists()
    assert api_as(reviewer).get("/api/v1/models/upsell/aliases/challenger").status_code == 404


@pytest.mark.parametrize(
    "body,field",
    [
        ({"version": 1, "reason": ""}, "reason"),
        ({"version": 1}, "reason"),
        ({"version": "one", "reason": "x"}, "version"),
    ],
)
def test_a_move_needs_a_version_and_a_reason(api_as, reviewer, upsell, body, field):
    response = api_as(reviewer).put("/api/v1/models/upsell/aliases/challenger", body, format="json")
    assert response.status_code == 400 and field in response.json()["detail"]
    assert not AliasEvent.objects.exists()


def test_an_alias_cannot_point_at_another_models_version(reviewer, upsell):
    other = ModelVersionFactory(model=RegisteredModelFactory(name="churn"))
    with pytest.raises(ApplicationError) as refused:
        services.alias_move(model=upsell, alias="challenger", version=other, actor=reviewer, reason="oops")
    assert "does not belong" in refused.value.message
    assert not AliasEvent.objects.exists()


def test_an_unknown_version_is_a_404(api_as, reviewer, upsell):
    response = move(api_as(reviewer), "challenger", 42)
    assert response.status_code == 404 and "no version 42" in response.json()["message"]


def test_alias_history_cannot_be_rewritten(reviewer, upsell):
    services.alias_move(
        model=upsell, alias="challenger", version=upsell.versions.get(version=1), actor=reviewer, reason="first"
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        AliasEvent.objects.update(reason="nothing to see")
    assert AliasEvent.objects.get().reason == "first"


@pytest.mark.parametrize("alias", ["production", "shadow", "canary"])
def test_governed_aliases_cannot_be_moved_directly(api_as, reviewer, upsell, alias):
    response = move(api_as(reviewer), alias, 2, "just ship it")
    assert response.status_code == 409
    message = response.json()["detail"]["alias"][0]
    assert "promotion request" in message and "/api/v1/promotions/" in message
    assert not upsell.aliases.exists() and not AliasEvent.objects.exists()
