"""runs/search: a data scientist finds runs by params, metrics, tags and attributes, in the order
asked, a page at a time."""

import pytest

from .conftest import call, error_of, ok

T0 = 1_764_000_000_000


@pytest.fixture
def runs(mlflow_api):
    """Three runs of one experiment: (name, depth param, latest auc, team tag, status)."""
    experiment_id = call(mlflow_api, "POST", "experiments/create", {"name": "search"}).json()["experiment_id"]
    made = {}
    for i, (name, depth, auc, team, status) in enumerate(
        [
            ("a", "4", 0.70, "growth", "FINISHED"),
            ("b", "6", 0.90, "growth", "FAILED"),
            ("c", "8", 0.80, "risk", "RUNNING"),
        ]
    ):
        body = {"experiment_id": experiment_id, "run_name": name, "start_time": T0 + i * 1000}
        run_id = call(mlflow_api, "POST", "runs/create", body).json()["run"]["info"]["run_id"]
        batch = {
            "run_id": run_id,
            "params": [{"key": "depth", "value": depth}],
            # An earlier, worse step: only the latest value is searched.
            "metrics": [
                {"key": "auc", "value": 0.1, "timestamp": T0, "step": 0},
                {"key": "auc", "value": auc, "timestamp": T0, "step": 1},
            ],
            "tags": [{"key": "team", "value": team}],
        }
        assert ok(call(mlflow_api, "POST", "runs/log-batch", batch))
        if status != "RUNNING":
            call(mlflow_api, "POST", "runs/update", {"run_id": run_id, "status": status, "end_time": T0 + 10**6})
        made[name] = run_id
    return experiment_id, made


def search(api, experiment_id, **body):
    response = call(api, "POST", "runs/search", {"experiment_ids": [experiment_id], **body})
    assert response.status_code == 200, response.content
    return [r["info"]["run_name"] for r in response.json().get("runs", [])], response.json()


@pytest.mark.parametrize(
    "filter_string,expected",
    [
        ("", ["c", "b", "a"]),  # newest start first
        ("metrics.auc > 0.75", ["c", "b"]),
        ("metrics.auc >= 0.9", ["b"]),
        ("metrics.auc < 0.2", []),  # the earlier step is not what is searched
        ("params.depth = '6'", ["b"]),
        ("params.depth != '6'", ["c", "a"]),
        ("params.depth IN ('4', '8')", ["c", "a"]),
        ("params.missing != 'x'", []),
        ("tags.team = 'growth' AND metrics.auc < 0.8", ["a"]),
        ("tags.team LIKE 'gro%'", ["b", "a"]),
        ("tags.team ILIKE 'RISK'", ["c"]),
        ("attributes.status = 'FINISHED'", ["a"]),
        ("status != 'RUNNING'", ["b", "a"]),
        ("attributes.run_name = 'b'", ["b"]),
        (f"attributes.start_time >= {T0 + 1000}", ["c", "b"]),
        ("tags.`mlflow.runName` = 'a'", ["a"]),
    ],
)
def test_filters(mlflow_api, runs, filter_string, expected):
    experiment_id, _ = runs
    assert search(mlflow_api, experiment_id, filter=filter_string)[0] == expected


@pytest.mark.parametrize(
    "order_by,expected",
    [
        (["metrics.auc DESC"], ["b", "c", "a"]),
        (["metrics.auc"], ["a", "c", "b"]),
        (["params.depth DESC"], ["c", "b", "a"]),
        (["tags.team ASC", "attributes.start_time ASC"], ["a", "b", "c"]),
        (["attributes.run_name DESC"], ["c", "b", "a"]),
        (["start_time ASC"], ["a", "b", "c"]),
    ],
)
def test_order_by(mlflow_api, runs, order_by, expected):
    experiment_id, _ = runs
    assert search(mlflow_api, experiment_id, order_by=order_by)[0] == expected


def test_pages(mlflow_api, runs):
    experiment_id, _ = runs
    first, page = search(mlflow_api, experiment_id, max_results=2, order_by=["attributes.run_name"])
    second, last = search(
        mlflow_api, experiment_id, max_results=2, order_by=["attributes.run_name"], page_token=page["next_page_token"]
    )
    assert first + second == ["a", "b", "c"] and "next_page_token" not in last


def test_deleted_runs_only_when_asked(mlflow_api, runs):
    experiment_id, made = runs
    call(mlflow_api, "POST", "runs/delete", {"run_id": made["b"]})
    assert search(mlflow_api, experiment_id)[0] == ["c", "a"]
    assert search(mlflow_api, experiment_id, run_view_type="DELETED_ONLY")[0] == ["b"]
    assert search(mlflow_api, experiment_id, run_view_type="ALL")[0] == ["c", "b", "a"]


def test_results_carry_the_runs_data(mlflow_api, runs):
    experiment_id, made = runs
    _, page = search(mlflow_api, experiment_id, filter="attributes.run_name = 'a'")
    data = page["runs"][0]["data"]
    assert {"key": "auc", "value": 0.7, "timestamp": T0, "step": 1} in data["metrics"]
    assert data["params"] == [{"key": "depth", "value": "4"}]


@pytest.mark.parametrize(
    "body",
    [
        {"filter": "metrics.auc > 'high'"},
        {"filter": "params.depth > 3"},
        {"filter": "attributes.colour = 'red'"},
        {"filter": "metrics.auc > 0.5 OR params.depth = '4'"},
        {"order_by": ["attributes.colour"]},
        {"max_results": 50001},
        {"page_token": "bm90IGpzb24="},
        {"run_view_type": "SOME"},
    ],
)
def test_a_search_keel_cannot_read_is_invalid_parameter_value(mlflow_api, runs, body):
    experiment_id, _ = runs
    response = call(mlflow_api, "POST", "runs/search", {"experiment_ids": [experiment_id], **body})
    assert error_of(response) == (400, "INVALID_PARAMETER_VALUE")
