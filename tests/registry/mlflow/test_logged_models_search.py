"""Searching MLflow 3 logged models as `search_logged_models` asks (POST
/api/2.0/mlflow/logged-models/search): MLflow's filter on metrics, params, tags and attributes,
metric filters narrowed to datasets, order by attributes or a metric (on a dataset), pages.

A logged model's metrics are the run's metric points the client logged with its `model_id` (and
a dataset): one record, the run's, linked to the model; a logged model answers them in its
`data.metrics`. Bad filters are INVALID_PARAMETER_VALUE, never a 5xx."""

import pytest
from django.db import transaction

from registry.models import LoggedModelInput, LoggedModelMetric, RunMetric

from .conftest import call, error_of, ok


@pytest.fixture
def run(mlflow_api):
    experiment_id = call(mlflow_api, "POST", "experiments/create", {"name": "churn"}).json()["experiment_id"]
    return call(mlflow_api, "POST", "runs/create", {"experiment_id": experiment_id}).json()["run"]["info"]


def create(client, run, name: str, **extra) -> str:
    body = {"experiment_id": run["experiment_id"], "name": name, "source_run_id": run["run_id"], **extra}
    return call(client, "POST", "logged-models", body).json()["model"]["info"]["model_id"]


def log_metrics(client, run, model_id: str, dataset: str = "", **values):
    metrics = [
        {"key": key, "value": value, "timestamp": 1_700_000_000_000, "step": 0, "model_id": model_id}
        | ({"dataset_name": dataset, "dataset_digest": f"{dataset}-d1"} if dataset else {})
        for key, value in values.items()
    ]
    assert ok(call(client, "POST", "runs/log-batch", {"run_id": run["run_id"], "metrics": metrics}))


@pytest.fixture
def models(mlflow_api, run) -> dict[str, str]:
    """Three candidates of one run: a GBM, a forest and a linear model, scored on two datasets."""
    ids = {
        "gbm": create(
            mlflow_api,
            run,
            "gbm-depth-6",
            model_type="sklearn",
            params=[{"key": "depth", "value": "6"}],
            tags=[{"key": "team", "value": "growth"}],
        ),
        "forest": create(
            mlflow_api,
            run,
            "forest",
            model_type="sklearn",
            params=[{"key": "depth", "value": "12"}],
            tags=[{"key": "team", "value": "risk"}],
        ),
        "linear": create(mlflow_api, run, "linear", model_type="statsmodels", params=[{"key": "C", "value": "1.0"}]),
    }
    log_metrics(mlflow_api, run, ids["gbm"], "holdout", auc=0.91, loss=0.30)
    log_metrics(mlflow_api, run, ids["gbm"], "train", auc=0.99)
    log_metrics(mlflow_api, run, ids["forest"], "holdout", auc=0.84)
    log_metrics(mlflow_api, run, ids["forest"], "train", auc=0.97)
    log_metrics(mlflow_api, run, ids["linear"], "holdout", auc=0.72)
    return ids


def found(client, run, **body) -> list[str]:
    response = call(client, "POST", "logged-models/search", {"experiment_ids": [run["experiment_id"]], **body})
    assert ok(response)
    return [m["info"]["name"] for m in response.json()["models"]]


def test_metrics_filter_on_any_value_the_model_has_or_on_the_named_datasets(mlflow_api, run, models):
    assert sorted(found(mlflow_api, run, filter="metrics.auc > 0.9")) == ["forest", "gbm-depth-6"]
    holdout = [{"dataset_name": "holdout"}]
    assert found(mlflow_api, run, filter="metrics.auc > 0.9", datasets=holdout) == ["gbm-depth-6"]
    exact = [{"dataset_name": "holdout", "dataset_digest": "holdout-d1"}]
    assert found(mlflow_api, run, filter="metrics.auc >= 0.84 AND metrics.auc < 0.9", datasets=exact) == ["forest"]
    assert found(mlflow_api, run, filter="metrics.loss <= 0.3") == ["gbm-depth-6"]
    # Datasets alone: the models with a metric on them.
    assert sorted(found(mlflow_api, run, datasets=[{"dataset_name": "train"}])) == ["forest", "gbm-depth-6"]
    assert found(mlflow_api, run, datasets=[{"dataset_name": "train", "dataset_digest": "other"}]) == []


