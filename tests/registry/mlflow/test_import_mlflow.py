"""A team's real MLflow history moves into Keel: a real `mlflow server` on loopback is filled by the
`mlflow` client (two experiments, params, metrics at several steps, tags, a file and a folder, a
skops model registered twice, aliases `champion` and `production`), then `manage.py import_mlflow`
copies it. Keel has the same runs, histories, files (byte for byte, sha256 checked) and versions;
`production` stays history; a second import adds nothing; and the client, pointed at Keel, loads the
imported model and predicts what it predicted from MLflow.

One server for the module: it takes 30-120 s to start on a busy machine."""

import gc
import hashlib
import os
import subprocess
import sys
import threading
import time
from io import StringIO
from pathlib import Path

import numpy as np
import pytest
from django.core.management import call_command
from django.db import connection
from rest_framework.authtoken.models import Token

from registry.models import MlflowImport, ModelAlias, ModelVersion, PromotionRequest, RunArtifact, TrainingRun
from registry.services import run_artifacts
from tests.integration.mlflow_server import MlflowServer

mlflow = pytest.importorskip("mlflow")
request_utils = pytest.importorskip("mlflow.utils.request_utils")
tracking_utils = pytest.importorskip("mlflow.tracking._tracking_service.utils")

Metric = pytest.importorskip("mlflow.entities").Metric
Param = pytest.importorskip("mlflow.entities").Param

pytestmark = pytest.mark.integration

CLIENT_ENV = {
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "0",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "60",
    "MLFLOW_ENABLE_ASYNC_LOGGING": "false",
}
BULK_RUNS = 12
ROOT = Path(__file__).resolve().parents[3]
ROWS = np.array([[0.0, 1.0], [1.0, 0.0], [0.3, 0.8], [0.7, 0.2], [0.5, 0.5]])
NOTES = b"trained on the March snapshot\n"
PLOTS = {"roc.csv": b"fpr,tpr\n0,0\n0.2,0.8\n1,1\n", "pr/curve.csv": b"precision,recall\n1,0\n0.5,1\n"}


def _forget_clients():
    # The client caches artifact repositories by run id and logged model id, which the copy keeps:
    # without this, "loading from Keel" could quietly read from MLflow's server.
    tracking_utils._artifact_repos_cache.clear()


@pytest.fixture(scope="module")
def history(tmp_path_factory):
    """A real MLflow server with a team's history in it; what was logged, to compare with."""
    from sklearn.linear_model import LogisticRegression

    mp = pytest.MonkeyPatch()
    for name, value in CLIENT_ENV.items():
        mp.setenv(name, value)
    mp.delenv("MLFLOW_TRACKING_TOKEN", raising=False)
    directory = tmp_path_factory.mktemp("mlflow-server")
    server = MlflowServer(directory).start()
    try:
        mlflow.set_tracking_uri(server.url)
        files = directory / "to-log"
        (files / "plots" / "pr").mkdir(parents=True)
        (files / "notes.txt").write_bytes(NOTES)
        for name, data in PLOTS.items():
            (files / "plots" / name).write_bytes(data)

        mlflow.set_experiment("churn-import")
        runs = []
        for c in (1.0, 3.0):
            with mlflow.start_run(run_name=f"logreg-c{c:g}") as run:
                mlflow.log_params({"C": c, "solver": "lbfgs"})
                for step, (auc, loss) in enumerate([(0.71, 0.9), (0.78, 0.6), (0.83 + c / 100, 0.4)]):
                    mlflow.log_metrics({"auc": auc, "loss": loss}, step=step)
                mlflow.set_tags({"team": "growth", "trigger": "schedule"})
                mlflow.log_artifact(str(files / "notes.txt"))
                mlflow.log_artifacts(str(files / "plots"), artifact_path="plots")
                model = LogisticRegression(C=c).fit(ROWS, [0, 1, 0, 1, 1])
                mlflow.sklearn.log_model(
                    model, name="model", registered_model_name="churn-import", serialization_format="skops"
                )
                runs.append(run.info.run_id)
        mlflow.set_experiment("fraud-import")
        with mlflow.start_run(run_name="rules") as run:
            mlflow.log_param("threshold", "0.9")
            mlflow.log_metric("recall", 0.5, step=0)
            mlflow.log_metric("recall", 0.6, step=1)
            runs.append(run.info.run_id)
        client = mlflow.MlflowClient(server.url)
        bulk = client.create_experiment("bulk-import")
        for n in range(BULK_RUNS):
            run_id = client.create_run(bulk, run_name=f"sweep-{n}").info.run_id
            metrics = [Metric("score", n / 10 + s, 1_767_000_000_000 + s, s) for s in range(3)]
            client.log_batch(run_id, metrics=metrics, params=[Param("n", str(n))])
            client.log_artifact(run_id, str(files / "notes.txt"))
            client.log_artifact(run_id, str(files / "plots" / "roc.csv"), artifact_path="plots")
            client.set_terminated(run_id)
        client.set_registered_model_alias("churn-import", "champion", "2")
        client.set_registered_model_alias("churn-import", "production", "1")
        predicted = mlflow.pyfunc.load_model("models:/churn-import/1").predict(ROWS)
        yield {"server": server, "runs": runs, "predicted": predicted}
    finally:
        mlflow.set_tracking_uri("")
        _forget_clients()
        server.stop()
        mp.undo()


