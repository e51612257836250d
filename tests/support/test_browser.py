"""Support lists in a real (headless) browser: an agent blacklists a customer, boosts a new product,
uploads a CSV of IDs, reads the preview and confirms it, lifts the boost early, and finds all of it
in the IDs' histories and the recent changes."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from support.models import BulkUpload, ListEntry

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def shot(page, name: str) -> None:
    # Kept in /tmp so a person (or a CI artifact upload) can look at how the pages render.
    page.screenshot(path=f"/tmp/keel-support-{name}.png", full_page=True)


def preview_fraud_ring(page, ids: bytes) -> None:
    """From the bulk upload page: a CSV of product IDs to blacklist for fraud, up to its preview."""
    page.get_by_role("navigation", name="Support pages").get_by_role("link", name="Bulk upload").click()
    page.wait_for_url("**/support/bulk/")
    page.get_by_label("CSV of IDs").set_input_files(
        files=[{"name": "fraud-ring.csv", "mimeType": "text/csv", "buffer": ids}]
    )
    page.get_by_label("Entity type").select_option("product")
    page.get_by_label("Reason").select_option("fraud")
    page.get_by_role("button", name="Preview").click()
    page.wait_for_url(re.compile(r".*/support/bulk/\d+/$"))


def test_an_agent_blacklists_boosts_uploads_and_reads_the_history(live_server, page, sign_in, agent, surfaces):
    sign_in(agent)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Support").click()
    page.wait_for_url("**/support/")
    assert page.get_by_role("search", name="Search an ID").is_visible()
    shot(page, "home-empty")

    # Blacklist a customer on the home page only, for three days.
    page.get_by_role("link", name="Blacklist an ID").click()
    page.wait_for_url("**/support/blacklist/")
    surface_box = page.get_by_label("home — Recommendations on home")
    assert not surface_box.is_visible()  # surfaces show once "ticked below" is picked
    page.get_by_label("Entity type").select_option("customer")
    page.get_by_label("ID", exact=True).fill("cust-42")
    page.get_by_label("Fraud", exact=True).check()
    page.get_by_label("In your words").fill("Chargebacks on three cards")
    page.get_by_label("Only the surfaces ticked below").check()
    surface_box.check()
    until = timezone.localtime(timezone.now() + timedelta(days=3)).strftime("%Y-%m-%dT%H:%M")
    page.get_by_label(re.compile(r"^Expires")).fill(until)
    shot(page, "blacklist-form")
    page.get_by_role("button", name="Blacklist", exact=True).click()
    page.wait_for_url("**/support/history/?entity_type=customer&entity_id=cust-42")
    assert page.get_by_text("Blacklisted customer cust-42 on home until").is_visible()
    active = page.locator("#active-entries tbody tr")
    assert active.count() == 1 and "Chargebacks on three cards" in active.inner_text()

    # Boost a new product everywhere, with the default expiry of two weeks.
    page.get_by_role("navigation", name="Support pages").get_by_role("link", name="Boost").click()
    page.wait_for_url("**/support/boost/")
    expiry = page.get_by_label(re.compile(r"^Expires")).input_value()
    assert expiry.startswith(timezone.localtime(timezone.now() + timedelta(days=14)).strftime("%Y-%m-%d"))
    page.get_by_label("Entity type").select_option("product")
    page.get_by_label("ID", exact=True).fill("new-sku-7")
    page.get_by_label("Weight").fill("2.5")
    page.get_by_role("button", name="Boost", exact=True).click()
    page.wait_for_url("**/support/history/?entity_type=product&entity_id=new-sku-7")
    assert page.get_by_text("Boosted product new-sku-7 with weight 2.5 on all surfaces until").is_visible()

    # A CSV of IDs: preview first (nothing written), then confirm.
    preview_fraud_ring(page, b"sku-100\nsku-101\nsku-100\nbad id\n")
    tiles = page.locator("#bulk-counts")
    assert tiles.locator("[data-status=new] dd").inner_text() == "2"
    assert tiles.locator("[data-status=duplicate] dd").inner_text() == "1"
    assert tiles.locator("[data-status=invalid] dd").inner_text() == "1"
    assert page.locator("#bulk-rows tbody tr").first.get_attribute("data-status") == "invalid"  # problems first
    assert page.get_by_role("button", name=re.compile("Confirm")).count() == 0  # all or nothing
    assert not ListEntry.objects.filter(bulk__isnull=False).exists()
    shot(page, "bulk-invalid")

    preview_fraud_ring(page, b"sku-100\nsku-101\nsku-100\n")
    assert [row.get_attribute("data-status") for row in page.locator("#bulk-rows tbody tr").all()] == [
        "duplicate",
        "new",
        "new",
    ]
    assert page.get_by_text("preview — nothing written yet").is_visible()
    shot(page, "bulk-preview")
    page.get_by_role("button", name="Confirm and apply 2 IDs").click()
    page.wait_for_load_state()
    bulk = BulkUpload.objects.latest("pk")
    assert page.get_by_text(f"Blacklisted 2 IDs on all surfaces (bulk upload #{bulk.pk}).").is_visible()
    assert page.locator("#bulk-state").inner_text() == "applied"
    assert page.get_by_role("button", name=re.compile("Confirm")).count() == 0
    assert ListEntry.objects.filter(bulk=bulk).count() == 2
    shot(page, "bulk-applied")

    # The boost ends early, with a reason.
    page.goto(f"{live_server.url}/support/history/?entity_type=product&entity_id=new-sku-7")
    page.get_by_label(re.compile(r"Why lift #\d+ early")).fill("Product withdrawn")
    page.get_by_role("button", name="Lift").click()
    page.wait_for_load_state()
    assert page.get_by_text("no longer applies").is_visible()
    history = page.locator("#history")
    assert [e.get_attribute("class").split("action-")[1] for e in history.locator("li").all()] == ["lifted", "boosted"]
    assert "Product withdrawn" in history.inner_text() and "ada-agent" in history.inner_text()

    # Every ID's history has what happened to it; the search goes straight to an exact ID.
    page.goto(f"{live_server.url}/support/")
    page.get_by_role("searchbox").fill("cust-42")
    page.get_by_role("button", name="Search").click()
    page.wait_for_url("**/support/history/?entity_type=customer&entity_id=cust-42")
    event = page.locator("#history li").first
    assert "Blacklisted" in event.inner_text() and "on home" in event.inner_text()
    assert "Fraud — Chargebacks on three cards" in event.inner_text() and "ada-agent" in event.inner_text()

    page.goto(f"{live_server.url}/support/search/?q=sku-10")
    assert page.locator("#search-results tbody tr").count() == 2
    page.get_by_role("link", name="sku-101").click()
    assert f"bulk upload #{bulk.pk}" in page.locator("#history").inner_text()

    page.get_by_role("link", name="Support", exact=True).first.click()
    page.wait_for_url("**/support/")
    changes = page.locator("#recent-changes tbody tr")
    assert [row.get_attribute("class") for row in changes.all()] == [
        "action-lifted",
        "action-bulk_applied",
        "action-boosted",
        "action-blacklisted",
    ]
    shot(page, "home")
