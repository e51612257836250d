"""Clients that call the MLflow-compatible API as the `mlflow` client does: the token as `Bearer`,
or a user name and password as HTTP Basic; no session, no CSRF token."""

import base64

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

MLFLOW = "/api/2.0/mlflow"
PASSWORD = "correct-horse-battery"


def bearer(user) -> APIClient:
    client = APIClient(enforce_csrf_checks=True)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {Token.objects.get_or_create(user=user)[0].key}")
    return client


def basic(username: str, password: str) -> APIClient:
    client = APIClient(enforce_csrf_checks=True)
    pair = base64.b64encode(f"{username}:{password}".encode()).decode()
    client.credentials(HTTP_AUTHORIZATION=f"Basic {pair}")
    return client


@pytest.fixture
def mlflow_api(pipeline):
    """The nightly pipeline, as MLFLOW_TRACKING_TOKEN sends its Keel token."""
    return bearer(pipeline)


def call(client: APIClient, method: str, endpoint: str, body=None):
    """One MLflow call as the client makes it: GET fields in the query string, others as JSON."""
    url = f"{MLFLOW}/{endpoint}"
    if method == "GET":
        return client.get(url, body or {})
    return getattr(client, method.lower())(url, body or {}, format="json")


def error_of(response) -> tuple[int, str]:
    body = response.json()
    assert set(body) == {"error_code", "message"} and body["message"], body
    return response.status_code, body["error_code"]


def ok(response) -> bool:
    """MLflow's success: HTTP 200 (never 201) and a JSON message."""
    assert response.status_code == 200, response.content
    return isinstance(response.json(), dict)
