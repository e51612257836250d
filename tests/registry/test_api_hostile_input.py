"""Whatever a misbehaving client sends, the answer is a clear 4xx with the stable error shape."""

import pytest

from tests.factories import ModelVersionFactory, RegisteredModelFactory, TrainingRunFactory

RUN = "cd" * 16


@pytest.fixture
def world(db):
    ModelVersionFactory(model=RegisteredModelFactory(name="upsell"))
    TrainingRunFactory(run_id=RUN)


@pytest.mark.parametrize(
    "method,path,body",
    [
        ("post", f"/api/v1/runs/{RUN}/log", {"metrics": [{"key": "loss", "value": 1, "step": 2**70}]}),
        ("post", f"/api/v1/runs/{RUN}/log", {"metrics": [{"key": "loss", "value": 1, "timestamp": -5}]}),
        ("post", f"/api/v1/runs/{RUN}/log", {"metrics": [{"key": "loss", "value": True}]}),
        ("post", f"/api/v1/runs/{RUN}/log", {"params": "lr=0.1"}),
        ("post", f"/api/v1/runs/{RUN}/log", ["not", "an", "object"]),
        ("post", f"/api/v1/runs/{RUN}/status", {"status": "FINISHED", "ended_at": "2001-01-01T00:00:00Z"}),
        ("post", "/api/v1/runs/", {"experiment": ""}),
        ("post", "/api/v1/runs/", {"experiment": "x" * 201}),
        ("post", "/api/v1/models/", {"name": "a" * 101, "task_type": "regression"}),
        ("post", "/api/v1/models/upsell/versions/", {"feature_schema": "plan,country"}),
        ("post", "/api/v1/models/upsell/versions/", {"dataset_uri": "s" * 501}),
        ("put", "/api/v1/models/upsell/aliases/" + "p" * 80, {"version": 1, "reason": "too long a name"}),
        ("put", "/api/v1/models/upsell/aliases/production", {"version": 2**40, "reason": "huge"}),
    ],
)
def test_hostile_input_is_a_clear_client_error(world, api_as, reviewer, method, path, body):
    response = getattr(api_as(reviewer), method)(path, body, format="json")
    assert 400 <= response.status_code < 500, response.content
    payload = response.json()
    assert payload["message"] and isinstance(payload["detail"], dict)


def test_malformed_json_is_a_400(world, api_as, reviewer):
    response = api_as(reviewer).generic("POST", "/api/v1/models/", "{not json", content_type="application/json")
    assert response.status_code == 400
    assert "JSON" in response.json()["message"]
