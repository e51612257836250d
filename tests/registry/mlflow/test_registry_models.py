"""Registered models through MLflow's registry API are Keel's RegisteredModel rows: created, found by
name (=, LIKE, ILIKE, tags), renamed and described as API v1 sees them; a taken name is
RESOURCE_ALREADY_EXISTS, and nothing is ever deleted."""

import pytest
from django.db import transaction
from django.urls import resolve

from registry.models import RegisteredModel, RegisteredModelTag

from .conftest import MLFLOW, bearer, call, error_of, ok


def create(api, name, **body):
    response = call(api, "POST", "registered-models/create", {"name": name, **body})
    assert ok(response)
    return response.json()["registered_model"]


def test_a_model_created_through_mlflow_is_keels_model_owned_by_its_registrar(mlflow_api, pipeline, api_as):
    made = create(
        mlflow_api,
        "churn",
        description="Who leaves",
        tags=[{"key": "team", "value": "growth"}, {"key": "keel.task_type", "value": "regression"}],
    )
    assert made["name"] == "churn" and made["user_id"] == pipeline.username and made["description"] == "Who leaves"
    assert made["tags"] == [{"key": "team", "value": "growth"}]
    model = RegisteredModel.objects.get(name="churn")
    assert model.owner == pipeline and model.task_type == "regression"
    v1 = api_as(pipeline).get("/api/v1/models/churn/").json()
    assert v1["description"] == "Who leaves" and v1["tags"] == {"team": "growth"} and v1["owner"] == pipeline.username

    got = call(mlflow_api, "GET", "registered-models/get", {"name": "churn"}).json()["registered_model"]
    assert got["name"] == "churn" and got["latest_versions"] == [] and got["aliases"] == []


def test_a_model_defaults_to_binary_classification(mlflow_api):
    create(mlflow_api, "upsell")
    assert RegisteredModel.objects.get(name="upsell").task_type == "binary_classification"


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"name": "taken"}, 400, "RESOURCE_ALREADY_EXISTS"),
        ({"name": "has spaces"}, 400, "INVALID_PARAMETER_VALUE"),
        ({"name": ""}, 400, "INVALID_PARAMETER_VALUE"),
        ({"name": "x", "tags": [{"key": "keel.task_type", "value": "astrology"}]}, 400, "INVALID_PARAMETER_VALUE"),
        ({"name": "x", "colour": "red"}, 400, "INVALID_PARAMETER_VALUE"),
    ],
)
def test_bad_creates_get_mlflows_codes_and_create_nothing(mlflow_api, body, status, code):
    create(mlflow_api, "taken")
    assert error_of(call(mlflow_api, "POST", "registered-models/create", body)) == (status, code)
    assert list(RegisteredModel.objects.values_list("name", flat=True)) == ["taken"]


def test_an_unknown_model_is_resource_does_not_exist(mlflow_api):
    assert error_of(call(mlflow_api, "GET", "registered-models/get", {"name": "nope"})) == (
        404,
        "RESOURCE_DOES_NOT_EXIST",
    )


def test_search_filters_by_name_like_ilike_and_tags_orders_and_pages(mlflow_api):
    for name in ("churn-eu", "churn-us", "upsell"):
        create(mlflow_api, name)
    call(mlflow_api, "POST", "registered-models/set-tag", {"name": "churn-us", "key": "team", "value": "growth"})

    def names(**query):
        response = call(mlflow_api, "GET", "registered-models/search", query)
        assert ok(response)
        return [m["name"] for m in response.json()["registered_models"]], response.json().get("next_page_token")

    assert names(filter="name = 'churn-eu'")[0] == ["churn-eu"]
    assert names(filter="name LIKE 'churn-%'")[0] == ["churn-eu", "churn-us"]
    assert names(filter="name ILIKE 'UPS%'")[0] == ["upsell"]
    assert names(filter="name LIKE 'UPS%'")[0] == []
    assert names(filter="tags.team = 'growth'")[0] == ["churn-us"]
    # As MLflow's client sends it to leave prompts out: a model without the tag matches `!=`.
    assert names(filter="tags.team != 'growth'")[0] == ["churn-eu", "upsell"]
    assert names(order_by=["name DESC"])[0] == ["upsell", "churn-us", "churn-eu"]
    first, token = names(max_results=2, order_by=["name ASC"])
    assert first == ["churn-eu", "churn-us"] and token
    assert names(max_results=2, order_by=["name ASC"], page_token=token) == (["upsell"], None)


@pytest.mark.parametrize(
    "query",
    [
        {"filter": "name = "},
        {"filter": "metrics.auc > 1"},
        {"order_by": ["colour"]},
        {"page_token": "not-a-token"},
        {"max_results": 0},
    ],
)
def test_a_bad_search_is_invalid_parameter_value(mlflow_api, query):
    assert error_of(call(mlflow_api, "GET", "registered-models/search", query)) == (400, "INVALID_PARAMETER_VALUE")


