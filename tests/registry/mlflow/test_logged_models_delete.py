"""Deleting an MLflow 3 logged model (`MlflowClient().delete_logged_model`, DELETE
/api/2.0/mlflow/logged-models/<id>): as in MLflow, a soft delete — the logged model is hidden from
get and search, and Keel records who deleted it and when; its files stay. A logged model that a Keel
version was registered from is never deleted: the version must keep what it was registered from,
so the call is refused with INVALID_STATE naming the version."""

import pytest

from registry.models import LoggedModel, RunArtifact

from .conftest import bearer, call, error_of, ok

ARTIFACTS = "/api/2.0/mlflow-artifacts/artifacts"


@pytest.fixture
def run(mlflow_api, media):
    experiment_id = call(mlflow_api, "POST", "experiments/create", {"name": "churn"}).json()["experiment_id"]
    return call(mlflow_api, "POST", "runs/create", {"experiment_id": experiment_id}).json()["run"]["info"]


def logged_with_file(client, run, name: str = "model") -> dict:
    body = {"experiment_id": run["experiment_id"], "name": name, "source_run_id": run["run_id"]}
    info = call(client, "POST", "logged-models", body).json()["model"]["info"]
    root = info["artifact_uri"].removeprefix("mlflow-artifacts:/")
    assert ok(client.put(f"{ARTIFACTS}/{root}/MLmodel", b"flavors: {}\n", content_type="application/octet-stream"))
    assert ok(call(client, "PATCH", f"logged-models/{info['model_id']}", {"status": "LOGGED_MODEL_READY"}))
    return info


def search(client, run, **body) -> list[str]:
    answer = call(client, "POST", "logged-models/search", {"experiment_ids": [run["experiment_id"]], **body})
    return [m["info"]["model_id"] for m in answer.json()["models"]]


def test_a_deleted_logged_model_is_hidden_from_get_and_search_and_keeps_its_files(
    mlflow_api, run, pipeline, media, api_as
):
    kept = logged_with_file(mlflow_api, run, "kept")
    gone = logged_with_file(mlflow_api, run, "gone")
    model_id = gone["model_id"]

    assert ok(call(mlflow_api, "DELETE", f"logged-models/{model_id}", {"model_id": model_id}))

    assert error_of(call(mlflow_api, "GET", f"logged-models/{model_id}")) == (404, "RESOURCE_DOES_NOT_EXIST")
    assert search(mlflow_api, run) == [kept["model_id"]]
    assert search(mlflow_api, run, filter="name = 'gone'") == []
    # The client's get_logged_model(allow_deleted=True) still reads it.
    shown = call(mlflow_api, "GET", f"logged-models/{model_id}", {"allow_deleted": "true"}).json()["model"]
    assert shown["info"]["name"] == "gone" and shown["info"]["status"] == "LOGGED_MODEL_READY"
    # Recorded: who deleted it and when; the files are where they were.
    stored = LoggedModel.objects.get(model_id=model_id)
    assert stored.deleted_by == pipeline and stored.deleted_at is not None
    [artifact] = RunArtifact.objects.filter(logged_model=stored)
    assert (media / artifact.file.name).read_bytes() == b"flavors: {}\n"
    # API v1 shows the same record: the run's logged model, deleted, with its files.
    shown = {m["model_id"]: m for m in api_as(pipeline).get(f"/api/v1/runs/{run['run_id']}/").json()["logged_models"]}
    assert shown[model_id]["deleted_at"] is not None and shown[kept["model_id"]]["deleted_at"] is None
    assert [a["path"] for a in shown[model_id]["artifacts"]] == ["MLmodel"]


def test_deleting_it_again_changes_nothing(mlflow_api, run):
    model_id = logged_with_file(mlflow_api, run)["model_id"]
    assert ok(call(mlflow_api, "DELETE", f"logged-models/{model_id}"))
    first = LoggedModel.objects.get(model_id=model_id).deleted_at
    assert ok(call(mlflow_api, "DELETE", f"logged-models/{model_id}"))
    assert LoggedModel.objects.get(model_id=model_id).deleted_at == first


