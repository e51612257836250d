"""MLflow 3 logged models on the wire, as `log_model` calls them: created PENDING in an experiment
and linked to their run, their files uploaded under `<experiment>/models/<id>/artifacts` (stored
like a run's, with the same path rule), finalized READY, named as the run's outputs, found by
search, tagged with the versions registered from them. Bad input is MLflow's 400/404, never a 5xx."""

import hashlib
import pickle

import pytest

from registry.models import LoggedModel, ModelVersion, RunArtifact

from .conftest import bearer, call, error_of, ok

ARTIFACTS = "/api/2.0/mlflow-artifacts/artifacts"


@pytest.fixture
def run(mlflow_api, media):
    experiment_id = call(mlflow_api, "POST", "experiments/create", {"name": "churn"}).json()["experiment_id"]
    return call(mlflow_api, "POST", "runs/create", {"experiment_id": experiment_id}).json()["run"]["info"]


def create(client, run, **extra):
    body = {"experiment_id": run["experiment_id"], "name": "model", "source_run_id": run["run_id"], **extra}
    return call(client, "POST", "logged-models", body)


@pytest.fixture
def logged(mlflow_api, run):
    return create(mlflow_api, run).json()["model"]


def test_log_model_creates_a_pending_logged_model_linked_to_its_run(mlflow_api, run):
    response = create(
        mlflow_api,
        run,
        model_type="sklearn",
        params=[{"key": "C", "value": "1.0"}],
        tags=[{"key": "mlflow.source.name", "value": "train.py"}],
    )
    assert ok(response)
    info = response.json()["model"]["info"]
    model_id = info["model_id"]
    assert model_id.startswith("m-") and len(model_id) == 34
    assert info["status"] == "LOGGED_MODEL_PENDING" and info["source_run_id"] == run["run_id"]
    assert info["artifact_uri"] == f"mlflow-artifacts:/{run['experiment_id']}/models/{model_id}/artifacts"
    assert info["tags"] == [{"key": "mlflow.source.name", "value": "train.py"}]
    assert response.json()["model"]["data"]["params"] == [{"key": "C", "value": "1.0"}]
    stored = LoggedModel.objects.get(model_id=model_id)
    assert (stored.run.run_id, stored.model_type) == (run["run_id"], "sklearn")
    assert stored.experiment_id == int(run["experiment_id"])


def test_its_files_go_to_keel_storage_under_the_logged_model_with_their_sha256(mlflow_api, logged, run):
    root = logged["info"]["artifact_uri"].removeprefix("mlflow-artifacts:/")
    body = b"skops bytes"
    put = mlflow_api.put(f"{ARTIFACTS}/{root}/model.skops", body, content_type="application/octet-stream")
    assert ok(put)
    stored = RunArtifact.objects.get(logged_model__model_id=logged["info"]["model_id"])
    assert stored.run is None and stored.sha256 == hashlib.sha256(body).hexdigest()
    assert stored.file.name.startswith(f"run-artifacts/{logged['info']['model_id']}/")
    assert mlflow_api.get(ARTIFACTS, {"path": root}).json() == {
        "files": [{"path": "model.skops", "is_dir": False, "file_size": len(body)}]
    }
    assert b"".join(mlflow_api.get(f"{ARTIFACTS}/{root}/model.skops").streaming_content) == body
    # The run's own artifacts are a separate root.
    assert mlflow_api.get(ARTIFACTS, {"path": f"{run['experiment_id']}/{run['run_id']}/artifacts"}).json() == {}


@pytest.mark.parametrize(
    "path",
    [
        "{exp}/models/{id}/artifacts/../../{run}/artifacts/x",
        "{exp}/models/{id}/artifacts/%252e%252e/x",
        "{exp}/models/m-xyz/artifacts/x",
        "{exp}/models/{id}/other/x",
        "{exp}/models/{id}/artifacts/a\\b",
        "x/models/{id}/artifacts/a",
    ],
)
def test_a_logged_models_paths_follow_the_same_strict_rule(mlflow_api, logged, run, path):
    raw = path.format(exp=run["experiment_id"], id=logged["info"]["model_id"], run=run["run_id"])
    response = mlflow_api.put(f"{ARTIFACTS}/{raw}", b"x", content_type="application/octet-stream")
    assert error_of(response) == (400, "INVALID_PARAMETER_VALUE")
    assert not RunArtifact.objects.exists()


