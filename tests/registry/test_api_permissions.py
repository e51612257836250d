"""Who may call which registry endpoint: anonymous callers are told to authenticate (401), people
and pipelines without the right role are refused (403), and each role gets exactly its actions."""

import pytest

from registry.services.catalog import alias_point
from tests.factories import ModelVersionFactory, RegisteredModelFactory, TrainingRunFactory

NAME = "upsell"


@pytest.fixture
def registry_state(db, reviewer):
    model = RegisteredModelFactory(name=NAME, owner=reviewer)
    ModelVersionFactory(model=model)
    ModelVersionFactory(model=model)
    run = TrainingRunFactory(run_id="ab" * 16)
    alias_point(model=model, alias="production", version=model.versions.get(version=1), actor=reviewer, reason="first")
    return {"model": model, "run": run}


READS = [
    "/api/v1/models/",
    f"/api/v1/models/{NAME}/",
    f"/api/v1/models/{NAME}/versions/",
    f"/api/v1/models/{NAME}/versions/1/",
    f"/api/v1/models/{NAME}/aliases/production",
    f"/api/v1/models/{NAME}/alias-history/",
    f"/api/v1/models/{NAME}/diff/?left=1&right=2",
    "/api/v1/experiments/",
    "/api/v1/runs/",
    f"/api/v1/runs/{'ab' * 16}/",
    f"/api/v1/runs/{'ab' * 16}/metrics/loss",
]

# (method, path, body, expected status for an allowed caller)
MODEL_WRITES = [
    ("post", "/api/v1/models/", {"name": "churn", "task_type": "regression"}, 201),
    ("patch", f"/api/v1/models/{NAME}/", {"description": "new words"}, 200),
]
# The training commit log: the pipelines' alone (reviewers judge what it says).
LOG_WRITES = [
    ("post", f"/api/v1/models/{NAME}/versions/", {"decision_threshold": 0.3}, 201),
    ("post", f"/api/v1/models/{NAME}/versions/1/tags", {"tags": {"team": "growth"}}, 200),
    ("post", "/api/v1/experiments/", {"name": "upsell-nightly"}, 201),
    ("post", "/api/v1/runs/", {"experiment": "upsell-nightly"}, 201),
    ("post", f"/api/v1/runs/{'ab' * 16}/log", {"params": [{"key": "lr", "value": "0.1"}]}, 200),
    ("post", f"/api/v1/runs/{'ab' * 16}/status", {"status": "FINISHED"}, 200),
]
REGISTER_WRITES = MODEL_WRITES + LOG_WRITES
ALIAS_WRITE = ("put", f"/api/v1/models/{NAME}/aliases/challenger", {"version": 2, "reason": "watch v2"}, 200)


def call(client, method, path, body=None):
    return getattr(client, method)(path, body, format="json") if body is not None else getattr(client, method)(path)


@pytest.mark.parametrize("path", READS)
def test_anonymous_callers_must_authenticate(registry_state, anonymous_api, path):
    response = anonymous_api.get(path)
    assert response.status_code == 401
    assert response.json()["message"]


@pytest.mark.parametrize("method,path,body,_", REGISTER_WRITES + [ALIAS_WRITE])
def test_anonymous_writes_are_refused(registry_state, anonymous_api, method, path, body, _):
    assert call(anonymous_api, method, path, body).status_code == 401


@pytest.mark.parametrize("path", READS)
def test_an_account_without_a_keel_role_reads_nothing(registry_state, api_as, outsider, path):
    response = api_as(outsider).get(path)
    assert response.status_code == 403
    assert "role" in response.json()["message"]


@pytest.mark.parametrize("actor", ["reviewer", "pipeline", "agent", "labeller"])
@pytest.mark.parametrize("path", READS)
def test_every_keel_role_reads_the_registry(registry_state, api_as, request, actor, path):
    assert api_as(request.getfixturevalue(actor)).get(path).status_code == 200


@pytest.mark.parametrize("actor", ["agent", "labeller", "outsider"])
@pytest.mark.parametrize("method,path,body,_", REGISTER_WRITES + [ALIAS_WRITE])
def test_roles_without_registry_rights_cannot_write(registry_state, api_as, request, actor, method, path, body, _):
    assert call(api_as(request.getfixturevalue(actor)), method, path, body).status_code == 403


@pytest.mark.parametrize("actor", ["reviewer", "pipeline"])
@pytest.mark.parametrize("method,path,body,expected", MODEL_WRITES)
def test_pipelines_and_reviewers_register_models(registry_state, api_as, request, actor, method, path, body, expected):
    response = call(api_as(request.getfixturevalue(actor)), method, path, body)
    assert response.status_code == expected, response.content


@pytest.mark.parametrize("method,path,body,expected", LOG_WRITES)
def test_only_pipelines_write_the_training_log(
    registry_state, api_as, pipeline, reviewer, method, path, body, expected
):
    assert call(api_as(reviewer), method, path, body).status_code == 403
    response = call(api_as(pipeline), method, path, body)
    assert response.status_code == expected, response.content


def test_only_reviewers_move_aliases(registry_state, api_as, pipeline, reviewer):
    method, path, body, _ = ALIAS_WRITE
    assert call(api_as(pipeline), method, path, body).status_code == 403
    assert call(api_as(reviewer), method, path, body).status_code == 200


def test_session_writes_need_the_csrf_token(registry_state, reviewer):
    from rest_framework.test import APIClient

    client = APIClient(enforce_csrf_checks=True)
    client.force_login(reviewer)
    response = client.post("/api/v1/models/", {"name": "churn", "task_type": "regression"}, format="json")
    assert response.status_code == 403
    assert "CSRF" in response.json()["message"]


def test_a_wrong_token_is_refused(registry_state, anonymous_api):
    anonymous_api.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    assert anonymous_api.get("/api/v1/models/").status_code == 401


def test_the_openapi_schema_and_docs_need_a_login(db, client, reviewer):
    assert client.get("/api/schema/").status_code in (401, 403)
    client.force_login(reviewer)
    schema = client.get("/api/schema/")
    assert schema.status_code == 200
    assert b"/api/v1/models/{name}/versions/" in schema.content
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    assert b"swagger-ui" in docs.content
