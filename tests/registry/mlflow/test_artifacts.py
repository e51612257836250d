"""A run's artifacts through MLflow's artifact proxy, on the wire: a PUT body is stored in Keel's
artifact storage with its size and sha256, read back byte for byte, listed as a tree, deleted; API v1
shows the same files; too-large uploads leave nothing behind; errors are MLflow's."""

import hashlib

import pytest

from registry.models import RunArtifact

from .conftest import basic, bearer, call, error_of, ok

ARTIFACTS = "/api/2.0/mlflow-artifacts/artifacts"


@pytest.fixture
def run(mlflow_api, media):
    experiment_id = call(mlflow_api, "POST", "experiments/create", {"name": "churn"}).json()["experiment_id"]
    info = call(mlflow_api, "POST", "runs/create", {"experiment_id": experiment_id}).json()["run"]["info"]
    return info


def root_of(info) -> str:
    return f"{info['experiment_id']}/{info['run_id']}/artifacts"


def put(client, path: str, body: bytes, **extra):
    return client.put(f"{ARTIFACTS}/{path}", body, content_type="application/octet-stream", **extra)


def listing(client, path: str):
    return client.get(ARTIFACTS, {"path": path})


def test_runs_point_their_artifact_uri_at_the_proxy(run):
    assert run["artifact_uri"] == f"mlflow-artifacts:/{run['experiment_id']}/{run['run_id']}/artifacts"


def test_an_uploaded_file_is_stored_with_its_size_and_sha256_and_read_back(mlflow_api, run, media):
    body = b"auc,0.83\n" * 1000
    assert ok(put(mlflow_api, f"{root_of(run)}/eval/scores.csv", body))

    stored = RunArtifact.objects.get(run__run_id=run["run_id"])
    assert (stored.path, stored.size, stored.sha256) == ("eval/scores.csv", len(body), hashlib.sha256(body).hexdigest())
    assert stored.file.name.startswith(f"run-artifacts/{run['run_id']}/") and "scores" not in stored.file.name

    response = mlflow_api.get(f"{ARTIFACTS}/{root_of(run)}/eval/scores.csv")
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == body
    assert response["Content-Type"] == "application/octet-stream"
    assert response["Content-Disposition"].startswith("attachment")


def test_a_second_upload_to_the_same_path_replaces_the_first(
    mlflow_api, run, media, django_capture_on_commit_callbacks
):
    put(mlflow_api, f"{root_of(run)}/notes.txt", b"first")
    first = RunArtifact.objects.get().file.name
    with django_capture_on_commit_callbacks(execute=True):
        put(mlflow_api, f"{root_of(run)}/notes.txt", b"second")
    stored = RunArtifact.objects.get()
    assert stored.size == 6 and stored.file.name != first
    assert not (media / first).exists() and (media / stored.file.name).read_bytes() == b"second"


def test_the_listing_is_a_tree_of_folders_and_files(mlflow_api, run):
    for path, body in [("model/MLmodel", b"m"), ("model/data/model.skops", b"123"), ("notes.txt", b"hi")]:
        assert ok(put(mlflow_api, f"{root_of(run)}/{path}", body))

    assert listing(mlflow_api, root_of(run)).json() == {
        "files": [{"path": "model", "is_dir": True}, {"path": "notes.txt", "is_dir": False, "file_size": 2}]
    }
    assert listing(mlflow_api, f"{root_of(run)}/model").json() == {
        "files": [{"path": "MLmodel", "is_dir": False, "file_size": 1}, {"path": "data", "is_dir": True}]
    }
    # A file's own path lists that file (the client reads it as "not a folder"); nothing there, nothing listed.
    assert listing(mlflow_api, f"{root_of(run)}/notes.txt").json()["files"] == [
        {"path": "notes.txt", "is_dir": False, "file_size": 2}
    ]
    assert listing(mlflow_api, f"{root_of(run)}/nothing").json() == {}


def test_deleting_a_folder_deletes_everything_under_it_and_its_bytes(
    mlflow_api, run, media, django_capture_on_commit_callbacks
):
    put(mlflow_api, f"{root_of(run)}/model/MLmodel", b"m")
    put(mlflow_api, f"{root_of(run)}/model/data/x.bin", b"x")
    put(mlflow_api, f"{root_of(run)}/modelling.txt", b"kept")
    names = list(RunArtifact.objects.filter(path__startswith="model/").values_list("file", flat=True))

    with django_capture_on_commit_callbacks(execute=True):
        assert ok(mlflow_api.delete(f"{ARTIFACTS}/{root_of(run)}/model"))
    assert list(RunArtifact.objects.values_list("path", flat=True)) == ["modelling.txt"]
    assert not any((media / name).exists() for name in names)
    assert error_of(mlflow_api.delete(f"{ARTIFACTS}/{root_of(run)}/model")) == (404, "RESOURCE_DOES_NOT_EXIST")


def test_a_too_large_upload_is_refused_and_leaves_nothing_behind(mlflow_api, run, media, settings):
    settings.KEEL_MAX_ARTIFACT_BYTES = 1000
    assert error_of(put(mlflow_api, f"{root_of(run)}/big.bin", b"x" * 1001)) == (400, "INVALID_PARAMETER_VALUE")
    assert ok(put(mlflow_api, f"{root_of(run)}/fits.bin", b"x" * 1000))
    assert list(RunArtifact.objects.values_list("path", flat=True)) == ["fits.bin"]
    stored = list((media / "run-artifacts" / run["run_id"]).iterdir())
    assert len(stored) == 1