def test_params_tags_and_attributes_filter_as_text(mlflow_api, run, models):
    assert found(mlflow_api, run, filter="params.depth = '6'") == ["gbm-depth-6"]
    assert found(mlflow_api, run, filter="params.depth != '6'") == ["forest"]  # a model without it never matches
    assert found(mlflow_api, run, filter="params.C IN ('1.0', '2.0')") == ["linear"]
    assert found(mlflow_api, run, filter="tags.team = 'growth'") == ["gbm-depth-6"]
    assert found(mlflow_api, run, filter="tags.`team` LIKE 'ri%'") == ["forest"]
    assert found(mlflow_api, run, filter="name LIKE 'gbm%'") == ["gbm-depth-6"]
    assert found(mlflow_api, run, filter="attributes.name ILIKE 'FOR%'") == ["forest"]
    assert found(mlflow_api, run, filter="model_type = 'statsmodels'") == ["linear"]
    assert found(mlflow_api, run, filter=f"model_id = '{models['forest']}'") == ["forest"]
    assert len(found(mlflow_api, run, filter=f"source_run_id = '{run['run_id']}' AND creation_timestamp > 0")) == 3
    assert found(mlflow_api, run, filter="creation_time < 1000") == []
    assert found(
        mlflow_api, run, filter="last_updated_timestamp > 0 AND model_type = 'sklearn' AND params.depth = '12'"
    ) == ["forest"]


def test_order_by_a_metric_on_a_dataset_puts_models_without_it_last(mlflow_api, run, models):
    by_auc = [{"field_name": "metrics.auc", "ascending": False, "dataset_name": "holdout"}]
    assert found(mlflow_api, run, order_by=by_auc) == ["gbm-depth-6", "forest", "linear"]
    by_train_auc = [{"field_name": "metrics.auc", "ascending": True, "dataset_name": "train"}]
    assert found(mlflow_api, run, order_by=by_train_auc) == ["forest", "gbm-depth-6", "linear"]
    by_loss = [{"field_name": "metrics.loss", "ascending": False}]
    assert found(mlflow_api, run, order_by=by_loss)[0] == "gbm-depth-6"
    by_name = [{"field_name": "name", "ascending": False}]
    assert found(mlflow_api, run, order_by=by_name) == ["linear", "gbm-depth-6", "forest"]
    by_type = [{"field_name": "model_type"}, {"field_name": "name"}]
    assert found(mlflow_api, run, order_by=by_type) == ["forest", "gbm-depth-6", "linear"]


def test_pages_follow_the_token_across_three_pages(mlflow_api, run, models):
    body = {
        "order_by": [{"field_name": "metrics.auc", "ascending": False, "dataset_name": "holdout"}],
        "max_results": 1,
    }
    pages, token = [], None
    for _ in range(3):
        answer = call(
            mlflow_api,
            "POST",
            "logged-models/search",
            {"experiment_ids": [run["experiment_id"]], **body, **({"page_token": token} if token else {})},
        ).json()
        pages.append([m["info"]["name"] for m in answer["models"]])
        token = answer.get("next_page_token")
    assert pages == [["gbm-depth-6"], ["forest"], ["linear"]]
    assert token is None


def test_a_logged_model_answers_its_metrics_with_their_dataset_and_run(mlflow_api, run, models):
    model = call(mlflow_api, "GET", f"logged-models/{models['forest']}").json()["model"]
    assert sorted(model["data"]["metrics"], key=lambda m: m["dataset_name"]) == [
        {
            "key": "auc",
            "value": value,
            "timestamp": 1_700_000_000_000,
            "step": 0,
            "dataset_name": dataset,
            "dataset_digest": f"{dataset}-d1",
            "model_id": models["forest"],
            "run_id": run["run_id"],
        }
        for dataset, value in (("holdout", 0.84), ("train", 0.97))
    ]
    searched = call(mlflow_api, "POST", "logged-models/search", {"experiment_ids": [run["experiment_id"]]}).json()
    by_name = {m["info"]["name"]: m for m in searched["models"]}
    assert by_name["forest"]["data"]["metrics"] == model["data"]["metrics"]
    # The points are the run's own metric history: one record, linked to the model.
    assert RunMetric.objects.filter(run__run_id=run["run_id"], key="auc").count() == 5


def test_a_metric_naming_an_unknown_logged_model_refuses_the_whole_batch(mlflow_api, run):
    metric = {"key": "auc", "value": 0.9, "timestamp": 1, "model_id": "m-" + "0" * 32}
    response = call(mlflow_api, "POST", "runs/log-batch", {"run_id": run["run_id"], "metrics": [metric]})
    assert error_of(response) == (404, "RESOURCE_DOES_NOT_EXIST")
    assert not RunMetric.objects.exists()
    long_name = {**metric, "model_id": create(mlflow_api, run, "m"), "dataset_name": "d" * 501}
    response = call(mlflow_api, "POST", "runs/log-batch", {"run_id": run["run_id"], "metrics": [long_name]})
    assert error_of(response) == (400, "INVALID_PARAMETER_VALUE")


