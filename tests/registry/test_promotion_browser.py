"""Promotion governance in a real (headless) browser: a second reviewer approves a retrained model
after looking at its evidence, then rolls production back from the model page."""

import pytest

from registry import selectors
from registry.models import PromotionRequest
from tests.registry.promotion_helpers import holdout_for
from tests.registry.promotion_scenario import gate_fails, gate_passes, soom_upsell, submitted

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def no_real_gate(monkeypatch, settings, tmp_path):
    """These tests hand the gate's evidence in themselves. With real commits the queued gate would
    run at once (Celery is eager in tests) on the fake artifacts and fail the request first."""
    settings.MEDIA_ROOT = tmp_path / "media"
    monkeypatch.setattr("registry.services.promotion._queue_gate", lambda request_id: None)


def shot(page, name: str) -> None:
    page.screenshot(path=f"/tmp/keel-promo-{name}.png", full_page=True)


def loaded(page, selector: str) -> bool:
    """An <img> whose picture actually arrived and decoded (a broken image has naturalWidth 0)."""
    page.wait_for_function(f"document.querySelector('{selector}').complete")
    return page.evaluate(f"document.querySelector('{selector}').naturalWidth") > 0


def test_second_reviewer_approves_then_rolls_back(live_server, page, sign_in, reviewer, second_reviewer, pipeline):
    model, v1, v2, v3 = soom_upsell(owner=reviewer, registered_by=pipeline, mover=second_reviewer)
    holdout = holdout_for(model, pipeline)
    request = gate_passes(submitted(v3, reviewer, holdout=holdout), compared=v2)
    # Other work in the queue: the gate busy on a shadow request, and an earlier canary that failed.
    shadow = submitted(v3, pipeline, alias="shadow", reason="Shadow it for a week")
    PromotionRequest.objects.filter(pk=shadow.pk).update(gate_stage="Scoring candidate v3", gate_progress=0.45)
    gate_fails(submitted(v1, pipeline, alias="canary", holdout=holdout, canary_percent=5, reason="Old model as canary"))

    sign_in(second_reviewer)
    page.get_by_role("link", name="Promotions").click()
    page.wait_for_url("**/promotions/")
    awaiting = page.locator("#awaiting-requests tbody tr")
    assert awaiting.count() == 1 and "rita-reviewer" in awaiting.inner_text()
    assert "Scoring candidate v3 · 45%" in page.locator("#validating-requests").inner_text()
    assert page.locator("#decided-requests .state-validation_failed").count() == 1
    shot(page, "queue")

    awaiting.get_by_role("link", name=f"#{request.pk}").click()
    page.wait_for_url(f"**/promotions/{request.pk}/")
    assert loaded(page, "#plot-curves") and loaded(page, "#plot-prediction-diff") and loaded(page, "#plot-importance")
    assert page.locator("tr[data-metric=log_loss]").get_attribute("class") == "worse"
    assert page.locator(".check.failed").count() == 0
    shot(page, "request")

    # The custom threshold box appears only when "Another value" is picked (CSS, no script).
    custom = page.get_by_label("Custom threshold")
    assert not custom.is_visible()
    page.get_by_label("Another value").check()
    assert custom.is_visible()
    page.get_by_label("Proposed by the gate: 0.37").check()
    page.get_by_label("Comment").fill("AUC up, flips within limits; keep an eye on refund_requested")
    page.get_by_role("button", name="Approve and move production").click()
    page.wait_for_load_state()
    assert page.get_by_text("Approved: production now serves v3.").is_visible()
    assert "Approved by sam-reviewer" in page.locator(".verdict").inner_text()
    assert page.locator(".request-side .state-approved").count() == 1
    shot(page, "approved")
    assert selectors.alias_map(model)["production"] == v3

    # Something is off in production: back to v2, from the model page.
    page.get_by_role("link", name="soom-upsell").first.click()
    page.wait_for_url("**/models/soom-upsell/")
    serving = page.locator(".serving-panel")
    assert "v3" in serving.locator(".slot", has_text="production").inner_text()
    page.get_by_label("Roll production back to").select_option("2")
    page.get_by_label("Why?").fill("Support reports wrong upsell offers since the switch")
    page.get_by_role("button", name="Roll back now").click()
    page.wait_for_url("**/models/soom-upsell/#serving")
    assert page.get_by_text("Production rolled back to v2.").is_visible()
    assert "v2" in serving.locator(".slot", has_text="production").inner_text()
    shot(page, "model-after-rollback")
    assert PromotionRequest.objects.get(pk=request.pk).state == "rolled_back"


def test_submitter_asks_for_a_canary_and_sees_why_validation_failed(
    live_server, page, sign_in, reviewer, second_reviewer, pipeline
):
    model, v1, v2, v3 = soom_upsell(owner=reviewer, registered_by=pipeline, mover=second_reviewer)
    holdout = holdout_for(model, pipeline)
    sign_in(reviewer)
    page.goto(f"{live_server.url}/models/soom-upsell/")
    page.get_by_role("link", name="Request promotion").click()
    page.wait_for_url("**/promotions/new/")
    percent = page.get_by_label("Canary traffic (%)")
    assert not percent.is_visible()  # only a canary takes a share of traffic
    page.get_by_label("canary — Takes a small share").check()
    assert percent.is_visible()
    page.get_by_role("button", name="Submit for validation").click()
    page.wait_for_load_state()
    assert page.get_by_text("A canary needs its share of traffic, 1–50%.").is_visible()
    assert page.get_by_text("Say why this version should serve; reviewers read it.").is_visible()
    shot(page, "request-form-errors")

    percent.fill("10")
    page.get_by_label("Hold-out dataset").select_option(str(holdout.pk))
    page.get_by_label("Why should it serve?").fill("Try the retrained model on 10% of signups first")
    page.get_by_role("button", name="Submit for validation").click()
    page.wait_for_url("**/promotions/*/")
    request = PromotionRequest.objects.get()
    assert page.locator("meta[http-equiv=refresh]").count() == 1
    assert page.get_by_role("progressbar").is_visible()
    assert page.get_by_text("You submitted this; another reviewer must approve it.").is_visible()
    shot(page, "validating")

    gate_fails(request)  # nothing served as canary when the gate ran
    page.reload()
    assert page.get_by_text("Validation failed — this request cannot be approved").is_visible()
    assert page.locator(".check.failed").count() == 1
    assert page.locator("meta[http-equiv=refresh]").count() == 0
    shot(page, "validation-failed")

    page.goto(f"{live_server.url}/models/soom-upsell/policy/")
    shot(page, "policy")
