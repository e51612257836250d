"""A training job logs hundreds of MLflow calls a run, so each call reads the database a bounded
number of times: not once per metric point, per logged run, or per permission source. These hold
what benchmarks/tracking_vs_mlflow.py measured Keel faster with (the bounds are SQLite's, where a
bulk insert takes several statements; PostgreSQL needs fewer)."""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend

from registry import selectors
from registry.models import RunMetric

from .conftest import bearer, call

T0 = 1_764_000_000_000  # ms since the epoch


@pytest.fixture
def experiment_id(mlflow_api):
    return call(mlflow_api, "POST", "experiments/create", {"name": "churn"}).json()["experiment_id"]


def new_run(api, experiment_id, name="nightly") -> str:
    tags = [{"key": "team", "value": "ds"}]
    body = {"experiment_id": experiment_id, "run_name": name, "start_time": T0, "tags": tags}
    response = call(api, "POST", "runs/create", body)
    assert response.status_code == 200, response.content
    return response.json()["run"]["info"]["run_id"]


def curve(run_id: str, keys: int, steps: int, name: str = "curve") -> dict:
    points = [
        {"key": f"{name}_{k}", "value": 1 / (s + 1), "timestamp": T0 + s, "step": s}
        for k in range(keys)
        for s in range(steps)
    ]
    return {"run_id": run_id, "metrics": points}


def log_curves(api, run_id: str, params: dict | None = None) -> None:
    body = {**curve(run_id, 10, 50), "params": [{"key": k, "value": v} for k, v in (params or {}).items()]}
    response = call(api, "POST", "runs/log-batch", body)
    assert response.status_code == 200, response.content


def test_a_batch_of_500_metrics_is_a_few_bulk_inserts_however_many_keys(
    mlflow_api, experiment_id, django_assert_max_num_queries
):
    run_id = new_run(mlflow_api, experiment_id)
    # The caller, the run, its lock, 4 inserts of 166 rows, and the transaction's savepoint and release
    # (the test's own transaction around it makes it a savepoint: no nested one for the logged models).
    with django_assert_max_num_queries(9):
        assert call(mlflow_api, "POST", "runs/log-batch", curve(run_id, 10, 50)).status_code == 200
    with django_assert_max_num_queries(9):
        assert call(mlflow_api, "POST", "runs/log-batch", curve(run_id, 500, 1, "wide")).status_code == 200
    assert RunMetric.objects.filter(run__run_id=run_id).count() == 1000


def test_basic_auths_permissions_are_read_in_one_query_and_are_modelbackends(pipeline, django_assert_num_queries):
    from registry.mlflow.auth import with_permissions

    user = get_user_model().objects.get(pk=pipeline.pk)
    with django_assert_num_queries(1):
        with_permissions(user)
        assert user.has_perm("registry.log_training")
    assert user.get_all_permissions() == ModelBackend().get_all_permissions(get_user_model().objects.get(pk=user.pk))


def test_a_user_without_the_permission_is_still_refused(outsider):
    response = call(bearer(outsider), "POST", "runs/create", {"experiment_id": "0"})
    assert response.status_code == 403 and response.json()["error_code"] == "PERMISSION_DENIED"


def test_creating_a_run_answers_what_get_run_answers_without_reading_it_back(
    mlflow_api, experiment_id, django_assert_max_num_queries
):
    tags = [{"key": "b", "value": "2"}]
    body = {"experiment_id": experiment_id, "run_name": "nightly", "start_time": T0, "tags": tags}
    with django_assert_max_num_queries(7):
        created = call(mlflow_api, "POST", "runs/create", body).json()["run"]
    got = call(mlflow_api, "GET", "runs/get", {"run_id": created["info"]["run_id"]}).json()["run"]
    assert created == got
    assert created["data"]["tags"] == [{"key": "b", "value": "2"}, {"key": "mlflow.runName", "value": "nightly"}]


def test_ending_a_run_is_one_update_after_reading_it(
    mlflow_api, experiment_id, pipeline, django_assert_max_num_queries
):
    run_id = new_run(mlflow_api, experiment_id)
    with django_assert_max_num_queries(3):  # the caller, the run, one conditional UPDATE: no lock, no transaction
        response = call(mlflow_api, "POST", "runs/update", {"run_id": run_id, "status": "FINISHED", "end_time": T0 + 5})
    info = response.json()["run_info"]
    assert info["status"] == "FINISHED" and info["end_time"] == T0 + 5 and info["user_id"] == pipeline.username


def test_get_run_and_search_read_the_same_few_times_whatever_the_history(
    mlflow_api, experiment_id, django_assert_max_num_queries
):
    first = new_run(mlflow_api, experiment_id, "first")
    log_curves(mlflow_api, first, {"lr": "0.01"})
    search = {"experiment_ids": [experiment_id], "filter": "params.lr = '0.01' and metrics.curve_0 < 1"}
    with django_assert_max_num_queries(3) as one_run:  # the caller, the page of runs, all their logs
        assert len(call(mlflow_api, "POST", "runs/search", search).json()["runs"]) == 1
    one_run = len(one_run.captured_queries)  # the log is reset by the next request
    for i in range(4):
        log_curves(mlflow_api, new_run(mlflow_api, experiment_id, f"more-{i}"), {"lr": "0.01"})
    with django_assert_max_num_queries(one_run) as five_runs:
        runs = call(mlflow_api, "POST", "runs/search", search).json()["runs"]
    assert len(runs) == 5 and len(five_runs.captured_queries) == one_run
    with django_assert_max_num_queries(3):  # the caller, the run, its logs
        run = call(mlflow_api, "GET", "runs/get", {"run_id": first}).json()["run"]
    assert len(run["data"]["metrics"]) == 10
    assert {"key": "curve_3", "value": 1 / 50, "timestamp": T0 + 49, "step": 49} in run["data"]["metrics"]


