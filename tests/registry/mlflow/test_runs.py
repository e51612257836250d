"""A run logged through MLflow's API is a Keel training run: params, metrics and tags land in the
same records API v1 reads, params stay immutable, and deleting a run erases nothing."""

import pytest

from registry.models import RunParam, RunTag, TrainingRun

from .conftest import call, error_of, ok

T0 = 1_764_000_000_000  # ms since the epoch


@pytest.fixture
def experiment_id(mlflow_api):
    return call(mlflow_api, "POST", "experiments/create", {"name": "churn"}).json()["experiment_id"]


@pytest.fixture
def run_id(mlflow_api, experiment_id):
    body = {
        "experiment_id": experiment_id,
        "run_name": "nightly",
        "start_time": T0,
        "tags": [{"key": "mlflow.user", "value": "ds"}],
    }
    response = call(mlflow_api, "POST", "runs/create", body)
    assert response.status_code == 200, response.content
    return response.json()["run"]["info"]["run_id"]


def get_run(api, run_id):
    response = call(api, "GET", "runs/get", {"run_id": run_id})
    assert response.status_code == 200, response.content
    return response.json()["run"]


def test_a_created_run_answers_mlflows_run_message(mlflow_api, run_id, experiment_id, pipeline):
    run = get_run(mlflow_api, run_id)
    info = run["info"]
    assert info["run_id"] == info["run_uuid"] == run_id
    assert info["experiment_id"] == experiment_id and info["run_name"] == "nightly"
    assert info["status"] == "RUNNING" and info["lifecycle_stage"] == "active"
    assert info["start_time"] == T0 and "end_time" not in info
    assert info["user_id"] == pipeline.username
    assert info["artifact_uri"] == f"mlflow-artifacts:/{experiment_id}/{run_id}/artifacts"
    assert {"key": "mlflow.runName", "value": "nightly"} in run["data"]["tags"]


def test_log_batch_lands_in_the_records_api_v1_reads(mlflow_api, run_id, api_as, pipeline):
    body = {
        "run_id": run_id,
        "params": [{"key": "depth", "value": "6"}],
        "metrics": [
            {"key": "auc", "value": 0.8, "timestamp": T0, "step": 0},
            {"key": "auc", "value": 0.85, "timestamp": T0 + 1, "step": 1},
            {"key": "loss", "value": "NaN", "timestamp": T0, "step": 0},
            {"key": "gain", "value": "Infinity", "timestamp": T0, "step": 0},
        ],
        "tags": [{"key": "team", "value": "growth"}],
    }
    assert call(mlflow_api, "POST", "runs/log-batch", body).status_code == 200
    v1 = api_as(pipeline).get(f"/api/v1/runs/{run_id}/").json()
    assert v1["params"] == {"depth": "6"}
    assert v1["tags"]["team"] == "growth"
    data = get_run(mlflow_api, run_id)["data"]
    assert {"key": "auc", "value": 0.85, "timestamp": T0 + 1, "step": 1} in data["metrics"]
    assert {"key": "loss", "value": "NaN", "timestamp": T0, "step": 0} in data["metrics"]
    gain = next(m for m in data["metrics"] if m["key"] == "gain")
    assert gain["value"] == 1.7976931348623157e308  # as MLflow stores an infinity


def test_single_calls_log_a_metric_a_param_and_a_tag(mlflow_api, run_id):
    metric = {"run_id": run_id, "key": "auc", "value": 0.7, "timestamp": T0, "step": 3}
    assert call(mlflow_api, "POST", "runs/log-metric", metric).status_code == 200
    assert ok(call(mlflow_api, "POST", "runs/log-parameter", {"run_id": run_id, "key": "lr", "value": "0.1"}))
    assert ok(call(mlflow_api, "POST", "runs/set-tag", {"run_id": run_id, "key": "stage", "value": "dev"}))
    history = call(mlflow_api, "GET", "metrics/get-history", {"run_id": run_id, "metric_key": "auc"}).json()
    assert history["metrics"] == [{"key": "auc", "value": 0.7, "timestamp": T0, "step": 3, "run_id": run_id}]
    assert RunParam.objects.get(run__run_id=run_id, key="lr").value == "0.1"


def test_a_logged_param_cannot_change(mlflow_api, run_id):
    assert ok(call(mlflow_api, "POST", "runs/log-parameter", {"run_id": run_id, "key": "lr", "value": "0.1"}))
    assert ok(call(mlflow_api, "POST", "runs/log-parameter", {"run_id": run_id, "key": "lr", "value": "0.1"}))
    changed = call(mlflow_api, "POST", "runs/log-parameter", {"run_id": run_id, "key": "lr", "value": "0.2"})
    assert error_of(changed) == (400, "INVALID_PARAMETER_VALUE")
    assert RunParam.objects.get(run__run_id=run_id, key="lr").value == "0.1"


