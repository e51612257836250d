"""A serving system says where each prediction was served (web, app, email): Keel stores the surface,
refuses one that is not a short name, shows it with the row and filters the log by it."""

from datetime import UTC, datetime

import pytest

from audits import services
from audits.models import PredictionLog
from mlops.errors import ApplicationError
from tests.api_schema import schema_admits
from tests.factories import ModelVersionFactory, RegisteredModelFactory

PATH = "/api/v1/predictions/"


@pytest.fixture
def upsell(db):
    model = RegisteredModelFactory(name="upsell")
    ModelVersionFactory(model=model)
    return model


def record(request_id="r-1", **extra):
    return {
        "request_id": request_id,
        "version": 1,
        "predicted_at": "2026-11-01T10:00:00Z",
        "features": {"plan": "pro"},
        "score": 0.4,
        **extra,
    }


def test_the_surface_a_prediction_was_served_on_is_stored_and_shown(upsell, api_as, pipeline, agent):
    body = {
        "model": "upsell",
        "records": [record("r-1", surface="app"), record("r-2", surface="upsell-email"), record("r-3")],
    }
    assert schema_admits("POST", PATH, body)
    response = api_as(pipeline).post(PATH, body, format="json")
    assert response.status_code == 201, response.content
    assert dict(PredictionLog.objects.values_list("request_id", "surface")) == {
        "r-1": "app",
        "r-2": "upsell-email",
        "r-3": "",
    }
    listed = api_as(agent).get(PATH, {"model": "upsell", "surface": "app"}).json()["results"]
    assert [(row["request_id"], row["surface"]) for row in listed] == [("r-1", "app")]


@pytest.mark.parametrize("surface", ["Web App", "app!", "x" * 65, "-app"])
def test_a_surface_that_is_not_a_short_name_is_refused_naming_the_record(upsell, api_as, pipeline, surface):
    body = {"model": "upsell", "records": [record("r-1"), record("r-2", surface=surface)]}
    response = api_as(pipeline).post(PATH, body, format="json")
    assert response.status_code == 400, response.content
    assert "surface" in str(response.json()["detail"])
    assert not PredictionLog.objects.exists()


def test_the_service_checks_the_surface_too(upsell):
    logged = {**record(), "predicted_at": datetime(2026, 11, 1, 10, tzinfo=UTC), "surface": "no spaces please"}
    with pytest.raises(ApplicationError) as refused:
        services.predictions_log(model=upsell, records=[logged])
    assert list(refused.value.detail) == ["records[0].surface"]