def test_metric_history_is_one_read_after_the_caller(mlflow_api, experiment_id, django_assert_max_num_queries):
    run_id = new_run(mlflow_api, experiment_id)
    log_curves(mlflow_api, run_id)
    with django_assert_max_num_queries(2):  # the caller with their permissions, the points
        points = call(mlflow_api, "GET", "metrics/get-history", {"run_id": run_id, "metric_key": "curve_0"}).json()
    assert [p["step"] for p in points["metrics"]] == list(range(50))
    assert {p["run_id"] for p in points["metrics"]} == {run_id}
    # No points: a run that exists answers an empty history, one that does not is not found.
    empty = call(mlflow_api, "GET", "metrics/get-history", {"run_id": run_id, "metric_key": "never"})
    assert empty.json() == {"metrics": []}
    missing = call(mlflow_api, "GET", "metrics/get-history", {"run_id": "0" * 32, "metric_key": "curve_0"})
    assert missing.status_code == 404 and missing.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"


def test_the_latest_point_of_each_metric_is_highest_step_then_newest_then_last_logged(pipeline):
    from registry import services

    experiment = services.experiment_get_or_create(name="ties", actor=pipeline)
    run = services.run_create(experiment=experiment, actor=pipeline)
    other = services.run_create(experiment=experiment, actor=pipeline)
    services.run_log(
        run=run,
        actor=pipeline,
        metrics=[
            {"key": "auc", "value": 0.9, "step": 2, "timestamp": T0},
            {"key": "auc", "value": 0.7, "step": 1, "timestamp": T0 + 99},  # newer, but an earlier step
            {"key": "loss", "value": 0.3, "step": 1, "timestamp": T0},
            {"key": "loss", "value": 0.2, "step": 1, "timestamp": T0 + 1},  # same step, newer
            {"key": "acc", "value": 0.1, "step": 0, "timestamp": T0},
        ],
    )
    services.run_log(run=run, actor=pipeline, metrics=[{"key": "acc", "value": 0.4, "step": 0, "timestamp": T0}])
    services.run_log(run=other, actor=pipeline, metrics=[{"key": "auc", "value": 0.1, "step": 9, "timestamp": T0}])
    logs = selectors.run_logs([run.pk, other.pk])
    assert [(p.key, p.value) for p in logs[run.pk].metrics] == [("acc", 0.4), ("auc", 0.9), ("loss", 0.2)]
    assert [(p.key, p.value, p.step) for p in logs[other.pk].metrics] == [("auc", 0.1, 9)]


def test_a_page_of_runs_logs_is_one_query_each_run_its_own(pipeline, django_assert_num_queries):
    from registry import services
    from registry.models import LoggedModel

    experiment = services.experiment_get_or_create(name="page", actor=pipeline)
    run, other, empty = (services.run_create(experiment=experiment, actor=pipeline) for _ in range(3))
    services.run_log(
        run=run,
        actor=pipeline,
        params=[("lr", "0.1"), ("depth", "3")],
        metrics=[{"key": "loss", "value": float("nan"), "step": 1, "timestamp": T0}],
        tags=[("team", "ds"), ("stage", "dev")],
    )
    services.run_log(run=run, actor=pipeline, tags=[("stage", "prod")])  # the newest value counts
    services.run_tag_remove(run=run, key="team", actor=pipeline)  # a removed tag is gone
    services.run_log(run=other, actor=pipeline, params=[("lr", "0.2")], tags=[("team", "ml")])
    for step in (None, 7, 2):
        LoggedModel.objects.create(experiment=experiment, run=run, name="m", output_step=step, created_by=pipeline)
    with django_assert_num_queries(1):
        logs = selectors.run_logs([run.pk, other.pk, empty.pk])
    assert logs[run.pk].params == [("depth", "3"), ("lr", "0.1")] and logs[other.pk].params == [("lr", "0.2")]
    assert logs[run.pk].tags == {"stage": "prod"} and logs[other.pk].tags == {"team": "ml"}
    assert [(p.key, p.is_nan, p.step, p.timestamp) for p in logs[run.pk].metrics] == [("loss", True, 1, T0)]
    models = LoggedModel.objects.filter(run=run, output_step__isnull=False).order_by("pk")
    assert logs[run.pk].outputs == [(m.model_id, m.output_step) for m in models] and len(models) == 2
    assert logs[empty.pk] == selectors.RunLogs() and logs[other.pk].outputs == []


def test_a_huge_page_is_read_in_slices_below_sqlites_parameter_limit(pipeline, monkeypatch, django_assert_num_queries):
    import importlib

    from registry import services

    run_logs_module = importlib.import_module("registry.selectors.run_logs")
    experiment = services.experiment_get_or_create(name="wide", actor=pipeline)
    runs = [services.run_create(experiment=experiment, actor=pipeline, name=f"r{i}") for i in range(3)]
    for i, run in enumerate(runs):
        services.run_log(run=run, actor=pipeline, params=[("i", str(i))])
    monkeypatch.setattr(run_logs_module, "CHUNK", 2)
    with django_assert_num_queries(2):
        logs = selectors.run_logs([run.pk for run in runs])
    assert [logs[run.pk].params for run in runs] == [[("i", "0")], [("i", "1")], [("i", "2")]]
