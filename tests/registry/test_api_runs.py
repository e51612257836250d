"""A pipeline logs a training run's config and commit log; what it logged can never be rewritten."""

import math

import pytest
from django.db import IntegrityError, transaction

from registry.models import RunMetric, RunParam, RunTag, TrainingRun


@pytest.fixture
def run_id(pipeline_api):
    response = pipeline_api.post(
        "/api/v1/runs/",
        {
            "experiment": "upsell-nightly",
            "name": "retrain-2026-11",
            "code_commit": "0123456789abcdef0123456789abcdef01234567",
            "tags": {"trigger": "schedule"},
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    return response.json()["run_id"]


def log(api, run_id, **batch):
    return api.post(f"/api/v1/runs/{run_id}/log", batch, format="json")


def test_a_new_run_has_an_mlflow_style_id_and_is_running(pipeline_api, run_id):
    run = pipeline_api.get(f"/api/v1/runs/{run_id}/").json()
    assert len(run_id) == 32 and int(run_id, 16) >= 0
    assert run["status"] == "RUNNING"
    assert run["experiment"] == "upsell-nightly"
    assert run["tags"] == {"trigger": "schedule"}


def test_params_metrics_and_tags_are_logged_in_one_batch(pipeline_api, run_id):
    response = log(
        pipeline_api,
        run_id,
        params=[{"key": "learning_rate", "value": "0.1"}, {"key": "max_depth", "value": "4"}],
        metrics=[
            {"key": "val_auc", "value": 0.71, "step": 1, "timestamp": 1000},
            {"key": "val_auc", "value": 0.78, "step": 2, "timestamp": 2000},
        ],
        tags=[{"key": "owner", "value": "growth"}],
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["params"] == {"learning_rate": "0.1", "max_depth": "4"}
    assert body["metrics"] == {"val_auc": 0.78}
    assert body["tags"] == {"owner": "growth", "trigger": "schedule"}


def test_relogging_a_param_with_another_value_is_a_conflict_naming_the_key(pipeline_api, run_id):
    assert log(pipeline_api, run_id, params=[{"key": "learning_rate", "value": "0.1"}]).status_code == 200
    response = log(
        pipeline_api,
        run_id,
        params=[{"key": "max_depth", "value": "4"}, {"key": "learning_rate", "value": "0.2"}],
        metrics=[{"key": "loss", "value": 0.5}],
    )
    assert response.status_code == 409
    message = response.json()["detail"]["params"][0]
    assert "learning_rate" in message and "0.1" in message and "0.2" in message
    # The whole batch was refused: neither the other param nor the metric was written.
    run = TrainingRun.objects.get(run_id=run_id)
    assert list(run.params.values_list("key", "value")) == [("learning_rate", "0.1")]
    assert not run.metrics.exists()


def test_relogging_the_same_param_value_is_harmless(pipeline_api, run_id):
    for _ in range(2):
        assert log(pipeline_api, run_id, params=[{"key": "seed", "value": "7"}]).status_code == 200
    assert RunParam.objects.filter(run__run_id=run_id, key="seed").count() == 1


def test_metrics_append_history_and_a_retried_batch_adds_nothing(pipeline_api, run_id):
    batch = [{"key": "loss", "value": v, "step": i, "timestamp": 1000 + i} for i, v in enumerate([0.9, 0.6, 0.4])]
    log(pipeline_api, run_id, metrics=batch)
    log(pipeline_api, run_id, metrics=batch)  # the pipeline retried after a timeout
    history = pipeline_api.get(f"/api/v1/runs/{run_id}/metrics/loss").json()["results"]
    assert [(p["step"], p["value"]) for p in history] == [(0, 0.9), (1, 0.6), (2, 0.4)]


def test_nan_and_infinite_metrics_are_kept_as_mlflow_keeps_them(pipeline_api, run_id):
    response = log(
        pipeline_api,
        run_id,
        metrics=[
            {"key": "loss", "value": "NaN", "step": 0, "timestamp": 1},
            {"key": "grad", "value": "Infinity", "step": 0, "timestamp": 1},
        ],
    )
    assert response.status_code == 200, response.content
    nan_point = RunMetric.objects.get(run__run_id=run_id, key="loss")
    assert nan_point.is_nan
    assert RunMetric.objects.get(run__run_id=run_id, key="grad").value == 1.7976931348623157e308
    assert response.json()["metrics"]["loss"] is None


def test_tags_change_by_appending_so_the_old_value_stays_in_history(pipeline_api, run_id):
    log(pipeline_api, run_id, tags=[{"key": "note", "value": "first try"}])
    log(pipeline_api, run_id, tags=[{"key": "note", "value": "learning rate too high"}])
    assert pipeline_api.get(f"/api/v1/runs/{run_id}/").json()["tags"]["note"] == "learning rate too high"
    assert list(
        RunTag.objects.filter(run__run_id=run_id, key="note").order_by("id").values_list("value", flat=True)
    ) == ["first try", "learning rate too high"]


def test_an_ended_run_stays_ended(pipeline_api, run_id):
    finished = pipeline_api.post(f"/api/v1/runs/{run_id}/status", {"status": "FINISHED"}, format="json")
    assert finished.status_code == 200
    assert finished.json()["ended_at"]
    again = pipeline_api.post(f"/api/v1/runs/{run_id}/status", {"status": "RUNNING"}, format="json")
    assert again.status_code == 409
    assert "already ended" in again.json()["detail"]["status"][0]


def test_an_end_before_the_runs_start_is_a_conflict_with_the_run(pipeline_api, run_id):
    response = pipeline_api.post(
        f"/api/v1/runs/{run_id}/status", {"status": "FAILED", "ended_at": "2000-01-01T00:00:00Z"}, format="json"
    )
    assert response.status_code == 409 and "ended_at" in response.json()["detail"]


@pytest.mark.parametrize(
    "batch,field",
    [
        ({}, "non_field_errors"),
        ({"params": [{"key": "lr"}]}, "params"),
        ({"metrics": [{"key": "loss", "value": "low"}]}, "metrics"),
        ({"metrics": [{"key": "loss", "value": 1, "step": "first"}]}, "metrics"),
        ({"parameters": [{"key": "lr", "value": "1"}]}, "parameters"),
        ({"params": [{"key": "x" * 251, "value": "1"}]}, "params"),
    ],
)
def test_malformed_batches_get_a_field_level_400(pipeline_api, run_id, batch, field):
    response = pipeline_api.post(f"/api/v1/runs/{run_id}/log", batch, format="json")
    assert response.status_code == 400
    assert field in response.json()["detail"]


def test_an_unknown_run_is_a_clear_404(pipeline_api):
    response = log(pipeline_api, "f" * 32, params=[{"key": "a", "value": "b"}])
    assert response.status_code == 404
    assert "f" * 32 in response.json()["message"]


def test_runs_filter_by_experiment_and_status(pipeline_api, run_id):
    other = pipeline_api.post("/api/v1/runs/", {"experiment": "churn"}, format="json").json()["run_id"]
    listed = pipeline_api.get("/api/v1/runs/?experiment=upsell-nightly&status=RUNNING").json()
    assert [r["run_id"] for r in listed["results"]] == [run_id]
    assert other != run_id
    bad = pipeline_api.get("/api/v1/runs/?status=SLEEPING")
    assert bad.status_code == 400 and "status" in bad.json()["detail"]


def test_a_blank_started_after_filter_on_runs_is_refused(pipeline_api, run_id):
    response = pipeline_api.get("/api/v1/runs/?started_after=")
    assert response.status_code == 400 and list(response.json()["detail"]) == ["started_after"]


@pytest.mark.django_db
def test_the_database_itself_refuses_to_rewrite_a_logged_param(pipeline_api, run_id):
    log(pipeline_api, run_id, params=[{"key": "lr", "value": "0.1"}], metrics=[{"key": "loss", "value": 1.0}])
    with pytest.raises(IntegrityError), transaction.atomic():
        RunParam.objects.filter(run__run_id=run_id).update(value="0.9")
    with pytest.raises(IntegrityError), transaction.atomic():
        RunMetric.objects.filter(run__run_id=run_id).update(value=math.pi)
    assert RunParam.objects.get(run__run_id=run_id).value == "0.1"