def test_update_and_rename_change_the_same_record(mlflow_api, api_as, pipeline):
    model_id = RegisteredModel.objects.get(name=create(mlflow_api, "churn")["name"]).pk
    create(mlflow_api, "taken")
    updated = call(mlflow_api, "PATCH", "registered-models/update", {"name": "churn", "description": "v2 docs"})
    assert ok(updated) and updated.json()["registered_model"]["description"] == "v2 docs"

    renamed = call(mlflow_api, "POST", "registered-models/rename", {"name": "churn", "new_name": "churn-eu"})
    assert ok(renamed) and renamed.json()["registered_model"]["name"] == "churn-eu"
    assert RegisteredModel.objects.get(pk=model_id).name == "churn-eu"
    assert api_as(pipeline).get("/api/v1/models/churn-eu/").json()["description"] == "v2 docs"

    refused = call(mlflow_api, "POST", "registered-models/rename", {"name": "churn-eu", "new_name": "taken"})
    assert error_of(refused) == (400, "RESOURCE_ALREADY_EXISTS")
    bad = call(mlflow_api, "POST", "registered-models/rename", {"name": "churn-eu", "new_name": "no/slash"})
    assert error_of(bad) == (400, "INVALID_PARAMETER_VALUE")
    assert RegisteredModel.objects.get(pk=model_id).name == "churn-eu"


def test_delete_is_refused_because_keel_keeps_history(mlflow_api):
    create(mlflow_api, "churn")
    refused = call(mlflow_api, "DELETE", "registered-models/delete", {"name": "churn"})
    assert error_of(refused) == (400, "INVALID_STATE") and "keeps every registered model" in refused.json()["message"]
    assert RegisteredModel.objects.filter(name="churn").exists()
    assert error_of(call(mlflow_api, "DELETE", "registered-models/delete", {"name": "nope"}))[1] == (
        "RESOURCE_DOES_NOT_EXIST"
    )


def test_model_tags_are_set_and_removed_as_history(mlflow_api):
    create(mlflow_api, "churn")
    assert ok(call(mlflow_api, "POST", "registered-models/set-tag", {"name": "churn", "key": "team", "value": "a"}))
    assert ok(call(mlflow_api, "DELETE", "registered-models/delete-tag", {"name": "churn", "key": "team"}))
    got = call(mlflow_api, "GET", "registered-models/get", {"name": "churn"}).json()["registered_model"]
    assert got["tags"] == []
    assert RegisteredModelTag.objects.filter(model__name="churn").count() == 2  # the value, then its removal
    missing = call(mlflow_api, "DELETE", "registered-models/delete-tag", {"name": "churn", "key": "team"})
    assert error_of(missing) == (404, "RESOURCE_DOES_NOT_EXIST")


def test_a_reviewer_cannot_register_through_mlflow_without_the_role(outsider):
    refused = call(bearer(outsider), "POST", "registered-models/create", {"name": "churn"})
    assert error_of(refused) == (403, "PERMISSION_DENIED")


REGISTRY_CALLS = [
    ("POST", "registered-models/create"),
    ("GET", "registered-models/get"),
    ("PATCH", "registered-models/update"),
    ("POST", "registered-models/rename"),
    ("DELETE", "registered-models/delete"),
    ("POST", "registered-models/set-tag"),
    ("DELETE", "registered-models/delete-tag"),
    ("GET", "registered-models/alias"),
    ("POST", "registered-models/alias"),
    ("DELETE", "registered-models/alias"),
    ("POST", "registered-models/get-latest-versions"),
    ("POST", "model-versions/create"),
    ("GET", "model-versions/get"),
    ("PATCH", "model-versions/update"),
    ("DELETE", "model-versions/delete"),
    ("GET", "model-versions/get-download-uri"),
    ("POST", "model-versions/set-tag"),
    ("DELETE", "model-versions/delete-tag"),
    ("POST", "model-versions/transition-stage"),
]
HOSTILE = {
    "name": "churn",
    "version": "1",
    "alias": "x" * 300,
    "key": "k" * 300,
    "value": "v",
    "new_name": "n" * 300,
    "stage": "Sideways",
    "source": "s" * 600,
}


@pytest.mark.parametrize(("method", "endpoint"), REGISTRY_CALLS)
def test_every_registry_call_answers_bad_input_in_mlflows_shape_never_5xx(mlflow_api, reviewer, method, endpoint):
    create(mlflow_api, "churn")
    call(mlflow_api, "POST", "model-versions/create", {"name": "churn", "source": "runs:/abc/model"})
    assert error_of(call(mlflow_api, method, endpoint, {})) == (400, "INVALID_PARAMETER_VALUE")
    for api in (mlflow_api, bearer(reviewer)):
        # Each call takes the fields its proto has: the others are left out, as the client sends them.
        spec = resolve(f"{MLFLOW}/{endpoint}").func.view_class
        fields = getattr(spec, "spec", None) or (spec.set_spec if method == "POST" else spec.get_spec)
        body = {k: v for k, v in HOSTILE.items() if k in fields}
        response = call(api, method, endpoint, body)
        assert response.status_code < 500, response.content
        if response.status_code != 200:
            error_of(response)


def test_model_tag_history_is_append_only(mlflow_api):
    create(mlflow_api, "churn", tags=[{"key": "team", "value": "growth"}])
    with pytest.raises(Exception, match="append-only"), transaction.atomic():
        RegisteredModelTag.objects.filter(model__name="churn").update(value="rewritten")
