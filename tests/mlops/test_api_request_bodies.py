"""Whatever body a client sends — JSON nested a hundred thousand deep, or more bytes than Keel reads
into memory — every API v1 endpoint answers with the API's JSON error, never a 500 or an HTML page."""

import pytest
from django.test import Client

from tests.factories import RegisteredModelFactory

# (actor, method, path): JSON endpoints of each app, both those on the default parsers and those
# that also take uploads, each sent by a role that may call it.
ENDPOINTS = [
    ("pipeline", "post", "/api/v1/models/"),
    ("pipeline", "post", "/api/v1/models/upsell/holdouts/"),
    ("pipeline", "post", "/api/v1/audits/"),
    ("pipeline", "post", "/api/v1/support/explanations"),
    ("reviewer", "put", "/api/v1/models/upsell/audit-suite"),
    ("reviewer", "post", "/api/v1/models/upsell/audit-schedules"),
    ("reviewer", "post", "/api/v1/support/explanations"),
    ("agent", "post", "/api/v1/support/blacklist"),
    ("agent", "post", "/api/v1/support/bulk"),
]

ELEVEN_POINT_SEVEN_MB = 11_700_000


@pytest.fixture
def upsell(db):
    return RegisteredModelFactory(name="upsell")


def send_json(api, method, path, body: str):
    return api.generic(method.upper(), path, body, content_type="application/json")


def assert_api_error(response, status):
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"].startswith("application/json")
    payload = response.json()
    assert payload["message"] and isinstance(payload["detail"], dict)
    return payload


@pytest.mark.parametrize("actor,method,path", ENDPOINTS)
def test_json_nested_a_hundred_thousand_deep_is_a_400(upsell, api_as, request, actor, method, path):
    api = api_as(request.getfixturevalue(actor))
    response = send_json(api, method, path, "[" * 100_000 + "]" * 100_000)
    assert "nested deeper than" in assert_api_error(response, 400)["message"]


@pytest.mark.parametrize("depth", [101, 900])
def test_json_nested_past_the_limit_is_refused_before_anything_reads_it(upsell, api_as, pipeline, depth):
    body = '{"name": "deep", "task_type": "regression", "description": ' + "[" * depth + "]" * depth + "}"
    response = send_json(api_as(pipeline), "post", "/api/v1/models/", body)
    assert "nested deeper than 100 levels" in assert_api_error(response, 400)["message"]


@pytest.mark.parametrize("tags", ['{"a\\u0000b": "x"}', '{"a": "x\\u0000"}'])
def test_json_holding_a_nul_in_a_key_or_a_value_is_a_400(upsell, api_as, pipeline, tags):
    # PostgreSQL stores no NUL in text or JSON: without this the write is a 500.
    body = '{"experiment": "nul", "tags": ' + tags + "}"
    response = send_json(api_as(pipeline), "post", "/api/v1/runs/", body)
    assert "NUL" in assert_api_error(response, 400)["message"]


def test_json_nested_within_the_limit_reaches_the_view(upsell, api_as, pipeline):
    body = '{"name": "deep", "task_type": "regression", "description": ' + "[" * 99 + "]" * 99 + "}"
    response = send_json(api_as(pipeline), "post", "/api/v1/models/", body)
    payload = assert_api_error(response, 400)
    assert "description" in payload["detail"]  # the serializer's answer: it saw the body


@pytest.mark.parametrize("actor,method,path", ENDPOINTS)
def test_a_json_body_over_the_memory_limit_is_a_413_naming_the_limit(
    upsell, api_as, request, settings, actor, method, path
):
    api = api_as(request.getfixturevalue(actor))
    body = '{"name": "' + "x" * ELEVEN_POINT_SEVEN_MB + '"}'
    payload = assert_api_error(send_json(api, method, path, body), 413)
    assert f"the limit is {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes" in payload["message"]


def test_an_upload_form_whose_fields_are_over_the_limit_is_a_413(upsell, api_as, pipeline, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = api_as(pipeline).post(
        "/api/v1/models/upsell/holdouts/", {"name": "x" * 2000, "label_column": "y"}, format="multipart"
    )
    assert "the limit is 1000 bytes" in assert_api_error(response, 413)["message"]


def test_an_upload_form_with_too_many_fields_is_a_400(upsell, api_as, pipeline, settings):
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 5
    fields = {f"f{i}": "x" for i in range(10)}
    response = api_as(pipeline).post("/api/v1/models/upsell/holdouts/", fields, format="multipart")
    assert_api_error(response, 400)


def test_pages_keep_their_html_error_page_for_an_oversized_form(db):
    response = Client().post(
        "/accounts/login/",
        "username=x&password=" + "x" * ELEVEN_POINT_SEVEN_MB,
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 400 and response["Content-Type"].startswith("text/html")
