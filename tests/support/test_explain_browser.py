"""Explaining a decision in a real (headless) browser: an agent looks up a logged customer by ID and
reads why the production model scored them as it did, the waterfall plot included."""

import re

import pytest

from support.models import Explanation

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("one_thread")]

REASON = re.compile(r"^\w+ = .+ (raised|lowered) the score by [0-9.e-]+$")


def shot(page, name: str) -> None:
    # Kept in /tmp so a person (or a CI artifact upload) can look at how the pages render.
    page.screenshot(path=f"/tmp/keel-explain-{name}.png", full_page=True)


def test_an_agent_explains_a_logged_customer_and_sees_the_plot(live_server, page, sign_in, agent, soom):
    customer = soom.by_score()[-1]
    sign_in(agent)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Support").click()
    page.wait_for_url("**/support/")
    page.get_by_role("navigation", name="Support pages").get_by_role("link", name="Explain a decision").click()
    page.wait_for_url("**/support/explain/")
    assert "production version, v1" in page.locator("#explained-model").inner_text()
    assert page.get_by_label("plan").is_visible()  # or type the features, one input each
    page.get_by_label("Customer ID").fill(customer)
    shot(page, "form")
    # The first explanation of a version starts its isolated scorer (about 7 s on an idle machine:
    # imports, shap's kernels, the model): the page answers when it is done.
    page.get_by_role("button", name="Explain", exact=True).click(timeout=60_000)

    explanation = Explanation.objects.get(entity_id=customer)
    page.wait_for_url(f"**/support/explain/{explanation.pk}/")
    assert customer in page.get_by_role("heading", level=1).inner_text()
    assert page.locator("#decision dd").inner_text().strip() == explanation.result["decision"]
    plot = page.locator("img#waterfall")
    plot.scroll_into_view_if_needed()
    page.wait_for_function("image => image.complete && image.naturalWidth > 0", arg=plot.element_handle())
    assert plot.evaluate("image => image.naturalWidth") > 0
    reasons = page.locator("#reasons li").all_inner_texts()
    assert reasons and all(REASON.match(reason) for reason in reasons), reasons
    assert reasons[0] == explanation.result["reasons"][0]
    shot(page, "result")

    # From the explanation to the customer's support history.
    page.locator("#history-link").click()
    page.wait_for_url(f"**/support/history/?entity_type=customer&entity_id={customer}")
