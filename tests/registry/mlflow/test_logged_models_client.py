"""MLflow 3's `log_model` against Keel's live test server with the real client: the logged model is
Keel's record (linked to its run and experiment), its files are stored in Keel's artifact storage
with their sha256, `registered_model_name` registers a version in Keel linked to that logged model,
and the client itself (never Keel) loads the model back from `models:/churn/1` and predicts the same
values. Keel only stores these files; it never opens them as a model in the web process."""

import hashlib
import os
from pathlib import Path

import numpy as np
import pytest

from registry.models import LoggedModel, ModelVersion, RunArtifact

from .test_client import mlflow, tracking  # noqa: F401  (the live server and the client pointed at it)

sklearn_datasets = pytest.importorskip("sklearn.datasets")
LogisticRegression = pytest.importorskip("sklearn.linear_model").LogisticRegression


def tree(folder) -> dict[str, bytes]:
    return {
        os.path.relpath(os.path.join(root, name), folder): Path(root, name).read_bytes()
        for root, _, names in os.walk(folder)
        for name in names
    }


@pytest.fixture(autouse=True)
def _no_gate_run(monkeypatch):
    monkeypatch.setattr("registry.services.promotion._queue_gate", lambda promotion_id: None)


def test_log_model_registers_a_version_the_client_loads_back(tracking, media, tmp_path, api_as, pipeline):  # noqa: F811
    features, labels = sklearn_datasets.make_classification(n_samples=60, n_features=4, random_state=0)
    model = LogisticRegression(max_iter=200).fit(features, labels)

    mlflow.set_experiment("churn-models")
    with mlflow.start_run() as run:
        mlflow.log_param("C", 1.0)
        info = mlflow.sklearn.log_model(
            model, name="model", registered_model_name="churn", serialization_format="skops"
        )
        mlflow.log_artifact(str(_write(tmp_path / "folder" / "notes.txt", b"trained on 60 rows\n")), "folder")
        # The client links a metric logged after log_model (at the model's step) to the logged model.
        mlflow.log_metrics({"accuracy": 0.95})
    run_id = run.info.run_id

    logged = LoggedModel.objects.get(model_id=info.model_id)
    assert logged.run.run_id == run_id and logged.experiment.name == "churn-models"
    assert logged.name == "model" and logged.status == "READY"
    assert info.artifact_path == f"mlflow-artifacts:/{logged.experiment_id}/models/{info.model_id}/artifacts"
    stored = {a.path: a for a in RunArtifact.objects.filter(logged_model=logged)}
    assert {"MLmodel", "model.skops", "requirements.txt"} <= set(stored)
    skops_bytes = stored["model.skops"]
    assert skops_bytes.sha256 == hashlib.sha256(Path(media, skops_bytes.file.name).read_bytes()).hexdigest()

    version = ModelVersion.objects.get(model__name="churn", version=1)
    assert version.run.run_id == run_id and version.logged_model == logged
    assert version.source == f"models:/{info.model_id}"
    assert int(info.registered_model_version) == 1
    # The skops file passed API v1's format check (types read, never loaded): it is the version's
    # Keel artifact, the one the gate scores in its isolated scorer.
    assert (version.artifact_format, version.artifact_sha256) == ("skops", skops_bytes.sha256)

    # The client's side: it downloads the files and loads them itself.
    loaded = mlflow.pyfunc.load_model("models:/churn/1")
    assert np.array_equal(loaded.predict(features), model.predict(features))

    client = mlflow.MlflowClient()
    assert [(f.path, f.is_dir) for f in client.list_artifacts(run_id, "folder")] == [("folder/notes.txt", False)]
    down = mlflow.artifacts.download_artifacts(artifact_uri=info.artifact_path, dst_path=str(tmp_path / "down"))
    assert {name: hashlib.sha256(data).hexdigest() for name, data in tree(down).items()} == {
        a.path: a.sha256 for a in stored.values()
    }
    # `runs:/<run>/model` finds the logged model through logged-models/search: the same bytes.
    by_run = mlflow.artifacts.download_artifacts(f"runs:/{run_id}/model", dst_path=str(tmp_path / "by-run"))
    # (The client adds `registered_model_meta` to a runs:/ download on its side.)
    assert {k: v for k, v in tree(by_run).items() if k != "registered_model_meta"} == tree(down)
    found = client.search_logged_models(experiment_ids=[logged.experiment_id and str(logged.experiment_id)])
    assert [m.model_id for m in found] == [info.model_id]
    assert [(m.key, m.value, m.run_id) for m in found[0].metrics] == [("accuracy", 0.95, run_id)]
    better = client.search_logged_models([str(logged.experiment_id)], filter_string="metrics.accuracy > 0.9")
    assert [m.model_id for m in better] == [info.model_id]
    assert [(o.model_id, o.step) for o in client.get_run(run_id).outputs.model_outputs] == [(info.model_id, 0)]
    # API v1 shows the same records: the run's logged model with its files, the version's link.
    v1 = api_as(pipeline).get(f"/api/v1/runs/{run_id}/").json()
    [shown] = v1["logged_models"]
    assert (shown["model_id"], shown["status"]) == (info.model_id, "READY")
    assert {a["path"]: a["sha256"] for a in shown["artifacts"]} == {a.path: a.sha256 for a in stored.values()}
    assert [a["path"] for a in v1["artifacts"]] == ["folder/notes.txt"]
    v1_version = api_as(pipeline).get("/api/v1/models/churn/versions/1/").json()
    assert v1_version["logged_model_id"] == info.model_id


def _write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path
