"""Whatever goes wrong, the client gets MLflow's error shape with MLflow's status, and bad input is
never a 5xx (the client retries 5xx for minutes)."""

import pytest
from rest_framework.test import APIClient

from registry import selectors

from .conftest import MLFLOW, call, error_of


@pytest.mark.parametrize(
    "body",
    [
        {"name": 42},  # a number where the proto says text
        {"name": ["a"]},
        {"name": {"nested": "object"}},
        {"name": "ok", "surprise": 1},  # a field the proto does not have
        {"name": "ok", "tags": "not-a-list"},
        {"name": "ok", "tags": [{"key": "k", "value": 1}]},
        {"name": "ok", "tags": [{"key": "k", "colour": "red"}]},
        {},  # the required name is missing
        {"name": ""},
    ],
)
def test_bad_fields_are_invalid_parameter_value(mlflow_api, body):
    assert error_of(call(mlflow_api, "POST", "experiments/create", body)) == (400, "INVALID_PARAMETER_VALUE")


@pytest.mark.parametrize(
    "raw,content_type",
    [
        (b"{not json", "application/json"),
        (b"[1, 2]", "application/json"),  # JSON, but not an object
        (b'"text"', "application/json"),
        (b"[" * 5000, "application/json"),  # nested past the parser's bound
        (b"name=abc", "application/x-www-form-urlencoded"),
    ],
)
def test_a_body_that_is_not_a_json_object_is_invalid_parameter_value(mlflow_api, raw, content_type):
    response = mlflow_api.post(f"{MLFLOW}/experiments/create", raw, content_type=content_type)
    assert error_of(response) == (400, "INVALID_PARAMETER_VALUE")


@pytest.mark.parametrize(
    "query",
    [
        {"max_results": "10" * 20},  # beyond int64
        {"max_results": "-1"},
        {"max_results": "ten"},
        {"max_results": ["1", "2"]},  # one value, twice
        {"view_type": "SOMETIMES"},
        {"page_token": "not-a-token"},
        {"filter": "name = "},
        {"filter": "name = 'a' OR name = 'b'"},
        {"filter": "metrics.loss < 1"},  # experiments have no metrics
        {"order_by": "colour DESC"},
        {"surprise": "1"},
    ],
)
def test_bad_query_fields_are_invalid_parameter_value(mlflow_api, query):
    assert error_of(mlflow_api.get(f"{MLFLOW}/experiments/search", query)) == (400, "INVALID_PARAMETER_VALUE")


@pytest.mark.parametrize("value", ["1" + "0" * 40, "1e999", "-1e999", "1.5", '"1e999"', "true", "NaN"])
def test_huge_numbers_in_a_json_body_are_refused_not_crashed_on(mlflow_api, value):
    raw = b'{"max_results": ' + value.encode() + b"}"
    response = mlflow_api.post(f"{MLFLOW}/experiments/search", raw, content_type="application/json")
    assert error_of(response) == (400, "INVALID_PARAMETER_VALUE")


def test_what_does_not_exist_is_resource_does_not_exist(mlflow_api):
    assert error_of(call(mlflow_api, "GET", "experiments/get", {"experiment_id": "999999"})) == (
        404,
        "RESOURCE_DOES_NOT_EXIST",
    )
    assert error_of(call(mlflow_api, "GET", "experiments/get", {"experiment_id": "not-a-number"})) == (
        404,
        "RESOURCE_DOES_NOT_EXIST",
    )
    assert error_of(call(mlflow_api, "GET", "experiments/get-by-name", {"experiment_name": "nope"})) == (
        404,
        "RESOURCE_DOES_NOT_EXIST",
    )


def test_a_name_already_taken_is_resource_already_exists(mlflow_api):
    assert call(mlflow_api, "POST", "experiments/create", {"name": "churn"}).status_code == 200
    assert error_of(call(mlflow_api, "POST", "experiments/create", {"name": "churn"})) == (
        400,
        "RESOURCE_ALREADY_EXISTS",
    )


def test_a_method_the_endpoint_does_not_serve_is_endpoint_not_found(mlflow_api):
    response = mlflow_api.delete(f"{MLFLOW}/experiments/create")
    assert response.json()["error_code"] == "ENDPOINT_NOT_FOUND"


def test_a_real_bug_is_internal_error_in_mlflows_shape(mlflow_api, monkeypatch):
    def broken(name):
        raise RuntimeError("a bug")

    monkeypatch.setattr(selectors, "experiment_get_by_name", broken)
    mlflow_api.raise_request_exception = False
    response = call(mlflow_api, "GET", "experiments/get-by-name", {"experiment_name": "x"})
    assert error_of(response) == (500, "INTERNAL_ERROR")
    assert "a bug" not in response.json()["message"]


def test_nul_in_a_query_value_is_refused_before_any_query(mlflow_api):
    for endpoint, field in (("experiments/get-by-name", "experiment_name"), ("runs/get", "run_id")):
        response = mlflow_api.get(f"{MLFLOW}/{endpoint}", {field: "bad\x00name"})
        assert error_of(response) == (400, "INVALID_PARAMETER_VALUE"), endpoint


@pytest.mark.parametrize("method", ["GET", "POST", "PATCH", "DELETE"])
@pytest.mark.parametrize("path", ["/api/2.0/mlflow/traces/start", "/api/3.0/mlflow/scorers/list"])
def test_a_path_keel_does_not_serve_is_endpoint_not_found_for_anyone(db, method, path):
    response = getattr(APIClient(), method.lower())(path)
    assert error_of(response) == (404, "ENDPOINT_NOT_FOUND")


def test_api_v1_keeps_its_own_not_found(db):
    assert "error_code" not in APIClient().get("/api/v1/nowhere/").json()


@pytest.mark.parametrize(
    "body",
    [
        {"experiment_ids": ["1"], "filter": "metrics.auc > 'high'"},
        {"experiment_ids": ["1"], "filter": "params.depth > 6"},
        {"experiment_ids": ["1"], "filter": "colour = 'red'"},
        {"experiment_ids": ["1"], "datasets": [{"dataset_digest": "d1"}]},
        {"experiment_ids": ["1"], "order_by": [{"field_name": "params.depth"}]},
        {"experiment_ids": ["1"], "order_by": [{"field_name": "name", "dataset_name": "holdout"}]},
        {"experiment_ids": ["1"], "order_by": [{"field_name": "metrics.auc", "ascending": "down"}]},
    ],
)
def test_a_bad_logged_model_search_is_invalid_parameter_value(mlflow_api, body):
    assert error_of(call(mlflow_api, "POST", "logged-models/search", body)) == (400, "INVALID_PARAMETER_VALUE")


def test_deleting_a_logged_model_that_does_not_exist_is_resource_does_not_exist(mlflow_api):
    for model_id in ("m-" + "0" * 32, "m-%00", "x" * 300):
        response = mlflow_api.delete(f"{MLFLOW}/logged-models/{model_id}", {}, format="json")
        assert error_of(response) == (404, "RESOURCE_DOES_NOT_EXIST"), model_id
    unknown_run = call(mlflow_api, "POST", "runs/log-inputs", {"run_id": "f" * 32, "models": []})
    assert error_of(unknown_run) == (404, "RESOURCE_DOES_NOT_EXIST")
    garbage = call(mlflow_api, "POST", "runs/log-inputs", {"run_id": "f" * 32, "models": "m-1"})
    assert error_of(garbage) == (400, "INVALID_PARAMETER_VALUE")
