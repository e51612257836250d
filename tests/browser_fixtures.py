"""Playwright fixtures for browser tests: headless Debian Chromium against Django's live server.

Import the fixtures into a test module (`from tests.browser_fixtures import browser, page, sign_in`).
Never downloads a browser: it drives the system Chromium (KEEL_CHROMIUM overrides the path).
"""

import os

import pytest

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
                executable_path=os.environ.get("KEEL_CHROMIUM", "/usr/bin/chromium"), args=CHROMIUM_ARGS)
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
