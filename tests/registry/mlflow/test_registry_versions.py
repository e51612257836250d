"""Model versions through MLflow's registry API are Keel's ModelVersion rows: registered with their
source before any artifact is checked, recording who registered them, found by name, run_id and
version; aliases move through Keel's alias service (AliasEvent history) — except governed ones,
which open a promotion request instead and answer PERMISSION_DENIED naming it."""

import pytest

from registry import services
from registry.models import AliasEvent, ModelAlias, ModelVersion, PromotionRequest
from tests.registry.helpers import artifact_file
from tests.registry.promotion_helpers import holdout_for

from .conftest import bearer, call, error_of, ok

SOURCE = "mlflow-artifacts:/1/abc123/artifacts/model"


@pytest.fixture(autouse=True)
def _no_gate_run(monkeypatch):
    # The gate's own tests run it; here a request only has to be opened.
    monkeypatch.setattr("registry.services.promotion._queue_gate", lambda promotion_id: None)


@pytest.fixture
def run_id(mlflow_api):
    experiment = call(mlflow_api, "POST", "experiments/create", {"name": "churn"}).json()["experiment_id"]
    return call(mlflow_api, "POST", "runs/create", {"experiment_id": experiment}).json()["run"]["info"]["run_id"]


@pytest.fixture
def churn(mlflow_api):
    assert ok(call(mlflow_api, "POST", "registered-models/create", {"name": "churn"}))
    return "churn"


def register(api, name="churn", **body):
    response = call(api, "POST", "model-versions/create", {"name": name, "source": SOURCE, **body})
    assert ok(response)
    return response.json()["model_version"]


def test_a_version_is_registered_with_its_source_run_and_registrar(mlflow_api, churn, run_id, pipeline, api_as):
    made = register(mlflow_api, run_id=run_id, description="first", tags=[{"key": "stage", "value": "dev"}])
    assert made["version"] == "1" and made["status"] == "READY" and made["source"] == SOURCE
    assert made["run_id"] == run_id and made["user_id"] == pipeline.username and made["current_stage"] == "None"
    assert made["tags"] == [{"key": "stage", "value": "dev"}] and made["description"] == "first"
    version = ModelVersion.objects.get(model__name="churn", version=1)
    assert version.created_by == pipeline and version.run.run_id == run_id and not version.artifact
    v1 = api_as(pipeline).get("/api/v1/models/churn/versions/1/").json()
    assert v1["description"] == "first" and v1["source"] == SOURCE and v1["created_by"] == pipeline.username
    assert v1["artifact"] is None  # nothing to check until an artifact is attached
    assert register(mlflow_api)["version"] == "2"

    got = call(mlflow_api, "GET", "model-versions/get", {"name": "churn", "version": "1"}).json()["model_version"]
    assert got == made
    uri = call(mlflow_api, "GET", "model-versions/get-download-uri", {"name": "churn", "version": "1"})
    assert uri.json() == {"artifact_uri": SOURCE}


@pytest.mark.parametrize(
    ("endpoint", "method", "body", "expected"),
    [
        ("model-versions/create", "POST", {"name": "nope", "source": SOURCE}, (404, "RESOURCE_DOES_NOT_EXIST")),
        ("model-versions/create", "POST", {"name": "churn"}, (400, "INVALID_PARAMETER_VALUE")),
        ("model-versions/create", "POST", {"name": "churn", "source": "x" * 501}, (400, "INVALID_PARAMETER_VALUE")),
        (
            "model-versions/create",
            "POST",
            {"name": "churn", "source": SOURCE, "run_id": "f" * 32},
            (404, "RESOURCE_DOES_NOT_EXIST"),
        ),
        ("model-versions/get", "GET", {"name": "churn", "version": "one"}, (400, "INVALID_PARAMETER_VALUE")),
        ("model-versions/get", "GET", {"name": "churn", "version": "99"}, (404, "RESOURCE_DOES_NOT_EXIST")),
        (
            "model-versions/get",
            "GET",
            {"name": "churn", "version": "99999999999999999999"},
            (400, "INVALID_PARAMETER_VALUE"),
        ),
    ],
)
def test_bad_version_calls_get_mlflows_codes(mlflow_api, churn, endpoint, method, body, expected):
    assert error_of(call(mlflow_api, method, endpoint, body)) == expected
    assert not ModelVersion.objects.exists()