def test_a_logged_model_in_another_experiment_is_not_found(mlflow_api, logged, run):
    other = int(run["experiment_id"]) + 1
    response = mlflow_api.put(
        f"{ARTIFACTS}/{other}/models/{logged['info']['model_id']}/artifacts/x", b"x", content_type="text/plain"
    )
    assert error_of(response) == (404, "RESOURCE_DOES_NOT_EXIST")


def test_finalize_makes_it_ready_and_a_ready_model_stays_ready(mlflow_api, logged):
    model_id = logged["info"]["model_id"]
    ready = {"model_id": model_id, "status": "LOGGED_MODEL_READY"}
    done = call(mlflow_api, "PATCH", f"logged-models/{model_id}", ready)
    assert done.json()["model"]["info"]["status"] == "LOGGED_MODEL_READY"
    again = call(mlflow_api, "PATCH", f"logged-models/{model_id}", {"status": "LOGGED_MODEL_UPLOAD_FAILED"})
    assert error_of(again) == (400, "INVALID_PARAMETER_VALUE")
    bad = call(mlflow_api, "PATCH", f"logged-models/{model_id}", {"status": "SHIPPED"})
    assert error_of(bad) == (400, "INVALID_PARAMETER_VALUE")
    read = call(mlflow_api, "GET", f"logged-models/{model_id}")
    assert read.json()["model"]["info"]["status"] == "LOGGED_MODEL_READY"


def test_params_are_set_once_and_tags_change(mlflow_api, logged):
    model_id = logged["info"]["model_id"]
    assert ok(call(mlflow_api, "POST", f"logged-models/{model_id}/params", {"params": [{"key": "C", "value": "1"}]}))
    assert ok(call(mlflow_api, "POST", f"logged-models/{model_id}/params", {"params": [{"key": "C", "value": "1"}]}))
    changed = call(mlflow_api, "POST", f"logged-models/{model_id}/params", {"params": [{"key": "C", "value": "2"}]})
    assert error_of(changed) == (400, "INVALID_PARAMETER_VALUE")
    versions = '[{"name": "churn", "version": "1"}]'
    tags = {"tags": [{"key": "mlflow.modelVersions", "value": versions}]}
    assert ok(call(mlflow_api, "PATCH", f"logged-models/{model_id}/tags", tags))
    assert LoggedModel.objects.get().tags == {"mlflow.modelVersions": versions}
    assert ok(call(mlflow_api, "DELETE", f"logged-models/{model_id}/tags/mlflow.modelVersions"))
    assert LoggedModel.objects.get().params == {"C": "1"} and LoggedModel.objects.get().tags == {}


def test_runs_name_their_logged_models_as_outputs(mlflow_api, logged, run):
    body = {"run_id": run["run_id"], "models": [{"model_id": logged["info"]["model_id"], "step": 3}]}
    assert ok(call(mlflow_api, "POST", "runs/outputs", body))
    assert LoggedModel.objects.get().output_step == 3
    shown = call(mlflow_api, "GET", "runs/get", {"run_id": run["run_id"]}).json()["run"]
    assert shown["outputs"] == {"model_outputs": [{"model_id": logged["info"]["model_id"], "step": 3}]}
    other = call(mlflow_api, "POST", "runs/create", {"experiment_id": run["experiment_id"]}).json()["run"]["info"]
    stolen = call(mlflow_api, "POST", "runs/outputs", {**body, "run_id": other["run_id"]})
    assert error_of(stolen) == (400, "INVALID_PARAMETER_VALUE")
    unknown = call(mlflow_api, "POST", "runs/outputs", {**body, "models": [{"model_id": "m-" + "0" * 32}]})
    assert error_of(unknown) == (404, "RESOURCE_DOES_NOT_EXIST")


