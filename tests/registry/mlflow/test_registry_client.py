"""The real `mlflow` client registers models in Keel as it would in MLflow's own registry: what it
registers is Keel's model and versions (API v1 shows the same records), free aliases move, and a
governed alias or a transition to Production opens a promotion request instead of moving — the
client gets PERMISSION_DENIED naming that request, and production stays where it was."""

import pytest
from rest_framework.authtoken.models import Token

from registry.models import ModelAlias, ModelVersion, PromotionRequest

from .test_client import mlflow, tracking  # noqa: F401  (the live server and the client's settings)
from .test_registry_versions import ready_for_the_gate

MlflowException = pytest.importorskip("mlflow.exceptions").MlflowException


@pytest.fixture(autouse=True)
def _no_gate_run(monkeypatch):
    monkeypatch.setattr("registry.services.promotion._queue_gate", lambda promotion_id: None)


def as_user(monkeypatch, user):
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", Token.objects.get_or_create(user=user)[0].key)


def test_the_client_registers_versions_and_moves_free_aliases_only(
    tracking,  # noqa: F811
    monkeypatch,
    pipeline,
    reviewer,
    api_as,
):
    client = mlflow.MlflowClient()
    mlflow.set_experiment("churn-nightly")
    with mlflow.start_run() as run:
        mlflow.log_param("depth", 6)
    created = client.create_registered_model("churn", tags={"team": "growth"}, description="Who leaves")
    assert created.name == "churn" and created.tags == {"team": "growth"}
    first = client.create_model_version("churn", f"runs:/{run.info.run_id}/model", run_id=run.info.run_id)
    second = client.create_model_version("churn", "mlflow-artifacts:/1/x/artifacts/model", description="second")
    assert (first.version, second.version) == ("1", "2") and first.run_id == run.info.run_id

    assert [m.name for m in client.search_registered_models(filter_string="name LIKE 'chu%'")] == ["churn"]
    found = client.search_model_versions(f"run_id = '{run.info.run_id}'")
    assert [(v.name, v.version) for v in found] == [("churn", "1")]

    # The reviewer marks the challenger (a free alias), as in MLflow.
    as_user(monkeypatch, reviewer)
    client.set_registered_model_alias("churn", "challenger", 2)
    assert client.get_model_version_by_alias("churn", "challenger").version == "2"

    # Production is governed: the pipeline's request is opened, the alias does not move.
    as_user(monkeypatch, pipeline)
    ready_for_the_gate(pipeline, "churn", 1)
    with pytest.raises(MlflowException) as denied:
        client.set_registered_model_alias("churn", "production", 1)
    request = PromotionRequest.objects.get(target_alias="production")
    assert denied.value.error_code == "PERMISSION_DENIED"
    assert f"#{request.pk}" in denied.value.message and f"/promotions/{request.pk}/" in denied.value.message
    assert not ModelAlias.objects.filter(name="production").exists()
    with pytest.raises(MlflowException) as still_denied:
        client.get_model_version_by_alias("churn", "production")
    assert still_denied.value.error_code == "RESOURCE_DOES_NOT_EXIST"

    with pytest.raises(MlflowException) as staged:
        client.transition_model_version_stage("churn", "1", "Production")
    assert staged.value.error_code == "PERMISSION_DENIED" and f"#{request.pk}" in staged.value.message
    assert [v.current_stage for v in client.get_latest_versions("churn")] == ["None"]

    client.rename_registered_model("churn", "churn-eu")
    assert client.get_registered_model("churn-eu").aliases == {"challenger": "2"}
    v1 = api_as(pipeline).get("/api/v1/models/churn-eu/").json()
    assert v1["name"] == "churn-eu"
    versions = api_as(pipeline).get("/api/v1/models/churn-eu/versions/").json()
    assert sorted(v["version"] for v in versions["results"]) == [1, 2]
    assert ModelVersion.objects.get(model__name="churn-eu", version=2).created_by == pipeline
