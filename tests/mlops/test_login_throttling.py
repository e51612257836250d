"""Password guessing is throttled: repeated wrong passwords lock the account (from any address) and the
address (for any account) for a cool-off, on Keel's sign-in page and on the admin's. Pipelines keep
working with their tokens, and the locked-out person is told why and for how long."""

import pytest
from django.conf import settings
from django.db.models import F
from django.test import Client

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery"
LOGIN = "/accounts/login/"
ADMIN_LOGIN = "/admin/login/"


def limit() -> int:
    return settings.AXES_FAILURE_LIMIT


def cool_off_minutes() -> int:
    return int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)


def sign_in(username: str, password: str, *, address: str = "203.0.113.7", path: str = LOGIN):
    client = Client(REMOTE_ADDR=address)
    response = client.post(path, {"username": username, "password": password})
    return client, response


def signed_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def assert_locked(response):
    assert response.status_code == 429
    body = response.content.decode()
    assert "Too many failed sign-ins" in body
    assert f"{cool_off_minutes()} minutes" in body
    assert int(response["Retry-After"]) == cool_off_minutes() * 60


def expire_cool_off():
    """Move every recorded failure back past the cool-off, as if that much time had gone by."""
    from axes.models import AccessAttempt

    AccessAttempt.objects.update(attempt_time=F("attempt_time") - settings.AXES_COOLOFF_TIME)


def test_the_defaults_throttle_hard_enough():
    assert 3 <= limit() <= 20
    assert 5 <= cool_off_minutes() <= 60
    assert settings.AXES_LOCKOUT_PARAMETERS == ["username", "ip_address"]


def test_wrong_passwords_lock_the_account_even_against_the_right_password():
    rita = UserFactory(username="rita")
    for attempt in range(limit() - 1):
        _, response = sign_in("rita", f"guess-{attempt}", address=f"198.51.100.{attempt + 1}")
        assert response.status_code == 200
        assert "Please enter a correct username and password" in response.content.decode()

    _, response = sign_in("rita", "one-more-guess", address="198.51.100.200")
    assert_locked(response)

    client, response = sign_in(rita.username, PASSWORD, address="192.0.2.50")
    assert_locked(response)
    assert not signed_in(client)


def test_one_address_trying_many_accounts_is_locked():
    for n in range(limit()):
        UserFactory(username=f"victim-{n}")
        _, response = sign_in(f"victim-{n}", "password123", address="203.0.113.99")
    assert_locked(response)

    UserFactory(username="bystander")
    client, response = sign_in("bystander", PASSWORD, address="203.0.113.99")
    assert_locked(response)
    assert not signed_in(client)

    client, response = sign_in("bystander", PASSWORD, address="203.0.113.100")
    assert response.status_code == 302
    assert signed_in(client)


def test_the_admin_sign_in_is_throttled_too():
    UserFactory(username="root", is_staff=True, is_superuser=True)
    for attempt in range(limit()):
        _, response = sign_in("root", f"guess-{attempt}", address=f"198.51.100.{attempt + 1}", path=ADMIN_LOGIN)
    assert_locked(response)

    client, response = sign_in("root", PASSWORD, address="192.0.2.60", path=ADMIN_LOGIN)
    assert_locked(response)
    assert not signed_in(client)
    _, response = sign_in("root", PASSWORD, address="192.0.2.61")
    assert_locked(response)


def test_the_lock_page_is_the_sign_in_page_with_the_reason():
    UserFactory(username="rita")
    for attempt in range(limit()):
        _, response = sign_in("rita", f"guess-{attempt}")
    body = response.content.decode()
    assert "Sign in to Keel" in body
    assert "this account or this address is locked" in body
    assert "Please enter a correct username" not in body


def test_a_lock_expires_after_the_cool_off():
    UserFactory(username="rita")
    for attempt in range(limit()):
        _, response = sign_in("rita", f"guess-{attempt}")
    assert_locked(response)

    expire_cool_off()

    client, response = sign_in("rita", PASSWORD)
    assert response.status_code == 302
    assert signed_in(client)


def test_a_successful_sign_in_does_not_reset_the_address_or_the_account():
    UserFactory(username="mallory")
    UserFactory(username="rita")
    half = limit() // 2
    for n in range(half):
        sign_in(f"someone-{n}", "guess", address="203.0.113.5")
        sign_in("rita", f"guess-{n}", address=f"198.51.100.{n + 1}")

    client, response = sign_in("mallory", PASSWORD, address="203.0.113.5")
    assert signed_in(client)
    client, response = sign_in("rita", PASSWORD, address="192.0.2.70")
    assert signed_in(client)

    for n in range(half, limit()):
        _, by_address = sign_in(f"someone-{n}", "guess", address="203.0.113.5")
        _, by_account = sign_in("rita", f"guess-{n}", address=f"198.51.100.{n + 1}")
    assert_locked(by_address)
    assert_locked(by_account)


def test_pipelines_keep_calling_the_api_with_their_token_during_a_lock(pipeline, api_as):
    for attempt in range(limit()):
        sign_in(pipeline.username, f"guess-{attempt}", address="127.0.0.1")

    api = api_as(pipeline)
    response = api.get("/api/v1/models/", REMOTE_ADDR="127.0.0.1")
    assert response.status_code == 200


def test_signing_in_below_the_limit_works():
    UserFactory(username="rita")
    sign_in("rita", "typo")
    client, response = sign_in("rita", PASSWORD)
    assert response.status_code == 302
    assert signed_in(client)


@pytest.mark.parametrize(
    ("proxies", "forwarded_for", "counted_as"),
    [
        (0, "198.51.100.1", "10.0.0.2"),
        (1, "6.6.6.6, 198.51.100.1", "198.51.100.1"),
        (2, "6.6.6.6, 198.51.100.1, 10.0.0.9", "198.51.100.1"),
        (1, "", "10.0.0.2"),
        (1, "not-an-address", "10.0.0.2"),
    ],
)
def test_behind_trusted_proxies_the_client_address_is_counted(settings, proxies, forwarded_for, counted_as):
    from axes.models import AccessAttempt

    settings.KEEL_TRUSTED_PROXY_COUNT = proxies
    client = Client(REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR=forwarded_for)
    client.post(LOGIN, {"username": "rita", "password": "guess"})

    assert list(AccessAttempt.objects.values_list("ip_address", flat=True)) == [counted_as]