def test_search_versions_by_name_run_id_and_version(mlflow_api, churn, run_id):
    call(mlflow_api, "POST", "registered-models/create", {"name": "upsell"})
    register(mlflow_api, run_id=run_id)
    register(mlflow_api)
    register(mlflow_api, "upsell", run_id=run_id)

    def found(query):
        response = call(mlflow_api, "GET", "model-versions/search", query)
        assert ok(response)
        return [(v["name"], v["version"]) for v in response.json()["model_versions"]]

    assert found({"filter": "name = 'churn'"}) == [("churn", "2"), ("churn", "1")]
    assert found({"filter": f"run_id = '{run_id}'"}) == [("churn", "1"), ("upsell", "1")]
    assert found({"filter": "name = 'churn' AND version_number = 2"}) == [("churn", "2")]
    assert found({"filter": f"run_id IN ('{run_id}') AND name LIKE 'up%'"}) == [("upsell", "1")]
    assert found({"filter": "name = 'churn'", "order_by": ["version_number ASC"]}) == [("churn", "1"), ("churn", "2")]
    assert error_of(call(mlflow_api, "GET", "model-versions/search", {"filter": "params.x = '1'"}))[1] == (
        "INVALID_PARAMETER_VALUE"
    )


def test_update_tags_and_delete_refused(mlflow_api, churn):
    register(mlflow_api)
    key = {"name": "churn", "version": "1"}
    updated = call(mlflow_api, "PATCH", "model-versions/update", {**key, "description": "better"})
    assert ok(updated) and updated.json()["model_version"]["description"] == "better"
    assert ok(call(mlflow_api, "POST", "model-versions/set-tag", {**key, "key": "k", "value": "v"}))
    assert ok(call(mlflow_api, "DELETE", "model-versions/delete-tag", {**key, "key": "k"}))
    assert call(mlflow_api, "GET", "model-versions/get", key).json()["model_version"]["tags"] == []
    refused = call(mlflow_api, "DELETE", "model-versions/delete", key)
    assert error_of(refused) == (400, "INVALID_STATE")
    assert ModelVersion.objects.filter(model__name="churn", version=1).exists()


def test_a_free_alias_moves_and_its_history_is_recorded(mlflow_api, churn, reviewer):
    register(mlflow_api)
    register(mlflow_api)
    as_reviewer = bearer(reviewer)
    assert ok(
        call(as_reviewer, "POST", "registered-models/alias", {"name": "churn", "alias": "challenger", "version": "2"})
    )
    got = call(mlflow_api, "GET", "registered-models/alias", {"name": "churn", "alias": "challenger"})
    assert got.json()["model_version"]["version"] == "2" and got.json()["model_version"]["aliases"] == ["challenger"]
    event = AliasEvent.objects.get(alias="challenger")
    assert event.actor == reviewer and event.to_version.version == 2 and "MLflow" in event.reason

    assert ok(call(as_reviewer, "DELETE", "registered-models/alias", {"name": "churn", "alias": "challenger"}))
    assert error_of(call(mlflow_api, "GET", "registered-models/alias", {"name": "churn", "alias": "challenger"})) == (
        404,
        "RESOURCE_DOES_NOT_EXIST",
    )
    assert AliasEvent.objects.filter(alias="challenger").count() == 2


def test_a_pipeline_without_move_alias_cannot_move_a_free_alias(mlflow_api, churn):
    register(mlflow_api)
    refused = call(
        mlflow_api, "POST", "registered-models/alias", {"name": "churn", "alias": "challenger", "version": "1"}
    )
    assert error_of(refused) == (403, "PERMISSION_DENIED")
    assert not ModelAlias.objects.exists()


def test_a_governed_alias_without_what_the_gate_needs_says_what_is_missing(mlflow_api, churn):
    register(mlflow_api)
    refused = call(
        mlflow_api, "POST", "registered-models/alias", {"name": "churn", "alias": "production", "version": "1"}
    )
    assert error_of(refused) == (403, "PERMISSION_DENIED")
    message = refused.json()["message"]
    assert "an artifact uploaded to Keel" in message and "hold-out dataset" in message
    assert not ModelAlias.objects.exists() and not PromotionRequest.objects.exists()


def ready_for_the_gate(pipeline, name="churn", number=1):
    version = ModelVersion.objects.get(model__name=name, version=number)
    upload, sha = artifact_file()
    services.artifact_attach(version=version, uploaded=upload, sha256=sha)
    holdout_for(version.model, pipeline)
    return version


