from io import StringIO

import pytest
from django.contrib.auth import authenticate, get_user_model
from django.core.management import CommandError, call_command
from django.test import RequestFactory
from rest_framework.authentication import TokenAuthentication
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from mlops import roles

User = get_user_model()


def create(name: str, *args: str) -> str:
    out, err = StringIO(), StringIO()
    call_command("create_pipeline_user", name, *args, stdout=out, stderr=err)
    return out.getvalue().strip()


def authenticates(key: str):
    request = RequestFactory().get("/api/v1/models/", HTTP_AUTHORIZATION=f"Token {key}")
    result = TokenAuthentication().authenticate(request)
    return result[0] if result else None


@pytest.mark.django_db
def test_creates_a_token_only_pipeline_account():
    key = create("nightly-training")

    user = User.objects.get(username="nightly-training")
    assert Token.objects.get(user=user).key == key
    assert user.groups.filter(name=roles.PIPELINES).exists()
    assert user.has_perm(roles.REGISTER_MODELS)
    assert not user.has_usable_password()
    assert authenticate(username="nightly-training", password="") is None
    assert APIClient().login(username="nightly-training", password="") is False
    assert authenticates(key) == user


@pytest.mark.django_db
def test_printed_token_authenticates_against_the_api():
    key = create("nightly-training")
    response = APIClient().get("/api/v1/models/", HTTP_AUTHORIZATION=f"Token {key}")
    assert response.status_code == 200, response.content
    anonymous = APIClient().get("/api/v1/models/")
    assert anonymous.status_code in (401, 403)


@pytest.mark.django_db
def test_rerun_reuses_the_account_and_token():
    first = create("nightly-training")
    again = create("nightly-training")

    assert again == first
    assert User.objects.filter(username="nightly-training").count() == 1
    assert Token.objects.filter(user__username="nightly-training").count() == 1


@pytest.mark.django_db
def test_rotate_replaces_the_token():
    old = create("nightly-training")
    new = create("nightly-training", "--rotate")

    assert new != old
    assert Token.objects.get(user__username="nightly-training").key == new
    assert authenticates(new).username == "nightly-training"
    assert not Token.objects.filter(key=old).exists()


@pytest.mark.django_db
def test_refuses_to_turn_a_person_into_a_pipeline(reviewer):
    with pytest.raises(CommandError, match="signs in with a password"):
        create(reviewer.username)
    assert not Token.objects.filter(user=reviewer).exists()
    assert not reviewer.groups.filter(name=roles.PIPELINES).exists()


@pytest.mark.django_db
def test_refuses_an_invalid_username():
    with pytest.raises(CommandError, match="not a valid username"):
        create("no spaces allowed")
    assert not User.objects.filter(username="no spaces allowed").exists()


@pytest.mark.django_db
def test_only_the_token_goes_to_stdout():
    out, err = StringIO(), StringIO()
    call_command("create_pipeline_user", "weekly", stdout=out, stderr=err)
    assert out.getvalue().strip() == Token.objects.get(user__username="weekly").key
    assert "Created pipeline user 'weekly'" in err.getvalue()
