"""A lead in a real (headless) browser: two labellers disagreed on an item; the lead opens the
campaign's disputes, reads both answers and the model's prediction, decides with the keyboard, and
the item leaves the list, settled with the lead's label."""

import pytest

from audits import selectors
from tests.audits.relabel_app.lead_scenario import work

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_lead_adjudicates_a_disagreement_with_the_keyboard(
    live_server, page, sign_in, drawn, reviewer, labeller, second_labeller
):
    campaign = drawn(design={"kind": "uniform", "size": 2}, overlap_share=1.0, overlap_labels=2)
    first, second = work(campaign, labeller, ["churn", "stay"], seconds=[4, 6])
    work(campaign, second_labeller, ["stay", "stay"])

    sign_in(reviewer)
    page.goto(f"{live_server.url}/relabel/{campaign.pk}/adjudicate/")
    dispute = page.locator(f"#dispute-{first.pk}")
    assert page.locator(".dispute").count() == 1
    assert "lou-labeller" in dispute.inner_text() and "lee-labeller" in dispute.inner_text()
    assert dispute.locator(".predicted").inner_text() == first.prediction.label
    page.screenshot(path="/tmp/keel-relabel-adjudicate.png", full_page=True)

    # "n" writes the note; out of the field again, "1" decides with the first label (churn).
    page.keyboard.press("n")
    page.keyboard.type("asked the account manager")
    page.locator("h1").click()
    with page.expect_navigation():
        page.keyboard.press("1")
    assert "decided: churn" in page.locator(".messages").inner_text()
    assert page.locator(".dispute").count() == 0
    assert page.locator("#no-disputes").is_visible()

    resolution = selectors.campaign_resolutions(campaign)[first.pk]
    assert (resolution.source, resolution.label) == ("adjudicated", "churn")
    assert first.adjudications.get().note == "asked the account manager"

    page.get_by_role("link", name="Team").click()
    tiles = " ".join(page.locator("#agreement").inner_text().split())
    assert "Disputed 0" in tiles and "Adjudicated 1" in tiles
    assert page.locator("#labellers tbody tr").count() == 2
    page.screenshot(path="/tmp/keel-relabel-team.png", full_page=True)