def test_a_governed_alias_opens_a_promotion_request_and_does_not_move(mlflow_api, churn, pipeline):
    register(mlflow_api)
    version = ready_for_the_gate(pipeline)
    body = {"name": "churn", "alias": "production", "version": "1"}
    refused = call(mlflow_api, "POST", "registered-models/alias", body)
    assert error_of(refused) == (403, "PERMISSION_DENIED")
    request = PromotionRequest.objects.get()
    assert request.version == version and request.target_alias == "production" and request.submitted_by == pipeline
    assert request.holdout is not None
    message = refused.json()["message"]
    assert f"promotion request #{request.pk}" in message and f"/promotions/{request.pk}/" in message
    assert not ModelAlias.objects.exists() and not AliasEvent.objects.exists()

    again = call(mlflow_api, "POST", "registered-models/alias", body)
    assert f"#{request.pk}" in again.json()["message"] and "already open" in again.json()["message"]
    assert PromotionRequest.objects.count() == 1


def test_transition_to_production_opens_a_request_staging_moves_a_free_alias(mlflow_api, churn, pipeline, reviewer):
    register(mlflow_api)
    ready_for_the_gate(pipeline)
    body = {"name": "churn", "version": "1", "stage": "Production", "archive_existing_versions": False}
    refused = call(mlflow_api, "POST", "model-versions/transition-stage", body)
    assert error_of(refused) == (403, "PERMISSION_DENIED")
    assert f"#{PromotionRequest.objects.get().pk}" in refused.json()["message"]

    staged = call(bearer(reviewer), "POST", "model-versions/transition-stage", {**body, "stage": "Staging"})
    assert ok(staged) and staged.json()["model_version"]["current_stage"] == "Staging"
    latest = call(mlflow_api, "POST", "registered-models/get-latest-versions", {"name": "churn", "stages": ["Staging"]})
    assert [v["version"] for v in latest.json()["model_versions"]] == ["1"]
    archived = call(bearer(reviewer), "POST", "model-versions/transition-stage", {**body, "stage": "Archived"})
    assert ok(archived) and archived.json()["model_version"]["current_stage"] == "None"
    bad = call(mlflow_api, "POST", "model-versions/transition-stage", {**body, "stage": "Prod"})
    assert error_of(bad) == (400, "INVALID_PARAMETER_VALUE")


def test_a_governed_alias_cannot_be_removed_through_mlflow(mlflow_api, churn, reviewer):
    refused = call(bearer(reviewer), "DELETE", "registered-models/alias", {"name": "churn", "alias": "shadow"})
    assert error_of(refused) == (403, "PERMISSION_DENIED")


def test_the_model_page_shows_what_mlflow_registered(mlflow_api, churn, client_as, reviewer):
    register(mlflow_api, description="from MLflow")
    page = client_as(reviewer).get("/models/churn/")
    assert page.status_code == 200
    assert SOURCE in page.content.decode() and "from MLflow" in page.content.decode()


def test_a_reviewer_cannot_open_a_promotion_request_through_mlflow(mlflow_api, churn, pipeline, reviewer):
    register(mlflow_api)
    ready_for_the_gate(pipeline)
    body = {"name": "churn", "alias": "production", "version": "1"}
    refused = call(bearer(reviewer), "POST", "registered-models/alias", body)
    assert error_of(refused) == (403, "PERMISSION_DENIED") and "cannot request promotions" in refused.json()["message"]
    assert not PromotionRequest.objects.exists()


def test_a_canary_needs_its_traffic_share_from_api_v1(mlflow_api, churn, pipeline):
    register(mlflow_api)
    ready_for_the_gate(pipeline)
    refused = call(mlflow_api, "POST", "registered-models/alias", {"name": "churn", "alias": "canary", "version": "1"})
    assert error_of(refused) == (403, "PERMISSION_DENIED") and "canary_percent" in refused.json()["message"]
    assert not PromotionRequest.objects.exists()


def test_a_shadow_request_needs_no_holdout(mlflow_api, churn, pipeline):
    register(mlflow_api)
    version = ModelVersion.objects.get(model__name="churn", version=1)
    upload, sha = artifact_file()
    services.artifact_attach(version=version, uploaded=upload, sha256=sha)
    refused = call(mlflow_api, "POST", "registered-models/alias", {"name": "churn", "alias": "shadow", "version": "1"})
    assert error_of(refused) == (403, "PERMISSION_DENIED")
    assert PromotionRequest.objects.get().target_alias == "shadow" and not ModelAlias.objects.exists()
