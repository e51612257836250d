"""A pipeline registers a model and its versions with their full config; reviewers compare them."""

import pytest

from registry.models import ModelVersion
from tests.factories import SCHEMA

COMMIT = "9f1c2d3e4b5a69788796a5b4c3d2e1f0a9b8c7d6"
DATASET_SHA = "5" * 64


@pytest.fixture
def upsell(pipeline_api):
    response = pipeline_api.post(
        "/api/v1/models/",
        {
            "name": "upsell",
            "task_type": "binary_classification",
            "description": "Free-tier upgrades in 90 days",
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    return response.json()


def version_body(**overrides):
    body = {
        "feature_schema": SCHEMA,
        "decision_threshold": 0.42,
        "train_window_start": "2026-01-01",
        "train_window_end": "2026-06-30",
        "dataset_uri": "s3://soom/signups.parquet",
        "dataset_sha256": DATASET_SHA,
        "code_commit": COMMIT,
        "hyperparameters": {"learning_rate": 0.1, "max_depth": 4},
        "metrics": {"roc_auc": 0.81},
        "tags": {"team": "growth"},
    }
    body.update(overrides)
    return body


def test_a_model_is_registered_once(pipeline_api, upsell, pipeline):
    assert upsell["owner"] == pipeline.username and upsell["aliases"] == {} and upsell["latest_version"] is None
    again = pipeline_api.post("/api/v1/models/", {"name": "upsell", "task_type": "regression"}, format="json")
    assert again.status_code == 409
    assert "already exists" in again.json()["detail"]["name"][0]


def test_a_version_records_its_whole_config(pipeline_api, upsell, pipeline):
    response = pipeline_api.post("/api/v1/models/upsell/versions/", version_body(), format="json")
    assert response.status_code == 201, response.content
    version = response.json()
    assert version["version"] == 1
    assert version["decision_threshold"] == 0.42
    assert (version["train_window_start"], version["train_window_end"]) == ("2026-01-01", "2026-06-30")
    assert version["code_commit"] == COMMIT and version["dataset_sha256"] == DATASET_SHA
    assert version["hyperparameters"] == {"learning_rate": 0.1, "max_depth": 4}
    assert version["feature_schema"] == SCHEMA
    assert version["tags"] == {"team": "growth"}
    assert version["created_by"] == pipeline.username
    assert version["artifact"] is None
    assert pipeline_api.post("/api/v1/models/upsell/versions/", version_body(), format="json").json()["version"] == 2


def test_a_version_made_from_a_run_inherits_its_params_metrics_and_commit(pipeline_api, upsell):
    run_id = pipeline_api.post("/api/v1/runs/", {"experiment": "upsell", "code_commit": COMMIT}, format="json").json()[
        "run_id"
    ]
    pipeline_api.post(
        f"/api/v1/runs/{run_id}/log",
        {
            "params": [{"key": "max_iter", "value": "200"}],
            "metrics": [
                {"key": "roc_auc", "value": 0.7, "step": 1, "timestamp": 1},
                {"key": "roc_auc", "value": 0.83, "step": 2, "timestamp": 2},
            ],
        },
        format="json",
    )
    version = pipeline_api.post("/api/v1/models/upsell/versions/", {"run_id": run_id}, format="json").json()
    assert version["run_id"] == run_id
    assert version["hyperparameters"] == {"max_iter": "200"}
    assert version["metrics"] == {"roc_auc": 0.83}
    assert version["code_commit"] == COMMIT


@pytest.mark.parametrize(
    "overrides,field",
    [
        ({"decision_threshold": 1.5}, "decision_threshold"),
        ({"train_window_start": "2026-07-01", "train_window_end": "2026-01-01"}, "train_window_end"),
        ({"train_window_start": "last tuesday"}, "train_window_start"),
        ({"code_commit": "not-a-commit"}, "code_commit"),
        ({"dataset_sha256": "abc"}, "dataset_sha256"),
        ({"feature_schema": [{"name": "plan", "type": "text"}]}, "feature_schema"),
        ({"feature_schema": [{"name": "plan", "type": "string"}, {"name": "plan", "type": "int"}]}, "feature_schema"),
        ({"hyperparameters": ["lr", 0.1]}, "hyperparameters"),
        ({"metrics": {"roc_auc": "high"}}, "metrics"),
        ({"tags": {"team": 7}}, "tags"),
        ({"threshold": 0.5}, "threshold"),
        ({"run_id": "0" * 32}, "message"),
    ],
)
def test_bad_version_input_gets_a_precise_error_and_registers_nothing(pipeline_api, upsell, overrides, field):
    response = pipeline_api.post("/api/v1/models/upsell/versions/", version_body(**overrides), format="json")
    assert response.status_code in (400, 404)
    body = response.json()
    assert field in body["detail"] or field == "message" and body["message"]
    assert not ModelVersion.objects.exists()


def test_bad_model_input_names_the_field(pipeline_api):
    response = pipeline_api.post("/api/v1/models/", {"name": "Up Sell!", "task_type": "astrology"}, format="json")
    assert response.status_code == 400
    assert set(response.json()["detail"]) == {"name", "task_type"}


def test_versions_list_is_paginated_and_filterable(pipeline_api, upsell):
    for commit in ("aaaaaaa", "bbbbbbb", "aaaaaab"):
        pipeline_api.post("/api/v1/models/upsell/versions/", version_body(code_commit=commit), format="json")
    page = pipeline_api.get("/api/v1/models/upsell/versions/?page_size=2").json()
    assert page["count"] == 3 and len(page["results"]) == 2 and page["next"]
    assert [v["version"] for v in page["results"]] == [3, 2]
    filtered = pipeline_api.get("/api/v1/models/upsell/versions/?code_commit=aaaaaa").json()
    assert sorted(v["version"] for v in filtered["results"]) == [1, 3]


def test_a_blank_date_filter_on_versions_is_refused_not_ignored(pipeline_api, upsell):
    response = pipeline_api.get("/api/v1/models/upsell/versions/?created_before=")
    assert response.status_code == 400
    assert response.json()["detail"] == {"created_before": ["Give a value, or leave the filter out."]}


def test_models_list_filters_by_task_type_and_name(pipeline_api, upsell):
    pipeline_api.post("/api/v1/models/", {"name": "churn-risk", "task_type": "regression"}, format="json")
    names = [m["name"] for m in pipeline_api.get("/api/v1/models/?task_type=regression").json()["results"]]
    assert names == ["churn-risk"]
    names = [m["name"] for m in pipeline_api.get("/api/v1/models/?search=ups").json()["results"]]
    assert names == ["upsell"]


def test_version_tags_append_and_show_the_current_value(pipeline_api, upsell):
    pipeline_api.post("/api/v1/models/upsell/versions/", version_body(), format="json")
    response = pipeline_api.post(
        "/api/v1/models/upsell/versions/1/tags", {"tags": {"team": "monetisation"}}, format="json"
    )
    assert response.json()["tags"] == {"team": "monetisation"}
    assert ModelVersion.objects.get().tags.count() == 2


def test_the_config_diff_shows_what_changed_between_two_versions(pipeline_api, upsell):
    pipeline_api.post("/api/v1/models/upsell/versions/", version_body(), format="json")
    pipeline_api.post(
        "/api/v1/models/upsell/versions/",
        version_body(
            decision_threshold=0.35,
            code_commit="1111111111111111111111111111111111111111",
            train_window_end="2026-09-30",
            hyperparameters={"learning_rate": 0.05, "max_depth": 4, "l2": 1.0},
            feature_schema=SCHEMA[:2] + [{"name": "attendees", "type": "int", "categorical": False}],
        ),
        format="json",
    )
    body = pipeline_api.get("/api/v1/models/upsell/diff/?left=1&right=2&changes=1").json()
    rows = {(r["section"], r["key"]): (r["left"], r["right"], r["status"]) for r in body["rows"]}
    assert rows[("Decision", "decision_threshold")] == (0.42, 0.35, "changed")
    assert rows[("Code", "code_commit")] == (COMMIT, "1" * 40, "changed")
    assert rows[("Training data", "window_end")] == ("2026-06-30", "2026-09-30", "changed")
    assert rows[("Hyperparameters", "learning_rate")] == (0.1, 0.05, "changed")
    assert rows[("Hyperparameters", "l2")] == (None, 1.0, "added")
    assert rows[("Feature schema", "meeting_minutes")] == ("float", None, "removed")
    assert rows[("Feature schema", "attendees")] == (None, "int", "added")
    assert ("Hyperparameters", "max_depth") not in rows  # unchanged rows are hidden with changes=1
    everything = pipeline_api.get("/api/v1/models/upsell/diff/?left=1&right=2").json()["rows"]
    assert {"section": "Hyperparameters", "key": "max_depth", "left": 4, "right": 4, "status": "same"} in everything


@pytest.mark.parametrize("query,field", [("left=1", "right"), ("left=x&right=1", "left")])
def test_a_diff_needs_two_version_numbers(pipeline_api, upsell, query, field):
    pipeline_api.post("/api/v1/models/upsell/versions/", version_body(), format="json")
    response = pipeline_api.get(f"/api/v1/models/upsell/diff/?{query}")
    assert response.status_code == 400 and field in response.json()["detail"]
    assert pipeline_api.get("/api/v1/models/upsell/diff/?left=1&right=9").status_code == 404


def test_a_feature_description_that_is_not_text_is_refused(pipeline_api, upsell):
    schema = [{"name": "age", "type": "int", "description": {}}]
    response = pipeline_api.post("/api/v1/models/upsell/versions/", version_body(feature_schema=schema), format="json")
    assert response.status_code == 400 and "description must be text" in response.json()["detail"]["feature_schema"][0]


def test_a_decision_threshold_sent_as_a_boolean_is_refused(pipeline_api, upsell):
    response = pipeline_api.post(
        "/api/v1/models/upsell/versions/", version_body(decision_threshold=False), format="json"
    )
    assert response.status_code == 400 and response.json()["detail"] == {"decision_threshold": ["Send a number."]}
