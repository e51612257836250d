"""A labeller in a real (headless) browser labels a campaign with the keyboard only: digits choose a
label, `u` unsure, Enter submits, ← goes back to re-answer; progress and the live estimate follow."""

import pytest

from audits.models import RelabelAnswer

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def shot(page, name: str) -> None:
    page.screenshot(path=f"/tmp/keel-relabel-{name}.png", full_page=True)


def card(page) -> int:
    return int(page.locator("#card").get_attribute("data-item"))


def submit_with(page, *keys: str) -> None:
    """Press the keys on the card, the last one submitting it, and wait for the next page."""
    with page.expect_navigation():
        for key in keys:
            page.keyboard.press(key)


def test_a_labeller_labels_with_the_keyboard_only_and_sees_progress_and_estimate(
    live_server, page, sign_in, labeller, drawn
):
    campaign = drawn(design={"kind": "uniform", "size": 4}, name="November check")
    sign_in(labeller)
    page.get_by_role("link", name="Relabel").click()
    page.wait_for_url("**/relabel/")
    assert "4 items left for you" in page.locator(f"[data-campaign='{campaign.pk}']").inner_text()
    page.get_by_role("link", name="Start labelling").click()
    page.wait_for_url(f"**/relabel/{campaign.pk}/label/")
    assert page.locator("#answers-given").inner_text() == "0 of 4"
    assert "No estimate yet" in page.locator("#estimate").inner_text()
    assert page.locator("#features tbody tr").count() == 2
    shot(page, "card")

    # Enter with no label chosen sends nothing.
    first = card(page)
    page.keyboard.press("Enter")
    assert page.locator("#answer-form.needs-label").count() == 1 and card(page) == first

    # 1 then Enter: churn.
    submit_with(page, "1", "Enter")
    second = card(page)
    assert second != first
    assert page.locator("#answers-given").inner_text() == "1 of 4"
    assert page.locator("#my-count").inner_text() == "1 answered · 3 left for you"
    assert "Your last answer: churn — 1 of 1 agree" in page.locator("#last-answer").inner_text()
    assert "from 1 settled item" in page.locator("#estimate").inner_text()
    assert "Accuracy" in page.locator("#estimate-accuracy").inner_text()

    # u then Enter: unsure (alone, it settles nothing: a lead decides).
    submit_with(page, "u", "Enter")
    third = card(page)
    assert page.locator("#answers-given").inner_text() == "2 of 4"
    assert "from 1 settled item" in page.locator("#estimate").inner_text()

    # ← back to the unsure one, n for a note, 2 (stay) and Enter: the new answer replaces it.
    with page.expect_navigation():
        page.keyboard.press("ArrowLeft")
    assert card(page) == second
    assert "You answered unsure" in page.locator("#my-answer").inner_text()
    page.keyboard.press("2")
    page.keyboard.press("n")
    page.keyboard.type("looked again")
    shot(page, "back")
    submit_with(page, "Enter")
    assert card(page) == third  # back to the item still held
    assert page.locator("#answers-given").inner_text() == "2 of 4"
    assert "from 2 settled items" in page.locator("#estimate").inner_text()

    # 2 then Enter twice more: the queue is empty for this labeller.
    submit_with(page, "2", "Enter")
    submit_with(page, "1", "Enter")
    assert page.get_by_role("heading", name="Nothing left for you in this campaign").is_visible()
    assert page.locator("#answers-given").inner_text() == "4 of 4"
    assert "from 4 settled items" in page.locator("#estimate").inner_text()
    shot(page, "done")

    latest = {a.item_id: a for a in RelabelAnswer.objects.filter(labeller=labeller).order_by("pk")}
    assert [latest[pk].label for pk in (first, second, third)] == ["churn", "stay", "stay"]
    assert latest[second].note == "looked again"
    assert all(answer.seconds is not None for answer in latest.values())
