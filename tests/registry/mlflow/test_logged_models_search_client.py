"""The real client searches and deletes logged models in Keel: `search_logged_models` with MLflow's
filters, datasets, a metric order and pages; `delete_logged_model` hides one, and is refused for one
a registered version came from."""

import pytest

from registry.models import LoggedModel

from .test_client import mlflow, tracking  # noqa: F401  (the live server and the client pointed at it)

Metric = pytest.importorskip("mlflow.entities").Metric
MlflowException = pytest.importorskip("mlflow.exceptions").MlflowException


def _candidates(client) -> tuple[str, dict[str, str]]:
    """Three candidate models of one run, each scored on the holdout through log_batch with its id."""
    mlflow.set_experiment("churn-candidates")
    ids = {}
    with mlflow.start_run() as run:
        for name, depth, auc in (("gbm", "6", 0.91), ("forest", "12", 0.84), ("linear", "1", 0.72)):
            model = mlflow.initialize_logged_model(
                name=name, params={"depth": depth}, tags={"team": "growth" if name == "gbm" else "risk"}
            )
            ids[name] = model.model_id
            point = Metric(
                "auc", auc, 1_700_000_000_000, 0, model_id=model.model_id, dataset_name="holdout", dataset_digest="h1"
            )
            client.log_batch(run.info.run_id, metrics=[point])
        # The fluent call with an explicit model id links the run's metric to that model as well.
        mlflow.log_metrics({"loss": 0.3}, model_id=ids["gbm"])
    return run.info.experiment_id, ids


def test_search_logged_models_filters_orders_and_pages(tracking):  # noqa: F811
    client = mlflow.MlflowClient()
    experiment_id, ids = _candidates(client)

    good = client.search_logged_models([experiment_id], filter_string="metrics.auc > 0.8 AND tags.team = 'risk'")
    assert [m.name for m in good] == ["forest"]
    assert [m.name for m in client.search_logged_models([experiment_id], filter_string="params.depth = '6'")] == ["gbm"]
    assert [m.name for m in client.search_logged_models([experiment_id], filter_string="name LIKE 'lin%'")] == [
        "linear"
    ]
    by_auc = [{"field_name": "metrics.auc", "ascending": False, "dataset_name": "holdout"}]
    holdout = [{"dataset_name": "holdout", "dataset_digest": "h1"}]
    pages, token = [], None
    while True:
        page = client.search_logged_models(
            [experiment_id], datasets=holdout, order_by=by_auc, max_results=1, page_token=token
        )
        pages.append([m.name for m in page])
        token = page.token
        if not token:
            break
    assert pages == [["gbm"], ["forest"], ["linear"]]
    everything = mlflow.search_logged_models(
        experiment_ids=[experiment_id], order_by=by_auc, max_results=2, output_format="list"
    )
    assert [m.name for m in everything] == ["gbm", "forest"]

    gbm = client.get_logged_model(ids["gbm"])
    assert {(m.key, m.value, m.dataset_name, m.model_id) for m in gbm.metrics} == {
        ("auc", 0.91, "holdout", ids["gbm"]),
        ("loss", 0.3, None, ids["gbm"]),
    }

    with pytest.raises(MlflowException) as bad:
        client.search_logged_models([experiment_id], filter_string="metrics.auc > 'high'")
    assert bad.value.error_code == "INVALID_PARAMETER_VALUE"


def test_delete_logged_model_hides_it_unless_a_version_came_from_it(tracking):  # noqa: F811
    client = mlflow.MlflowClient()
    experiment_id, ids = _candidates(client)
    client.finalize_logged_model(ids["gbm"], "READY")
    client.create_registered_model("churn")
    client.create_model_version("churn", f"models:/{ids['gbm']}", model_id=ids["gbm"])

    client.delete_logged_model(ids["linear"])
    with pytest.raises(MlflowException) as gone:
        client.get_logged_model(ids["linear"])
    assert gone.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    assert sorted(m.name for m in client.search_logged_models([experiment_id])) == ["forest", "gbm"]
    assert LoggedModel.objects.get(model_id=ids["linear"]).deleted_at is not None

    with pytest.raises(MlflowException) as refused:
        client.delete_logged_model(ids["gbm"])
    assert refused.value.error_code == "INVALID_STATE" and "churn" in refused.value.message
    assert client.get_logged_model(ids["gbm"]).name == "gbm"
