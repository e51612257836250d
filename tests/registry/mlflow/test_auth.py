"""MLFLOW_TRACKING_TOKEN (Bearer) and MLFLOW_TRACKING_USERNAME/PASSWORD (Basic) are Keel users with
Keel's roles: anonymous callers get 401 UNAUTHENTICATED, a role without the right 403."""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Group, Permission
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from mlops import roles
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


# Each call reads the caller and their permissions afresh (one query, registry.mlflow.auth): nothing
# about a token or a role is remembered between calls.


def test_a_revoked_token_is_refused_on_the_next_call(pipeline):
    client = bearer(pipeline)
    assert call(client, "GET", "experiments/search").status_code == 200
    Token.objects.filter(user=pipeline).delete()
    assert error_of(call(client, "GET", "experiments/search")) == (401, "UNAUTHENTICATED")


def test_a_pipeline_taken_out_of_its_group_is_refused_on_the_next_call(pipeline):
    client = bearer(pipeline)
    assert call(client, "POST", "experiments/create", {"name": "churn"}).status_code == 200
    pipeline.groups.remove(Group.objects.get(name=roles.PIPELINES))
    assert error_of(call(client, "POST", "experiments/create", {"name": "churn-2"})) == (403, "PERMISSION_DENIED")
    assert error_of(call(client, "GET", "experiments/search")) == (403, "PERMISSION_DENIED")


def test_a_deactivated_account_is_refused_on_the_next_call(pipeline):
    client = bearer(pipeline)
    assert call(client, "GET", "experiments/search").status_code == 200
    get_user_model().objects.filter(pk=pipeline.pk).update(is_active=False)
    assert error_of(call(client, "GET", "experiments/search")) == (401, "UNAUTHENTICATED")


def test_a_permission_given_to_the_user_alone_counts_and_a_superuser_needs_none(outsider, db):
    client = bearer(outsider)
    assert error_of(call(client, "GET", "experiments/search")) == (403, "PERMISSION_DENIED")
    outsider.user_permissions.add(Permission.objects.get(codename=roles.USE_KEEL.split(".")[1]))
    assert call(client, "GET", "experiments/search").status_code == 200
    admin = get_user_model().objects.create_superuser("ada-admin", "ada@example.com", PASSWORD)
    assert call(bearer(admin), "POST", "experiments/create", {"name": "churn"}).status_code == 200


def test_the_callers_permissions_are_modelbackends_own_and_groups(labeller, django_assert_num_queries):
    from registry.mlflow.auth import token_with_permissions

    labeller.user_permissions.add(Permission.objects.get(codename=roles.LOG_TRAINING.split(".")[1]))
    key = Token.objects.create(user=labeller).key
    with django_assert_num_queries(1):
        user, token = token_with_permissions(key)
        assert user.has_perm(roles.LOG_TRAINING) and user.has_perm(roles.USE_KEEL)
    fresh = get_user_model().objects.get(pk=labeller.pk)
    assert user.get_all_permissions() == ModelBackend().get_all_permissions(fresh) and token.user == fresh
    assert (user.username, user.is_active, user.date_joined) == (fresh.username, True, fresh.date_joined)
    assert token_with_permissions("not-a-key") is None
