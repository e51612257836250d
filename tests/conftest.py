"""Named actors and clients shared by every test module.

The actors are the people of DESIGN.md: a reviewer and a second reviewer, a pipeline (token), a
support agent, a labeller, and an outsider who has an account but no Keel role. The browser tests'
fixtures (`browser`, `page`, `sign_in`) are at the end: headless Debian Chromium against Django's live
server, never a downloaded browser (KEEL_CHROMIUM overrides the path).
"""

import os

import pytest
from django.test import Client
from django.utils.crypto import get_random_string
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from mlops import roles
from tests.factories import UserFactory


def pytest_configure(config):
    from django.conf import settings

    # Real hashing costs ~0.3 s a user; tests make hundreds of users and check roles, not hashes.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _tasks_in_process_unless_integration(request):
    """Unit tests run Celery tasks in-process even when REDIS_URL is set (./run test); only the
    integration tests talk to the real worker. The Redis cache is emptied so tests stay independent."""
    from django.core.cache import cache

    from mlops.celery import app

    if request.node.get_closest_marker("integration"):
        yield
        return
    eager = app.conf.task_always_eager
    app.conf.task_always_eager = True
    cache.clear()
    yield
    app.conf.task_always_eager = eager


def actor_fixture(username, *groups):
    """A fixture for one named actor: the user `username` in the given role groups."""

    @pytest.fixture
    def actor(db):
        return UserFactory(username=username, groups=list(groups))

    return actor


reviewer = actor_fixture("rita-reviewer", roles.REVIEWERS)
second_reviewer = actor_fixture("sam-reviewer", roles.REVIEWERS)
pipeline = actor_fixture("nightly-pipeline", roles.PIPELINES)
agent = actor_fixture("ada-agent", roles.SUPPORT_AGENTS)
labeller = actor_fixture("lou-labeller", roles.LABELLERS)
outsider = actor_fixture("olly-outsider")


@pytest.fixture
def media(settings, tmp_path):
    """Stored files go under the test's own folder; returns that MEDIA_ROOT."""
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def client_as():
    """client_as(user): Django's test client signed in as that user, for the page tests."""

    def make(user) -> Client:
        client = Client()
        client.force_login(user)
        return client

    return make


@pytest.fixture
def anonymous_api():
    return APIClient()


@pytest.fixture
def api_as():
    """api_as(user): an API client for that user — token auth for pipelines, session auth with
    CSRF checks for people, as each really signs in."""

    def make(user) -> APIClient:
        client = APIClient(enforce_csrf_checks=True)
        if user.groups.filter(name=roles.PIPELINES).exists():
            token, _ = Token.objects.get_or_create(user=user)
            client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
        else:
            client.force_login(user)
            # A browser sends the CSRF cookie back as a header; so does this client.
            csrf = get_random_string(32)
            client.cookies["csrftoken"] = csrf
            client.credentials(HTTP_X_CSRFTOKEN=csrf)
        return client

    return make


# --- browser tests: Playwright driving the system Chromium -----------------------------------------

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def browser():
    """One Chromium per test module. Module scope, not session: the flag below must not outlive the
    browser tests (subprocesses such as `manage.py check --deploy` inherit the environment)."""
    from playwright.sync_api import sync_playwright

    with pytest.MonkeyPatch.context() as patch:
        # Playwright's sync API runs an event loop in this thread; Django would then refuse ORM calls
        # from the test body, though nothing here is actually concurrent.
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        playwright = sync_playwright().start()
        try:
            chromium = playwright.chromium.launch(
                executable_path=os.environ.get("KEEL_CHROMIUM", "/usr/bin/chromium"), args=CHROMIUM_ARGS
            )
            yield chromium
            chromium.close()
        finally:
            playwright.stop()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1360, "height": 900})
    context.set_default_timeout(10_000)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def sign_in(page, live_server):
    """sign_in(user): log in through the real login form, as a person does."""

    def sign_in_as(user, password: str = "correct-horse-battery"):
        page.goto(f"{live_server.url}/accounts/login/")
        page.get_by_label("Username").fill(user.get_username())
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_load_state()
        return page

    return sign_in_as
