"""MLFLOW_TRACKING_TOKEN (Bearer) and MLFLOW_TRACKING_USERNAME/PASSWORD (Basic) are Keel users with
Keel's roles: anonymous callers get 401 UNAUTHENTICATED, a role without the right 403."""

import pytest
from rest_framework.test import APIClient

from registry.models import Experiment

from .conftest import MLFLOW, PASSWORD, basic, bearer, call, error_of


def test_the_pipelines_token_as_bearer_creates_an_experiment_it_owns(pipeline):
    response = call(bearer(pipeline), "POST", "experiments/create", {"name": "churn"})
    assert response.status_code == 200, response.content
    assert Experiment.objects.get(pk=int(response.json()["experiment_id"])).created_by == pipeline


def test_the_token_with_api_v1s_token_keyword_works_too(api_as, pipeline):
    assert call(api_as(pipeline), "POST", "experiments/create", {"name": "churn"}).status_code == 200


def test_a_user_name_and_password_as_basic_auth(pipeline):
    pipeline.set_password(PASSWORD)
    pipeline.save()
    response = call(basic(pipeline.username, PASSWORD), "POST", "experiments/create", {"name": "churn"})
    assert response.status_code == 200, response.content


@pytest.mark.parametrize(
    "authorization",
    ["Bearer not-a-real-token", "Basic bm9ib2R5Om5vcGU=", "Bearer", "Negotiate abc"],
)
def test_wrong_credentials_are_unauthenticated(db, authorization):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=authorization)
    response = call(client, "GET", "experiments/search")
    assert error_of(response) == (401, "UNAUTHENTICATED")


def test_a_wrong_password_is_unauthenticated(pipeline):
    pipeline.set_password(PASSWORD)
    pipeline.save()
    assert error_of(call(basic(pipeline.username, "guess"), "GET", "experiments/search")) == (401, "UNAUTHENTICATED")


def test_anonymous_is_unauthenticated_with_a_challenge(db):
    response = call(APIClient(), "POST", "experiments/create", {"name": "churn"})
    assert error_of(response) == (401, "UNAUTHENTICATED")
    assert "Bearer" in response["WWW-Authenticate"]
    assert not Experiment.objects.exists()


def test_a_role_without_the_right_is_permission_denied(labeller, reviewer, pipeline):
    # Reading is every role's; writing the training log is the pipelines' (as in API v1).
    assert call(bearer(labeller), "GET", "experiments/search").status_code == 200
    assert error_of(call(bearer(reviewer), "POST", "experiments/create", {"name": "x"})) == (403, "PERMISSION_DENIED")
    assert error_of(call(bearer(labeller), "POST", "experiments/create", {"name": "x"})) == (403, "PERMISSION_DENIED")


def test_an_account_without_a_keel_role_reads_nothing(outsider):
    assert error_of(call(bearer(outsider), "GET", "experiments/search")) == (403, "PERMISSION_DENIED")


def test_a_browser_session_still_needs_its_csrf_token(client, reviewer):
    client.force_login(reviewer)
    checked = APIClient(enforce_csrf_checks=True)
    checked.force_login(reviewer)
    assert error_of(checked.post(f"{MLFLOW}/experiments/search", {}, format="json")) == (403, "PERMISSION_DENIED")
    checked.cookies["csrftoken"] = "a" * 32
    checked.credentials(HTTP_X_CSRFTOKEN="a" * 32)
    assert checked.post(f"{MLFLOW}/experiments/search", {}, format="json").status_code == 200


def test_server_info_answers_without_a_login(db):
    response = APIClient().get("/api/3.0/mlflow/server-info")
    assert response.status_code == 200
    assert response.json()["workspaces_enabled"] is False


def test_password_guessing_through_basic_auth_meets_keels_sign_in_lock(pipeline, settings):
    settings.AXES_FAILURE_LIMIT = 2
    pipeline.set_password(PASSWORD)
    pipeline.save()
    for _ in range(2):
        assert error_of(call(basic(pipeline.username, "guess"), "GET", "experiments/search"))[0] == 401
    # Locked: even the right password is refused now, in MLflow's shape (no HTML lock page).
    assert error_of(call(basic(pipeline.username, PASSWORD), "GET", "experiments/search")) == (401, "UNAUTHENTICATED")