BAD_SEARCHES = [
    {"filter": "metrics.auc > 'high'"},  # metrics compare with numbers
    {"filter": "metrics.auc LIKE '0.9%'"},
    {"filter": "params.depth > 6"},  # params and tags are text
    {"filter": "tags.team = 3"},
    {"filter": "name > 3"},
    {"filter": "colour = 'red'"},  # not an attribute of a logged model
    {"filter": "creation_timestamp > 'yesterday'"},
    {"filter": "name = 'a' OR name = 'b'"},
    {"filter": "metrics.auc >"},
    {"datasets": [{"dataset_digest": "d1"}]},  # a dataset needs its name
    {"order_by": [{"field_name": "params.depth"}]},  # only metrics among the entities
    {"order_by": [{"field_name": "colour"}]},
    {"order_by": [{"field_name": "name", "dataset_name": "holdout"}]},  # a dataset only for a metric
    {"order_by": [{"field_name": "metrics.auc", "dataset_digest": "d1"}]},  # a digest only with its name
    {"order_by": [{"ascending": True}]},
    {"page_token": "not-a-token"},
    {"max_results": 0},
]


@pytest.mark.parametrize("body", BAD_SEARCHES, ids=range(len(BAD_SEARCHES)))
def test_a_bad_search_is_invalid_parameter_value(mlflow_api, run, body):
    response = call(mlflow_api, "POST", "logged-models/search", {"experiment_ids": [run["experiment_id"]], **body})
    assert error_of(response) == (400, "INVALID_PARAMETER_VALUE")


def test_a_run_names_the_logged_models_it_evaluates_as_inputs(mlflow_api, run):
    # What the fluent `mlflow.log_metrics(..., model_id=...)` sends first for a model the run did not log.
    model_id = create(mlflow_api, run, "candidate")
    body = {"run_id": run["run_id"], "models": [{"model_id": model_id}]}
    assert ok(call(mlflow_api, "POST", "runs/log-inputs", body))
    assert ok(call(mlflow_api, "POST", "runs/log-inputs", body))  # again: nothing new
    assert LoggedModelInput.objects.get().logged_model.model_id == model_id
    unknown = {"run_id": run["run_id"], "models": [{"model_id": "m-" + "0" * 32}]}
    assert error_of(call(mlflow_api, "POST", "runs/log-inputs", unknown)) == (404, "RESOURCE_DOES_NOT_EXIST")
    datasets = {"run_id": run["run_id"], "datasets": [{"dataset": {"name": "holdout", "digest": "h1"}}]}
    refused = call(mlflow_api, "POST", "runs/log-inputs", datasets)
    assert error_of(refused) == (400, "INVALID_PARAMETER_VALUE") and "dataset" in refused.json()["message"]


def test_nan_and_infinite_points_are_linked_as_the_run_keeps_them(mlflow_api, run):
    model_id = create(mlflow_api, run, "odd")
    one = {"run_id": run["run_id"], "key": "loss", "value": "NaN", "timestamp": 5, "model_id": model_id}
    assert ok(call(mlflow_api, "POST", "runs/log-metric", one))
    assert ok(call(mlflow_api, "POST", "runs/log-metric", {**one, "key": "gain", "value": "Infinity"}))
    assert ok(call(mlflow_api, "POST", "runs/log-metric", one))  # a retry links nothing twice
    metrics = call(mlflow_api, "GET", f"logged-models/{model_id}").json()["model"]["data"]["metrics"]
    assert [(m["key"], m["value"]) for m in metrics] == [("gain", 1.7976931348623157e308), ("loss", "NaN")]
    # A NaN point matches no comparison.
    assert found(mlflow_api, run, filter="metrics.loss < 1") == []
    assert found(mlflow_api, run, filter="metrics.gain > 1e300") == ["odd"]


def test_the_links_to_a_logged_models_metrics_and_a_runs_inputs_are_append_only(mlflow_api, run, models):
    link = LoggedModelMetric.objects.first()
    link.dataset_name = "rewritten"
    with pytest.raises(Exception, match="append-only"), transaction.atomic():
        link.save()
    call(mlflow_api, "POST", "runs/log-inputs", {"run_id": run["run_id"], "models": [{"model_id": models["gbm"]}]})
    used = LoggedModelInput.objects.get()
    used.logged_model_id = (
        LoggedModelMetric.objects.exclude(logged_model_id=used.logged_model_id).first().logged_model_id
    )
    with pytest.raises(Exception, match="append-only"), transaction.atomic():
        used.save()