def test_delete_tag_keeps_the_history(mlflow_api, run_id, api_as, pipeline):
    call(mlflow_api, "POST", "runs/set-tag", {"run_id": run_id, "key": "stage", "value": "dev"})
    assert ok(call(mlflow_api, "POST", "runs/delete-tag", {"run_id": run_id, "key": "stage"}))
    assert "stage" not in api_as(pipeline).get(f"/api/v1/runs/{run_id}/").json()["tags"]
    assert "stage" not in {t["key"] for t in get_run(mlflow_api, run_id)["data"].get("tags", [])}
    assert list(
        RunTag.objects.filter(run__run_id=run_id, key="stage").order_by("id").values_list("removed", flat=True)
    ) == [
        None,
        True,
    ]
    missing = call(mlflow_api, "POST", "runs/delete-tag", {"run_id": run_id, "key": "stage"})
    assert error_of(missing) == (404, "RESOURCE_DOES_NOT_EXIST")
    assert ok(call(mlflow_api, "POST", "runs/set-tag", {"run_id": run_id, "key": "stage", "value": "prod"}))
    assert {"key": "stage", "value": "prod"} in get_run(mlflow_api, run_id)["data"]["tags"]


def test_update_ends_the_run_and_an_ended_run_stays_ended(mlflow_api, run_id):
    ended = call(mlflow_api, "POST", "runs/update", {"run_id": run_id, "status": "FINISHED", "end_time": T0 + 60_000})
    assert ended.status_code == 200
    assert ended.json()["run_info"]["end_time"] == T0 + 60_000
    assert ended.json()["run_info"]["status"] == "FINISHED"
    again = call(mlflow_api, "POST", "runs/update", {"run_id": run_id, "status": "RUNNING"})
    assert error_of(again) == (400, "INVALID_STATE")
    renamed = call(mlflow_api, "POST", "runs/update", {"run_id": run_id, "run_name": "nightly-2"})
    assert renamed.json()["run_info"]["run_name"] == "nightly-2"


def test_a_run_cannot_end_before_it_started(mlflow_api, run_id):
    early = call(mlflow_api, "POST", "runs/update", {"run_id": run_id, "status": "FAILED", "end_time": T0 - 1})
    assert error_of(early) == (400, "INVALID_PARAMETER_VALUE")


def test_delete_and_restore(mlflow_api, run_id):
    assert ok(call(mlflow_api, "POST", "runs/delete", {"run_id": run_id}))
    assert get_run(mlflow_api, run_id)["info"]["lifecycle_stage"] == "deleted"
    logged = call(mlflow_api, "POST", "runs/set-tag", {"run_id": run_id, "key": "k", "value": "v"})
    assert error_of(logged) == (400, "INVALID_STATE")
    assert TrainingRun.objects.filter(run_id=run_id).exists()  # nothing erased
    assert ok(call(mlflow_api, "POST", "runs/restore", {"run_id": run_id}))
    assert get_run(mlflow_api, run_id)["info"]["lifecycle_stage"] == "active"


def test_a_run_that_does_not_exist(mlflow_api):
    for endpoint, method in (("runs/get", "GET"), ("runs/delete", "POST"), ("runs/log-batch", "POST")):
        response = call(mlflow_api, method, endpoint, {"run_id": "f" * 32})
        assert error_of(response) == (404, "RESOURCE_DOES_NOT_EXIST"), endpoint


def test_a_run_without_an_experiment_goes_to_default(mlflow_api):
    response = call(mlflow_api, "POST", "runs/create", {"experiment_id": "0"})
    run = TrainingRun.objects.get(run_id=response.json()["run"]["info"]["run_id"])
    assert run.experiment.name == "Default"


def test_a_run_in_an_unknown_experiment_is_not_found(mlflow_api):
    assert error_of(call(mlflow_api, "POST", "runs/create", {"experiment_id": "424242"})) == (
        404,
        "RESOURCE_DOES_NOT_EXIST",
    )


def test_metric_history_pages(mlflow_api, run_id):
    metrics = [{"key": "loss", "value": 1 / (i + 1), "timestamp": T0 + i, "step": i} for i in range(5)]
    call(mlflow_api, "POST", "runs/log-batch", {"run_id": run_id, "metrics": metrics})
    steps, token = [], None
    for _ in range(3):
        query = {"run_id": run_id, "metric_key": "loss", "max_results": 2} | ({"page_token": token} if token else {})
        page = call(mlflow_api, "GET", "metrics/get-history", query).json()
        steps += [m["step"] for m in page["metrics"]]
        token = page.get("next_page_token")
    assert steps == [0, 1, 2, 3, 4] and token is None
