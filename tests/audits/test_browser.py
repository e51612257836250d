"""Data audits in a real (headless) browser: a reviewer finds the week-32 batch that failed, reads
why, and looks at the pictures."""

import pytest

from tests.audits.pages_scenario import profiling

# The story's fixtures are in tests/audits/conftest.py; uploads go to a temporary MEDIA_ROOT.
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("media")]


def shot(page, name: str) -> None:
    # Kept in /tmp so a person (or a CI artifact upload) can look at how the pages render.
    page.screenshot(path=f"/tmp/keel-audit-{name}.png", full_page=True)


def loaded(page, selector: str) -> bool:
    """An <img> whose picture actually arrived and decoded (a broken image has naturalWidth 0)."""
    image = page.locator(selector)
    image.scroll_into_view_if_needed()  # lazy pictures load only near the viewport
    page.wait_for_function("image => image.complete && image.naturalWidth > 0", arg=image.element_handle())
    return image.evaluate("image => image.naturalWidth") > 0


def test_reviewer_finds_the_failing_batch_and_sees_why(
    live_server, page, sign_in, reviewer, pipeline, soom, history, festival, alerts, suite
):
    model, _, v3 = soom
    profiling(model, v3, pipeline, "signups week 33", rows_done=610)

    sign_in(reviewer)
    page.get_by_role("link", name="Audits").click()
    page.wait_for_url("**/audits/")
    assert page.locator("#open-alerts tbody tr").count() == 2
    assert page.locator("#open-alerts tbody tr").first.locator(".severity").inner_text().lower() == "fail"
    assert page.locator(".trend .trend-square").count() == 4
    assert "Profiling · 610 of 1,000 rows · 61%" in page.locator("#audit-table").inner_text()
    shot(page, "list")

    page.locator("#audit-table").get_by_role("link", name="signups week 32").click()
    page.wait_for_url(f"**/audits/{festival.pk}/")
    assert page.locator(".report-verdict").inner_text().strip().lower() == "✗ fail"
    failing = page.locator("section[aria-labelledby=failing-h] .finding")
    assert failing.count() == 2 and "festival" in failing.first.inner_text()
    warning = page.locator("section[aria-labelledby=warnings-h] .finding")
    assert "effect size sets the status" in warning.inner_text()
    # The passed checks are folded away until asked for.
    passed = page.locator(".passed-checks .finding").first
    assert not passed.is_visible()
    page.get_by_text("2 checks passed").click()
    assert passed.is_visible()

    assert loaded(page, "#plot-nulls")
    assert loaded(page, "figure[data-column=event_type] img")
    assert loaded(page, "figure[data-column=meeting_minutes] img")
    assert loaded(page, "figure[data-column=plan] img")
    shot(page, "report")

    # Festivals are a real kind of event now: the reviewer allows the value in the suite.
    page.get_by_role("link", name="soom-upsell's audit suite").click()
    page.wait_for_url("**/audits/suites/soom-upsell/")
    page.get_by_text("Edit the rules of event_type").click()
    allowed = page.locator("#id_event_type_allowed_values")
    allowed.fill(allowed.input_value() + "\nfestival")
    page.get_by_role("button", name="Save event_type").click()
    page.wait_for_load_state()
    assert page.get_by_text("The rules of event_type saved.").is_visible()
    assert "festival" in page.locator("tr[data-column=event_type]").inner_text()
    shot(page, "suite")

    page.goto(f"{live_server.url}/audits/new/?model=soom-upsell")
    page.get_by_role("button", name="Start the audit").click()
    page.wait_for_load_state()
    assert page.get_by_text("Upload a file or give a storage path (one of the two).").is_visible()
    shot(page, "new")
