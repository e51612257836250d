"""A reviewer's walk through the registry pages in a real (headless) browser."""

import pytest

from tests.registry.pages_scenario import upsell_model

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CHANGED_ROW_BACKGROUND = "rgb(255, 246, 214)"  # --changed-bg in keel.css


def shot(page, name: str) -> None:
    # Kept in /tmp so a person (or CI artifact upload) can look at how the pages render.
    page.screenshot(path=f"/tmp/keel-{name}.png", full_page=True)


def test_reviewer_compares_two_versions(live_server, page, sign_in, reviewer, pipeline, second_reviewer):
    upsell_model(owner=reviewer, registered_by=pipeline, mover=second_reviewer)

    page.goto(f"{live_server.url}/models/")
    assert "/accounts/login/" in page.url  # anonymous: sent to the login form first
    shot(page, "login")
    sign_in(reviewer)

    # The model list, where the login lands.
    assert page.url == f"{live_server.url}/models/"
    row = page.locator("tr", has=page.get_by_role("link", name="soom-upsell"))
    assert row.locator(".badge.alias-production").inner_text() == "v2"
    assert "3\xa0days ago" in row.inner_text()
    shot(page, "model-list")

    # The model: its timeline, newest first.
    page.get_by_role("link", name="soom-upsell").click()
    page.wait_for_url("**/models/soom-upsell/")
    timeline = page.locator(".timeline-item")
    assert timeline.count() == 2
    assert timeline.nth(0).locator(".version-number").inner_text() == "v2"
    assert timeline.nth(0).locator(".badge").inner_text() == "production"
    assert "Retrained on fresher signups" in page.locator("table", has_text="Why").inner_text()
    shot(page, "model-detail")

    # Compare v2 against v1 (the reverse of the preselected pair).
    page.get_by_label("Compare version", exact=True).select_option("2")
    page.get_by_label("with version", exact=True).select_option("1")
    page.get_by_role("button", name="Compare").click()
    page.wait_for_url("**/diff/?left=2&right=1*")

    threshold = page.locator("tr.diff-row", has=page.locator("code", has_text="decision_threshold"))
    assert threshold.get_attribute("data-status") == "changed"
    assert threshold.locator("td.value.left").inner_text() == "0.42"
    assert threshold.locator("td.value.right").inner_text() == "0.5"
    assert threshold.evaluate("row => getComputedStyle(row).backgroundColor") == CHANGED_ROW_BACKGROUND
    assert page.locator("tr.diff-row.same").count() > 0
    shot(page, "diff")

    # "Show only differences" keeps the highlighted rows and drops the rest.
    page.get_by_role("link", name="Show only differences").click()
    page.wait_for_url("**changes=1*")
    assert page.locator("tr.diff-row.same").count() == 0
    assert threshold.count() == 1

    # A version's full config.
    page.get_by_role("link", name="v2").first.click()
    page.wait_for_url("**/versions/2/")
    assert page.locator("h2", has_text="Feature schema").is_visible()
    shot(page, "version-detail")


def test_wrong_password_is_shown_on_the_login_form(live_server, page, sign_in, reviewer):
    sign_in(reviewer, password="wrong")
    assert page.get_by_role("alert").is_visible()
    assert "correct username and password" in page.get_by_role("alert").inner_text()
    shot(page, "login-error")


def test_a_bad_compare_link_explains_itself(live_server, page, sign_in, reviewer, pipeline):
    upsell_model(owner=reviewer, registered_by=pipeline)
    sign_in(reviewer)
    page.goto(f"{live_server.url}/models/soom-upsell/diff/?left=1&right=99")
    assert "'99' is not a version of soom-upsell." in page.get_by_role("alert").inner_text()
    assert page.locator("tr.diff-row").count() == 0
    shot(page, "diff-error")
