"""MLflow's limits, with MLflow's error code: a refused batch logs nothing."""

import pytest

from registry.models import RunMetric, RunParam, RunTag

from .conftest import call, error_of, ok

T0 = 1_764_000_000_000


@pytest.fixture
def run_id(mlflow_api):
    experiment_id = call(mlflow_api, "POST", "experiments/create", {"name": "limits"}).json()["experiment_id"]
    return call(mlflow_api, "POST", "runs/create", {"experiment_id": experiment_id}).json()["run"]["info"]["run_id"]


def metrics(n):
    return [{"key": f"m{i}", "value": 1.0, "timestamp": T0, "step": 0} for i in range(n)]


def pairs(n, prefix):
    return [{"key": f"{prefix}{i}", "value": "v"} for i in range(n)]


def test_the_batch_limits_hold_exactly(mlflow_api, run_id):
    full = {"run_id": run_id, "metrics": metrics(1000)}
    assert call(mlflow_api, "POST", "runs/log-batch", full).status_code == 200
    assert ok(call(mlflow_api, "POST", "runs/log-batch", {"run_id": run_id, "params": pairs(100, "p")}))
    assert ok(call(mlflow_api, "POST", "runs/log-batch", {"run_id": run_id, "tags": pairs(100, "t")}))


@pytest.mark.parametrize(
    "batch",
    [
        {"metrics": metrics(1001)},
        {"params": pairs(101, "p")},
        {"tags": pairs(101, "t")},
        {"metrics": metrics(901), "params": pairs(100, "p")},  # 1001 entries in all
        {"params": [{"key": "p", "value": "1"}, {"key": "p", "value": "1"}]},  # duplicate keys
        {"params": [{"key": "p", "value": "x" * 6001}]},
        {"tags": [{"key": "t", "value": "x" * 8001}]},
        {"metrics": [{"key": "k" * 251, "value": 1.0, "timestamp": T0}]},
        {"metrics": [{"key": "bad*key", "value": 1.0, "timestamp": T0}]},
        {"params": [{"key": "../escape", "value": "1"}]},
        {"tags": [{"key": "/abs", "value": "1"}]},
        {"tags": [{"key": "", "value": "1"}]},
        {"metrics": [{"key": "m", "timestamp": T0}]},  # no value
        {"metrics": [{"key": "m", "value": "high", "timestamp": T0}]},
        {"metrics": [{"key": "m", "value": 1.0, "timestamp": T0, "step": 2**63}]},
    ],
)
def test_over_a_limit_is_invalid_parameter_value_and_logs_nothing(mlflow_api, run_id, batch):
    response = call(mlflow_api, "POST", "runs/log-batch", {"run_id": run_id, **batch})
    assert error_of(response) == (400, "INVALID_PARAMETER_VALUE")
    assert not RunMetric.objects.exists() and not RunParam.objects.exists()
    assert not RunTag.objects.filter(run__run_id=run_id).exclude(key="mlflow.runName").exists()


def test_values_at_the_limits_are_kept_whole(mlflow_api, run_id):
    body = {
        "run_id": run_id,
        "params": [{"key": "p" * 250, "value": "x" * 6000}],
        "tags": [{"key": "t", "value": "y" * 8000}],
    }
    assert call(mlflow_api, "POST", "runs/log-batch", body).status_code == 200
    assert RunParam.objects.get(key="p" * 250).value == "x" * 6000


def test_a_batch_request_over_a_megabyte_is_refused_before_it_is_read(mlflow_api, run_id):
    # 100 params of 6000 characters and 100 tags of 8000: within each limit, 1.4 MB together.
    body = {
        "run_id": run_id,
        "params": [{"key": f"p{i}", "value": "x" * 6000} for i in range(100)],
        "tags": [{"key": f"t{i}", "value": "y" * 8000} for i in range(100)],
    }
    assert error_of(call(mlflow_api, "POST", "runs/log-batch", body)) == (400, "INVALID_PARAMETER_VALUE")
    assert not RunParam.objects.exists()
