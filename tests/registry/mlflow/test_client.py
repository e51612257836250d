"""The real `mlflow` client (mlflow-skinny, pinned) logs to Keel's live test server as it would to
MLflow's own: what it logs is Keel's training run, read back through API v1 as the same record.

The client retries failures for minutes by default; here it gets no retry and a short timeout, so a
bug fails the test at once."""

import gc
import threading

import pytest
from rest_framework.authtoken.models import Token

mlflow = pytest.importorskip("mlflow")
request_utils = pytest.importorskip("mlflow.utils.request_utils")

CLIENT_ENV = {
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "0",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "20",
    "MLFLOW_ENABLE_ASYNC_LOGGING": "false",
}


@pytest.fixture
def tracking(live_server, pipeline, monkeypatch):
    """MLFLOW_TRACKING_URI and MLFLOW_TRACKING_TOKEN pointing the client at Keel as the pipeline."""
    for name, value in CLIENT_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", live_server.url)
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", Token.objects.get_or_create(user=pipeline)[0].key)
    mlflow.set_tracking_uri(live_server.url)
    # The client keeps its HTTP connections open; they are closed after the test, so that the live
    # server's threads serving them end.
    sessions = []

    def recording(*args, **kwargs):
        sessions.append(opened(*args, **kwargs))
        return sessions[-1]

    opened = request_utils._get_request_session
    monkeypatch.setattr(request_utils, "_get_request_session", recording)
    yield live_server
    while mlflow.active_run():
        mlflow.end_run()
    for session in sessions:
        session.close()
    # A connection still held by an unreleased error response closes when the response is collected.
    gc.collect()
    # Wait for those threads: one still closing its connection when the next test starts would touch
    # that test's database connection from the wrong thread.
    for thread in threading.enumerate():
        if "process_request_thread" in thread.name:
            thread.join(timeout=10)


def test_a_training_script_logs_a_run_that_keel_keeps(tracking, api_as, pipeline):
    mlflow.set_experiment("churn-nightly")
    with mlflow.start_run(run_name="gbm-depth-6") as run:
        mlflow.log_params({"depth": 6, "learning_rate": 0.1})
        for step, (auc, loss) in enumerate([(0.71, 0.9), (0.78, 0.6), (0.83, 0.4)]):
            mlflow.log_metrics({"auc": auc, "loss": loss}, step=step)
        mlflow.set_tags({"team": "growth", "trigger": "schedule"})
        run_id = run.info.run_id

    client = mlflow.MlflowClient()
    wanted = "metrics.auc > 0.8 AND params.depth = '6'"
    found = client.search_runs([run.info.experiment_id], filter_string=wanted, order_by=["metrics.auc DESC"])
    assert [r.info.run_id for r in found] == [run_id]
    assert found[0].info.status == "FINISHED" and found[0].info.run_name == "gbm-depth-6"
    assert found[0].data.params == {"depth": "6", "learning_rate": "0.1"}
    assert found[0].data.metrics == {"auc": 0.83, "loss": 0.4}
    assert found[0].data.tags["team"] == "growth"

    history = client.get_metric_history(run_id, "auc")
    assert [(m.step, m.value) for m in history] == [(0, 0.71), (1, 0.78), (2, 0.83)]

    v1 = api_as(pipeline).get(f"/api/v1/runs/{run_id}/").json()
    assert v1["experiment"] == "churn-nightly" and v1["status"] == "FINISHED"
    assert v1["params"] == {"depth": "6", "learning_rate": "0.1"}
    assert v1["tags"]["trigger"] == "schedule"


def test_the_clients_errors_carry_mlflows_codes(tracking):
    from mlflow.exceptions import MlflowException

    client = mlflow.MlflowClient()
    experiment_id = client.create_experiment("dupes")
    with pytest.raises(MlflowException) as exists:
        client.create_experiment("dupes")
    assert exists.value.error_code == "RESOURCE_ALREADY_EXISTS"
    run = client.create_run(experiment_id)
    client.log_param(run.info.run_id, "lr", "0.1")
    with pytest.raises(MlflowException) as changed:
        client.log_param(run.info.run_id, "lr", "0.2")
    assert changed.value.error_code == "INVALID_PARAMETER_VALUE"
    with pytest.raises(MlflowException) as missing:
        client.get_run("0" * 32)
    assert missing.value.error_code == "RESOURCE_DOES_NOT_EXIST"
