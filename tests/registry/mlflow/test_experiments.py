"""A data scientist's experiments through MLflow's API are Keel's experiments: one record, seen by
API v1 and the pages alike."""

from datetime import UTC, datetime

from registry.models import Experiment
from tests.factories import ExperimentFactory

from .conftest import call, error_of


def test_an_experiment_created_through_mlflow_is_keels_experiment(mlflow_api, api_as, pipeline):
    experiment_id = call(mlflow_api, "POST", "experiments/create", {"name": "churn-nightly"}).json()["experiment_id"]
    assert Experiment.objects.get(pk=int(experiment_id)).name == "churn-nightly"
    listed = api_as(pipeline).get("/api/v1/experiments/").json()["results"]
    assert [e["name"] for e in listed] == ["churn-nightly"]


def test_get_and_get_by_name_answer_mlflows_experiment_message(mlflow_api):
    experiment_id = call(mlflow_api, "POST", "experiments/create", {"name": "churn"}).json()["experiment_id"]
    by_id = call(mlflow_api, "GET", "experiments/get", {"experiment_id": experiment_id})
    by_name = call(mlflow_api, "GET", "experiments/get-by-name", {"experiment_name": "churn"})
    assert by_id.status_code == by_name.status_code == 200
    experiment = by_id.json()["experiment"]
    assert by_name.json()["experiment"] == experiment
    assert experiment["experiment_id"] == experiment_id and experiment["name"] == "churn"
    assert experiment["lifecycle_stage"] == "active"
    assert experiment["artifact_location"] == f"mlflow-artifacts:/{experiment_id}"
    # int64 fields are JSON numbers, as MLflow's server writes them.
    assert isinstance(experiment["creation_time"], int) and isinstance(experiment["last_update_time"], int)


def _experiments(names_and_days):
    for name, day in names_and_days:
        ExperimentFactory(name=name, created_at=datetime(2026, 11, day, tzinfo=UTC))


def _names(response):
    assert response.status_code == 200, response.content
    return [e["name"] for e in response.json().get("experiments", [])]


def test_search_filters_by_name_and_orders(mlflow_api):
    _experiments([("churn-a", 1), ("churn-b", 2), ("upsell", 3)])
    assert _names(call(mlflow_api, "POST", "experiments/search", {})) == ["upsell", "churn-b", "churn-a"]
    assert _names(call(mlflow_api, "POST", "experiments/search", {"filter": "name LIKE 'churn%'"})) == [
        "churn-b",
        "churn-a",
    ]
    assert _names(call(mlflow_api, "POST", "experiments/search", {"filter": "name ILIKE 'CHURN-_'"})) == [
        "churn-b",
        "churn-a",
    ]
    assert _names(call(mlflow_api, "POST", "experiments/search", {"filter": "attribute.name = 'upsell'"})) == ["upsell"]
    assert _names(call(mlflow_api, "POST", "experiments/search", {"order_by": ["name ASC"]})) == [
        "churn-a",
        "churn-b",
        "upsell",
    ]
    since = int(datetime(2026, 11, 2, tzinfo=UTC).timestamp() * 1000)
    assert _names(
        call(mlflow_api, "GET", "experiments/search", {"filter": f"creation_time >= {since}", "order_by": "name"})
    ) == ["churn-b", "upsell"]
    assert _names(call(mlflow_api, "POST", "experiments/search", {"filter": "tags.team = 'growth'"})) == []
    assert _names(call(mlflow_api, "POST", "experiments/search", {"view_type": "DELETED_ONLY"})) == []


def test_search_pages_with_tokens(mlflow_api):
    _experiments([(f"exp-{i}", i + 1) for i in range(5)])
    seen, token = [], None
    for _ in range(3):
        body = {"max_results": 2, "order_by": ["name"]} | ({"page_token": token} if token else {})
        page = call(mlflow_api, "POST", "experiments/search", body).json()
        seen += [e["name"] for e in page["experiments"]]
        token = page.get("next_page_token")
    assert seen == [f"exp-{i}" for i in range(5)] and token is None


def test_max_results_has_mlflows_bounds(mlflow_api):
    for bad in (0, 50001):
        assert error_of(call(mlflow_api, "POST", "experiments/search", {"max_results": bad})) == (
            400,
            "INVALID_PARAMETER_VALUE",
        )


def test_experiment_tags_are_refused_rather_than_dropped(mlflow_api):
    body = {"name": "churn", "tags": [{"key": "team", "value": "growth"}]}
    assert error_of(call(mlflow_api, "POST", "experiments/create", body)) == (400, "INVALID_PARAMETER_VALUE")
    assert not Experiment.objects.exists()
