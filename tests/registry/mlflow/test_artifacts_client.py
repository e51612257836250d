"""The real `mlflow` client logs artifacts to Keel's live test server through its `mlflow-artifacts:`
repository, lists them and downloads the same bytes; Keel keeps them as the run's artifacts, with
their size and sha256 in API v1. (The client's retries are off, as in test_client.py.)"""

import hashlib
import os
from pathlib import Path

import pytest

from registry.models import RunArtifact

from .test_client import tracking  # noqa: F401  (the live server and the client pointed at it)

mlflow = pytest.importorskip("mlflow")


def tree(folder) -> dict[str, bytes]:
    return {
        os.path.relpath(os.path.join(root, name), folder): Path(root, name).read_bytes()
        for root, _, names in os.walk(folder)
        for name in names
    }


def test_a_training_script_logs_lists_and_downloads_its_artifacts(
    tracking,  # noqa: F811
    media,
    tmp_path,
    api_as,
    pipeline,
    monkeypatch,
):
    # Files this large make the client ask server-info whether multipart uploads are on: Keel says
    # no, and the client PUTs each file whole (so Keel needs no multipart endpoints).
    monkeypatch.setenv("MLFLOW_MULTIPART_UPLOAD_MINIMUM_FILE_SIZE", "50000")
    report = tmp_path / "report.txt"
    report.write_bytes(b"auc 0.83\n")
    outputs = tmp_path / "outputs"
    (outputs / "plots").mkdir(parents=True)
    (outputs / "metrics.json").write_bytes(b'{"auc": 0.83}')
    (outputs / "plots" / "roc.png").write_bytes(os.urandom(70_000))

    mlflow.set_experiment("churn-artifacts")
    with mlflow.start_run() as run:
        assert run.info.artifact_uri == f"mlflow-artifacts:/{run.info.experiment_id}/{run.info.run_id}/artifacts"
        mlflow.log_artifact(str(report))
        mlflow.log_artifacts(str(outputs), artifact_path="outputs")
    run_id = run.info.run_id

    client = mlflow.MlflowClient()
    top = client.list_artifacts(run_id)
    assert [(f.path, f.is_dir, f.file_size) for f in top] == [("outputs", True, None), ("report.txt", False, 9)]
    inner = mlflow.artifacts.list_artifacts(artifact_uri=f"{run.info.artifact_uri}/outputs")
    assert [(f.path, f.is_dir) for f in inner] == [("outputs/metrics.json", False), ("outputs/plots", True)]
    # The client's own listing also asks logged-models/search for a logged model named "outputs".
    by_run = client.list_artifacts(run_id, "outputs")
    assert [(f.path, f.is_dir) for f in by_run] == [("outputs/metrics.json", False), ("outputs/plots", True)]

    downloaded = mlflow.artifacts.download_artifacts(
        run_id=run_id, artifact_path="outputs", dst_path=str(tmp_path / "down")
    )
    assert tree(downloaded) == tree(outputs)
    one = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path="report.txt", dst_path=str(tmp_path / "one"))
    assert Path(one).read_bytes() == b"auc 0.83\n"

    v1 = api_as(pipeline).get(f"/api/v1/runs/{run_id}/").json()
    roc = (outputs / "plots" / "roc.png").read_bytes()
    assert {a["path"]: (a["size"], a["sha256"]) for a in v1["artifacts"]}["outputs/plots/roc.png"] == (
        len(roc),
        hashlib.sha256(roc).hexdigest(),
    )
    assert len(v1["artifacts"]) == 3


def test_a_too_large_artifact_is_refused_and_nothing_is_left_behind(tracking, media, tmp_path, settings):  # noqa: F811
    settings.KEEL_MAX_ARTIFACT_BYTES = 1000
    big = tmp_path / "big.bin"
    big.write_bytes(b"x" * 5000)
    mlflow.set_experiment("churn-artifacts")
    with mlflow.start_run() as run:
        with pytest.raises(Exception, match="limit is 1000 bytes"):
            mlflow.log_artifact(str(big))
        mlflow.log_text("fits", "small.txt")
    assert list(RunArtifact.objects.values_list("path", flat=True)) == ["small.txt"]
    assert len(list((media / "run-artifacts" / run.info.run_id).iterdir())) == 1