def test_search_finds_a_runs_model_by_name_as_the_client_asks(mlflow_api, logged, run):
    create(mlflow_api, run, name="other")
    search = {"experiment_ids": [run["experiment_id"]], "filter": "name = 'model'"}
    found = call(mlflow_api, "POST", "logged-models/search", search).json()
    assert [m["info"]["model_id"] for m in found["models"]] == [logged["info"]["model_id"]]
    ordered = {"experiment_ids": [run["experiment_id"]], "order_by": [{"field_name": "name"}], "max_results": 1}
    first = call(mlflow_api, "POST", "logged-models/search", ordered).json()
    assert [m["info"]["name"] for m in first["models"]] == ["model"] and first["next_page_token"]
    second = call(mlflow_api, "POST", "logged-models/search", {**ordered, "page_token": first["next_page_token"]})
    assert [m["info"]["name"] for m in second.json()["models"]] == ["other"]
    assert call(mlflow_api, "POST", "logged-models/search", {"experiment_ids": ["999"]}).json() == {"models": []}
    model_id = logged["info"]["model_id"]
    call(mlflow_api, "PATCH", f"logged-models/{model_id}", {"status": "LOGGED_MODEL_READY"})

    def names(search_filter: str, field: str = "name") -> list[str]:
        body = {"experiment_ids": [run["experiment_id"]], "filter": search_filter}
        return [m["info"][field] for m in call(mlflow_api, "POST", "logged-models/search", body).json()["models"]]

    assert names("status = 'LOGGED_MODEL_READY'", "model_id") == [model_id]
    assert names(f"source_run_id = '{run['run_id']}' AND name LIKE 'oth%'") == ["other"]


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"experiment_ids": ["1"], "filter": "metrics.auc > 'high'"},
        {"experiment_ids": ["1"], "filter": "name = "},
        {"experiment_ids": ["1"], "order_by": [{"field_name": "params.depth"}]},
        {"experiment_ids": ["1"], "page_token": "not-a-token"},
        {"experiment_ids": ["1"], "max_results": 0},
        {"experiment_ids": "1"},
    ],
)
def test_a_bad_search_is_invalid_parameter_value(mlflow_api, body):
    assert error_of(call(mlflow_api, "POST", "logged-models/search", body)) == (400, "INVALID_PARAMETER_VALUE")


@pytest.mark.parametrize(
    "body,expected",
    [
        ({"experiment_id": "999"}, (404, "RESOURCE_DOES_NOT_EXIST")),
        ({"source_run_id": "f" * 32}, (404, "RESOURCE_DOES_NOT_EXIST")),
        ({"name": "a/b"}, (400, "INVALID_PARAMETER_VALUE")),
        ({"params": [{"key": f"p{i}", "value": "1"} for i in range(101)]}, (400, "INVALID_PARAMETER_VALUE")),
        ({"tags": [{"key": "", "value": "1"}]}, (400, "INVALID_PARAMETER_VALUE")),
        ({"params": "C=1"}, (400, "INVALID_PARAMETER_VALUE")),
    ],
)
def test_a_bad_create_is_refused_in_mlflows_shape(mlflow_api, run, body, expected):
    assert error_of(create(mlflow_api, run, **body)) == expected
    assert not LoggedModel.objects.exists()


def test_a_run_of_another_experiment_is_refused(mlflow_api, run):
    other = call(mlflow_api, "POST", "experiments/create", {"name": "other"}).json()["experiment_id"]
    assert error_of(create(mlflow_api, run, experiment_id=other)) == (400, "INVALID_PARAMETER_VALUE")


def test_an_unknown_logged_model_is_not_found(mlflow_api):
    assert error_of(call(mlflow_api, "GET", "logged-models/m-nope")) == (404, "RESOURCE_DOES_NOT_EXIST")
    patch = call(mlflow_api, "PATCH", "logged-models/m-nope", {"status": "LOGGED_MODEL_READY"})
    assert error_of(patch) == (404, "RESOURCE_DOES_NOT_EXIST")


def test_a_version_registered_from_a_logged_model_points_back_to_it(mlflow_api, logged, run):
    model_id = logged["info"]["model_id"]
    call(mlflow_api, "POST", "registered-models/create", {"name": "churn"})
    body = {"name": "churn", "source": f"models:/{model_id}", "model_id": model_id}
    version = call(mlflow_api, "POST", "model-versions/create", body).json()["model_version"]
    assert version["model_id"] == model_id and version["run_id"] == run["run_id"]
    stored = ModelVersion.objects.get(model__name="churn")
    assert stored.logged_model.model_id == model_id and stored.run.run_id == run["run_id"]
    unknown = call(mlflow_api, "POST", "model-versions/create", {**body, "model_id": "m-" + "0" * 32})
    assert error_of(unknown) == (404, "RESOURCE_DOES_NOT_EXIST")


