"""A logged prediction carries the score, the label or both: the published schema says so, so a
record it admits is stored and a record without either is refused by both."""

import pytest

from audits.models import PredictionLog
from tests.api_schema import schema_admits
from tests.factories import ModelVersionFactory, RegisteredModelFactory

PATH = "/api/v1/predictions/"


@pytest.fixture
def upsell(db):
    model = RegisteredModelFactory(name="upsell")
    ModelVersionFactory(model=model)
    return model


def batch(**output):
    record = {"request_id": "r-1", "version": 1, "predicted_at": "2026-11-01T10:00:00Z", "features": {}, **output}
    return {"model": "upsell", "records": [record]}


@pytest.mark.parametrize("output", [{"score": 0.3}, {"label": "upgrade"}, {"score": None, "label": "no"}])
def test_a_record_with_a_score_or_a_label_is_stored(upsell, api_as, pipeline, output):
    body = batch(**output)
    assert schema_admits("POST", PATH, body)
    response = api_as(pipeline).post(PATH, body, format="json")
    assert response.status_code == 201, response.content
    assert PredictionLog.objects.count() == 1


@pytest.mark.parametrize("output", [{}, {"score": None}, {"label": ""}, {"score": None, "label": " \t"}])
def test_a_record_without_either_is_refused_by_the_schema_and_the_api(upsell, api_as, pipeline, output):
    body = batch(**output)
    assert not schema_admits("POST", PATH, body)
    response = api_as(pipeline).post(PATH, body, format="json")
    assert response.status_code == 400 and "records[0].score" in response.json()["detail"], response.content
    assert not PredictionLog.objects.exists()
