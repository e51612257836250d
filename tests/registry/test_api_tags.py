"""Tags stay a JSON object of name → text on runs and versions; the schema says what a name may be
(1 to 250 characters, not all whitespace, no NUL: OpenAPI 3.1's `propertyNames`), so every tag a
client's generated body holds is one the API keeps, and a name it refuses the schema refuses too."""

import pytest

from registry.models import ModelVersion
from tests.api_schema import schema_admits
from tests.factories import ModelVersionFactory, RegisteredModelFactory

GOOD_NAMES = ["a", "x" * 250, " team ", "\u3000é", "owner.email"]
BAD_NAMES = ["", " ", "\t\u3000\u2028", "x" * 251]


@pytest.fixture
def upsell(db):
    model = RegisteredModelFactory(name="upsell")
    ModelVersionFactory(model=model)
    return model


# (method, schema path, url, body around the tags)
OPERATIONS = [
    ("POST", "/api/v1/runs/", "/api/v1/runs/", {"experiment": "nightly"}),
    ("POST", "/api/v1/models/{name}/versions/", "/api/v1/models/upsell/versions/", {}),
    ("POST", "/api/v1/models/{name}/versions/{version}/tags", "/api/v1/models/upsell/versions/1/tags", {}),
]


@pytest.mark.parametrize("method, path, url, body", OPERATIONS)
@pytest.mark.parametrize("name", GOOD_NAMES)
def test_a_tag_name_the_schema_admits_is_kept(pipeline_api, upsell, method, path, url, body, name):
    sent = {**body, "tags": {name: "growth"}}
    assert schema_admits(method, path, sent)
    response = pipeline_api.post(url, sent, format="json")
    assert response.status_code == 201 or (response.status_code == 200 and "/tags" in url), response.content
    assert response.json()["tags"][name] == "growth"


@pytest.mark.parametrize("method, path, url, body", OPERATIONS)
@pytest.mark.parametrize("name", BAD_NAMES)
def test_a_tag_name_the_schema_refuses_is_refused(pipeline_api, upsell, method, path, url, body, name):
    sent = {**body, "tags": {name: "growth"}}
    assert not schema_admits(method, path, sent)
    response = pipeline_api.post(url, sent, format="json")
    assert response.status_code == 400 and "tags" in response.json()["detail"], response.content
    assert ModelVersion.objects.count() == 1


def test_the_schema_is_openapi_3_1(pipeline_api):
    assert pipeline_api.get("/api/schema/?format=json").json()["openapi"] == "3.1.0"