def test_a_logged_model_a_version_was_registered_from_is_not_deleted(mlflow_api, run):
    model_id = logged_with_file(mlflow_api, run)["model_id"]
    call(mlflow_api, "POST", "registered-models/create", {"name": "churn"})
    version = {"name": "churn", "source": f"models:/{model_id}", "model_id": model_id}
    assert ok(call(mlflow_api, "POST", "model-versions/create", version))

    refused = call(mlflow_api, "DELETE", f"logged-models/{model_id}")

    assert error_of(refused) == (400, "INVALID_STATE")
    assert "churn" in refused.json()["message"] and "version 1" in refused.json()["message"]
    assert LoggedModel.objects.get(model_id=model_id).deleted_at is None
    assert search(mlflow_api, run) == [model_id]


def test_a_deleted_logged_model_cannot_be_registered_tagged_or_finalized(mlflow_api, run):
    model_id = logged_with_file(mlflow_api, run)["model_id"]
    call(mlflow_api, "DELETE", f"logged-models/{model_id}")
    call(mlflow_api, "POST", "registered-models/create", {"name": "churn"})
    version = {"name": "churn", "source": f"models:/{model_id}", "model_id": model_id}
    for method, endpoint, body in [
        ("POST", "model-versions/create", version),
        ("PATCH", f"logged-models/{model_id}/tags", {"tags": [{"key": "k", "value": "v"}]}),
        ("PATCH", f"logged-models/{model_id}", {"status": "LOGGED_MODEL_READY"}),
        ("POST", f"logged-models/{model_id}/params", {"params": [{"key": "C", "value": "1"}]}),
    ]:
        assert error_of(call(mlflow_api, method, endpoint, body)) == (404, "RESOURCE_DOES_NOT_EXIST"), endpoint


@pytest.mark.parametrize("model_id", ["m-" + "0" * 32, "m-%00", "nope"])
def test_an_unknown_logged_model_is_not_found(mlflow_api, model_id):
    response = mlflow_api.delete(f"/api/2.0/mlflow/logged-models/{model_id}", {}, format="json")
    assert error_of(response) == (404, "RESOURCE_DOES_NOT_EXIST")


def test_only_those_who_log_training_delete_logged_models(mlflow_api, run, agent, reviewer):
    model_id = logged_with_file(mlflow_api, run)["model_id"]
    for who in (agent, reviewer):
        assert error_of(call(bearer(who), "DELETE", f"logged-models/{model_id}")) == (403, "PERMISSION_DENIED")
    assert LoggedModel.objects.get(model_id=model_id).deleted_at is None


def test_a_deleted_logged_models_files_cannot_be_replaced_or_removed(mlflow_api, run):
    info = logged_with_file(mlflow_api, run)
    root = f"{ARTIFACTS}/{info['artifact_uri'].removeprefix('mlflow-artifacts:/')}"
    call(mlflow_api, "DELETE", f"logged-models/{info['model_id']}")
    for response in (
        mlflow_api.put(f"{root}/MLmodel", b"other", content_type="application/octet-stream"),
        mlflow_api.put(f"{root}/new.txt", b"new", content_type="application/octet-stream"),
        mlflow_api.delete(f"{root}/MLmodel"),
    ):
        assert error_of(response) == (400, "INVALID_STATE")
    # Still readable: the files stay.
    assert b"".join(mlflow_api.get(f"{root}/MLmodel").streaming_content) == b"flavors: {}\n"


def test_the_files_a_version_was_registered_from_are_kept_as_they_were(mlflow_api, run):
    info = logged_with_file(mlflow_api, run)
    root = f"{ARTIFACTS}/{info['artifact_uri'].removeprefix('mlflow-artifacts:/')}"
    call(mlflow_api, "POST", "registered-models/create", {"name": "churn"})
    version = {"name": "churn", "source": f"models:/{info['model_id']}", "model_id": info["model_id"]}
    assert ok(call(mlflow_api, "POST", "model-versions/create", version))
    replaced = mlflow_api.put(f"{root}/MLmodel", b"other", content_type="application/octet-stream")
    assert error_of(replaced) == (400, "INVALID_STATE") and "'churn' version 1" in replaced.json()["message"]
    assert error_of(mlflow_api.delete(f"{root}/MLmodel")) == (400, "INVALID_STATE")
    assert error_of(mlflow_api.delete(root)) == (400, "INVALID_STATE")
    assert ok(mlflow_api.put(f"{root}/notes.txt", b"added later", content_type="application/octet-stream"))
    assert b"".join(mlflow_api.get(f"{root}/MLmodel").streaming_content) == b"flavors: {}\n"