@pytest.fixture
def keel_tracking(live_server, pipeline, monkeypatch):
    """The client pointed at Keel's live server as the pipeline (the `tracking` fixture's pattern)."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", live_server.url)
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", Token.objects.get_or_create(user=pipeline)[0].key)
    sessions = []
    opened = request_utils._get_request_session

    def recording(*args, **kwargs):
        sessions.append(opened(*args, **kwargs))
        return sessions[-1]

    monkeypatch.setattr(request_utils, "_get_request_session", recording)
    yield live_server
    mlflow.set_tracking_uri("")
    _forget_clients()
    for session in sessions:
        session.close()
    gc.collect()
    for thread in threading.enumerate():
        if "process_request_thread" in thread.name:
            thread.join(timeout=10)


def stored_bytes(artifact: RunArtifact) -> bytes:
    with run_artifacts.run_artifact_open(artifact) as handle:
        return handle.read()


def import_from(history, pipeline, *names) -> str:
    out = StringIO()
    url = history["server"].url
    args = ["--tracking-uri", url, "--as", pipeline.username, "--no-progress", *names]
    call_command("import_mlflow", *args, stdout=out)
    return out.getvalue()


def test_a_real_mlflow_history_moves_into_keel_and_loads_back_from_it(history, keel_tracking, pipeline, api_as, media):
    summary = import_from(history, pipeline)
    churn_1, churn_2, fraud = history["runs"]
    api = api_as(pipeline)

    run = api.get(f"/api/v1/runs/{churn_1}/").json()  # the MLflow run id is kept
    assert run["experiment"] == "churn-import" and run["status"] == "FINISHED"
    assert run["params"] == {"C": "1.0", "solver": "lbfgs"}
    assert run["tags"]["team"] == "growth" and run["tags"]["mlflow.runName"] == "logreg-c1"
    auc = TrainingRun.objects.get(run_id=churn_1).metrics.filter(key="auc").order_by("step")
    assert [(p.step, p.value) for p in auc] == [(0, 0.71), (1, 0.78), (2, 0.84)]
    recall = TrainingRun.objects.get(run_id=fraud).metrics.filter(key="recall").order_by("step")
    assert [p.value for p in recall] == [0.5, 0.6] and all(p.timestamp > 0 for p in recall)

    files = {a.path: a for a in RunArtifact.objects.filter(run__run_id=churn_1)}
    wanted = {"notes.txt": NOTES, **{f"plots/{k}": v for k, v in PLOTS.items()}}
    assert set(files) == set(wanted)  # the model's files belong to its logged model, not the run
    for path, data in wanted.items():
        assert stored_bytes(files[path]) == data and files[path].sha256 == hashlib.sha256(data).hexdigest()

    v1, v2 = ModelVersion.objects.filter(model__name="churn-import").order_by("version")
    assert v1.run.run_id == churn_1 and v2.run.run_id == churn_2 and v1.created_by == pipeline
    assert v1.source == f"models:/{v1.logged_model.model_id}" and v1.artifact_format == "skops"
    skops_file = v1.logged_model.artifacts.get(path="model.skops")
    assert v1.artifact_sha256 == skops_file.sha256 == hashlib.sha256(stored_bytes(skops_file)).hexdigest()
    assert dict(ModelAlias.objects.values_list("name", "version__version")) == {"champion": 2}
    assert "alias 'production' pointed here" in api.get("/api/v1/models/churn-import/versions/1/").content.decode()
    assert not PromotionRequest.objects.exists()
    assert f"runs: {3 + BULK_RUNS} copied" in summary and "versions: 2 copied" in summary

    rows = MlflowImport.objects.count()
    again = import_from(history, pipeline)
    assert MlflowImport.objects.count() == rows and " 0 copied" in again and "Not copied" not in again
    assert TrainingRun.objects.count() == 3 + BULK_RUNS and ModelVersion.objects.count() == 2

    _forget_clients()
    mlflow.set_tracking_uri(keel_tracking.url)
    loaded = mlflow.pyfunc.load_model("models:/churn-import/1")
    np.testing.assert_array_equal(loaded.predict(ROWS), history["predicted"])
    champion = mlflow.MlflowClient().get_model_version_by_alias("churn-import", "champion")
    assert champion.version == "2" and champion.run_id == churn_2


@pytest.mark.django_db(transaction=True)
def test_an_import_killed_mid_way_is_finished_by_the_next_without_duplicates(history, pipeline, media):
    if connection.vendor != "postgresql":
        pytest.skip("the killed import runs in a process of its own, which needs a database it can share")
    db = connection.settings_dict
    env = {**os.environ, "MEDIA_ROOT": str(media), "MLFLOW_DISABLE_TELEMETRY": "true"}
    login = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    env["DATABASE_URL"] = f"postgres://{login}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    env.pop("MLFLOW_TRACKING_TOKEN", None)
    command = [sys.executable, "manage.py", "import_mlflow", "--tracking-uri", history["server"].url]
    command += ["--experiment", "bulk-import", "--as", pipeline.username, "--no-progress"]
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 240
    while process.poll() is None and time.monotonic() < deadline:
        if MlflowImport.objects.filter(kind="run").exists():
            process.kill()  # SIGKILL: no handler, no cleanup, mid-way through the runs
            break
        time.sleep(0.02)
    process.wait(timeout=60)
    assert process.returncode == -9, process.stderr.read().decode()[-3000:]

    copied = TrainingRun.objects.filter(experiment__name="bulk-import")
    assert 0 < copied.count() < BULK_RUNS
    for run in copied:  # every run in Keel is whole, with its source row
        assert MlflowImport.objects.filter(kind="run", run=run).exists()
        assert (run.params.count(), run.metrics.count(), run.artifacts.count()) == (1, 3, 2)

    summary = import_from(history, pipeline, "--experiment", "bulk-import")

    assert f"runs: {BULK_RUNS - copied.count()} copied, {copied.count()} already in Keel" in summary
    runs = TrainingRun.objects.filter(experiment__name="bulk-import")
    assert runs.count() == BULK_RUNS and len(set(runs.values_list("name", flat=True))) == BULK_RUNS
    assert RunArtifact.objects.filter(run__in=runs).count() == 2 * BULK_RUNS
    stored = [p for p in (media / "run-artifacts").rglob("*") if p.is_file()]
    assert len(stored) == RunArtifact.objects.count()