def test_members_read_logged_models_and_only_producers_log_them(logged, run, agent, outsider):
    model_id = logged["info"]["model_id"]
    assert ok(call(bearer(agent), "GET", f"logged-models/{model_id}"))
    assert error_of(create(bearer(agent), run)) == (403, "PERMISSION_DENIED")
    assert error_of(call(bearer(outsider), "GET", f"logged-models/{model_id}"))[1] == "PERMISSION_DENIED"


def _logged_with_file(client, run, name: str, body: bytes) -> str:
    info = create(client, run).json()["model"]["info"]
    root = info["artifact_uri"].removeprefix("mlflow-artifacts:/")
    assert ok(client.put(f"{ARTIFACTS}/{root}/{name}", body, content_type="application/octet-stream"))
    assert ok(call(client, "PATCH", f"logged-models/{info['model_id']}", {"status": "LOGGED_MODEL_READY"}))
    return info["model_id"]


def test_a_pickled_logged_model_stays_only_stored_where_pickles_are_not_allowed(mlflow_api, run, monkeypatch):
    # Keel reads a pickle's opcodes to refuse it; it never unpickles it.
    monkeypatch.setattr(pickle, "loads", lambda *a, **k: pytest.fail("Keel unpickled an MLflow artifact"))
    monkeypatch.setattr(pickle, "load", lambda *a, **k: pytest.fail("Keel unpickled an MLflow artifact"))
    model_id = _logged_with_file(mlflow_api, run, "model.pkl", pickle.dumps({"weights": [1, 2]}))
    call(mlflow_api, "POST", "registered-models/create", {"name": "churn"})
    body = {"name": "churn", "source": f"models:/{model_id}", "model_id": model_id}
    assert ok(call(mlflow_api, "POST", "model-versions/create", body))
    version = ModelVersion.objects.get(model__name="churn")
    assert version.logged_model.model_id == model_id and not version.artifact and version.artifact_format == ""
    assert RunArtifact.objects.filter(logged_model__model_id=model_id, path="model.pkl").exists()


GARBAGE = [
    [],
    "x",
    7,
    {"models": [1]},
    {"params": [{"key": 1}]},
    {"tags": [{"key": "k" * 300, "value": "v"}]},
    {"status": 7},
    {"experiment_ids": [None]},
    {"name": {"a": 1}},
    {"run_id": "\x00"},
    {"unknown": 1},
    {"order_by": ["name"]},
    {"max_results": 2**70},
]


@pytest.mark.parametrize("body", GARBAGE, ids=range(len(GARBAGE)))
def test_garbage_on_every_logged_model_route_is_a_4xx_in_mlflows_shape(mlflow_api, logged, run, body):
    model_id = logged["info"]["model_id"]
    for method, endpoint in [
        ("POST", "logged-models"),
        ("POST", "logged-models/search"),
        ("PATCH", f"logged-models/{model_id}"),
        ("POST", f"logged-models/{model_id}/params"),
        ("PATCH", f"logged-models/{model_id}/tags"),
        ("POST", "runs/outputs"),
        ("POST", "runs/log-inputs"),
        ("DELETE", f"logged-models/{model_id}"),
    ]:
        response = call(mlflow_api, method, endpoint, body)
        if response.status_code != 200:
            status, _ = error_of(response)
            assert 400 <= status < 500, (method, endpoint, body, response.content)


@pytest.mark.parametrize("model_id", ["m-%00", "m-" + "A" * 32, "%2e%2e", "m-" + "0" * 33])
def test_a_model_id_that_is_not_one_is_not_found_before_any_query(mlflow_api, model_id):
    assert error_of(mlflow_api.get(f"/api/2.0/mlflow/logged-models/{model_id}")) == (404, "RESOURCE_DOES_NOT_EXIST")


def test_the_version_page_shows_the_logged_model_and_its_files(mlflow_api, run, reviewer, client_as):
    body = b"not a model, only stored"
    model_id = _logged_with_file(mlflow_api, run, "MLmodel", body)
    call(mlflow_api, "POST", "registered-models/create", {"name": "churn"})
    call(
        mlflow_api,
        "POST",
        "model-versions/create",
        {"name": "churn", "source": f"models:/{model_id}", "model_id": model_id},
    )
    html = client_as(reviewer).get("/models/churn/versions/1/").content.decode()
    assert f"models:/{model_id}" in html and "<code>MLmodel</code>" in html
    assert hashlib.sha256(body).hexdigest() in html