def test_a_body_longer_than_its_declared_length_still_stops_at_the_limit(run, settings, media, pipeline):
    from registry import services
    from registry.models import TrainingRun

    settings.KEEL_MAX_ARTIFACT_BYTES = 10
    chunks = iter([b"x" * 8, b"x" * 8, b""])
    with pytest.raises(Exception, match="limit of 10 bytes"):
        services.run_artifact_store(
            owner=TrainingRun.objects.get(run_id=run["run_id"]),
            path="a.bin",
            read=lambda n: next(chunks),
            length=None,
            actor=pipeline,
        )
    assert not RunArtifact.objects.exists()
    assert list((media / "run-artifacts" / run["run_id"]).iterdir()) == []


def test_a_path_is_a_file_or_a_folder_never_both(mlflow_api, run):
    put(mlflow_api, f"{root_of(run)}/model/MLmodel", b"m")
    assert error_of(put(mlflow_api, f"{root_of(run)}/model", b"x")) == (400, "INVALID_PARAMETER_VALUE")
    assert error_of(put(mlflow_api, f"{root_of(run)}/model/MLmodel/inner", b"x")) == (400, "INVALID_PARAMETER_VALUE")


def test_missing_files_and_runs_are_resource_does_not_exist(mlflow_api, run):
    assert error_of(mlflow_api.get(f"{ARTIFACTS}/{root_of(run)}/nope.txt")) == (404, "RESOURCE_DOES_NOT_EXIST")
    other = f"{run['experiment_id']}/{'0' * 32}/artifacts/x.txt"
    assert error_of(mlflow_api.get(f"{ARTIFACTS}/{other}")) == (404, "RESOURCE_DOES_NOT_EXIST")
    assert error_of(put(mlflow_api, other, b"x")) == (404, "RESOURCE_DOES_NOT_EXIST")
    wrong_experiment = f"{int(run['experiment_id']) + 99}/{run['run_id']}/artifacts/x.txt"
    assert error_of(put(mlflow_api, wrong_experiment, b"x")) == (404, "RESOURCE_DOES_NOT_EXIST")


def test_a_deleted_run_takes_no_artifacts(mlflow_api, run):
    call(mlflow_api, "POST", "runs/delete", {"run_id": run["run_id"]})
    assert error_of(put(mlflow_api, f"{root_of(run)}/x.txt", b"x")) == (400, "INVALID_PARAMETER_VALUE")


def test_anonymous_callers_and_readers_are_refused_writes(mlflow_api, run, reviewer, client):
    assert ok(put(mlflow_api, f"{root_of(run)}/x.txt", b"x"))
    assert error_of(put(client, f"{root_of(run)}/y.txt", b"y")) == (401, "UNAUTHENTICATED")
    assert error_of(client.get(f"{ARTIFACTS}/{root_of(run)}/x.txt")) == (401, "UNAUTHENTICATED")
    reader = bearer(reviewer)
    assert error_of(put(reader, f"{root_of(run)}/y.txt", b"y")) == (403, "PERMISSION_DENIED")
    assert error_of(reader.delete(f"{ARTIFACTS}/{root_of(run)}/x.txt")) == (403, "PERMISSION_DENIED")
    assert b"".join(reader.get(f"{ARTIFACTS}/{root_of(run)}/x.txt").streaming_content) == b"x"
    assert error_of(put(basic("nightly-pipeline", "wrong"), f"{root_of(run)}/y.txt", b"y"))[0] == 401


def test_api_v1_lists_a_runs_artifacts_with_size_and_sha256(mlflow_api, run, api_as, pipeline):
    put(mlflow_api, f"{root_of(run)}/model/MLmodel", b"flavors: {}\n")
    v1 = api_as(pipeline).get(f"/api/v1/runs/{run['run_id']}/").json()
    assert v1["artifacts"] == [
        {
            "path": "model/MLmodel",
            "size": 12,
            "sha256": hashlib.sha256(b"flavors: {}\n").hexdigest(),
            "created_at": v1["artifacts"][0]["created_at"],
        }
    ]


def test_an_upload_shorter_than_it_announced_is_refused_and_leaves_nothing(run, media, pipeline):
    from mlops.errors import ApplicationError
    from registry import services
    from registry.models import TrainingRun

    chunks = iter([b"half", b""])
    with pytest.raises(ApplicationError, match="after 4 of the 10 bytes"):
        services.run_artifact_store(
            owner=TrainingRun.objects.get(run_id=run["run_id"]),
            path="a.bin",
            read=lambda n: next(chunks),
            length=10,
            actor=pipeline,
        )
    assert not RunArtifact.objects.exists()
    assert list((media / "run-artifacts" / run["run_id"]).iterdir()) == []


def test_a_cut_off_upload_is_bad_input_not_a_server_error(run, media, pipeline):
    from django.http import UnreadablePostError

    from mlops.errors import ApplicationError
    from registry import services
    from registry.models import TrainingRun

    def read(n):
        raise UnreadablePostError("connection reset")

    with pytest.raises(ApplicationError, match="cut off"):
        services.run_artifact_store(
            owner=TrainingRun.objects.get(run_id=run["run_id"]), path="a.bin", read=read, length=10, actor=pipeline
        )
    assert list((media / "run-artifacts" / run["run_id"]).iterdir()) == []
