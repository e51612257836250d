"""What serves after approvals and rollbacks: every entry of the serving config carries the threshold a
reviewer approved for that version in that role; rollback targets come with their history, a version that
was rolled back is never preselected, never the fallback, and comes back only with a confirmation; the
promotion lists name whoever took the action they show."""

import re

import pytest

from registry import selectors, services
from tests.registry.promotion_helpers import approved, holdout_for, model_with_versions

# v4's own threshold is 0.22242; the gate proposed 0.1987 for it and the reviewer approved that.
REGISTERED = (0.5, 0.45, 0.41, 0.22242)


@pytest.fixture
def upsell(db, reviewer):
    return model_with_versions(owner=reviewer, count=4, thresholds=REGISTERED)


@pytest.fixture
def holdout(upsell, pipeline):
    return holdout_for(upsell, pipeline)


def v(model, number):
    return model.versions.get(version=number)


def promote(model, number, actor, approver, holdout, threshold, **extra):
    request = services.promotion_request_create(
        version=v(model, number), actor=actor, reason=f"v{number} retrained", holdout=holdout, **extra
    )
    return approved(request, approver, threshold=threshold)


@pytest.fixture
def v4_rolled_back(upsell, holdout, pipeline, reviewer, second_reviewer):
    """v1 served at 0.4; second_reviewer approved v4 at the gate's 0.1987; reviewer rolled back to v1."""
    promote(upsell, 1, pipeline, second_reviewer, holdout, 0.4)
    v4 = promote(upsell, 4, pipeline, second_reviewer, holdout, 0.1987)
    services.promotion_rollback(
        model=upsell, to_version=v(upsell, 1), actor=reviewer, reason="v4 doubles the outreach list"
    )
    return v4


def test_every_serving_entry_carries_the_threshold_approved_for_its_role(api_as, pipeline, reviewer, upsell, holdout):
    promote(upsell, 1, pipeline, reviewer, holdout, 0.4)
    promote(upsell, 2, pipeline, reviewer, holdout, 0.3)
    shadow = services.promotion_request_create(
        version=v(upsell, 3), actor=pipeline, reason="watch", target_alias="shadow"
    )
    approved(shadow, reviewer, threshold=0.35)
    promote(upsell, 4, pipeline, reviewer, holdout, 0.1987, target_alias="canary", canary_percent=5)

    serving = api_as(pipeline).get("/api/v1/models/upsell/serving").json()

    assert {
        role: (serving[role]["version"], serving[role]["threshold"])
        for role in serving
        if role in ("production", "fallback", "shadow", "canary")
    } == {"production": (2, 0.3), "fallback": (1, 0.4), "shadow": (3, 0.35), "canary": (4, 0.1987)}


def test_a_version_restored_after_its_rollback_serves_its_approved_threshold(
    api_as, pipeline, reviewer, upsell, v4_rolled_back
):
    services.promotion_rollback(
        model=upsell,
        to_version=v(upsell, 4),
        actor=reviewer,
        reason="outreach list fixed upstream",
        confirm_rolled_back=True,
    )

    serving = api_as(pipeline).get("/api/v1/models/upsell/serving").json()

    assert (serving["production"]["version"], serving["production"]["threshold"]) == (4, 0.1987)
    assert (serving["fallback"]["version"], serving["fallback"]["threshold"]) == (1, 0.4)


def test_the_fallback_is_never_a_rolled_back_version(api_as, client_as, pipeline, reviewer, upsell, v4_rolled_back):
    serving = api_as(pipeline).get("/api/v1/models/upsell/serving").json()
    assert (serving["production"]["version"], serving["production"]["threshold"]) == (1, 0.4)
    assert serving["fallback"] is None

    page = client_as(reviewer).get("/models/upsell/").content.decode()
    panel = re.sub(r"\s+", " ", page[page.index('id="serving-h"') : page.index("panel-links")])
    assert 'v1</a> <span class="muted">threshold 0.4</span>' in panel
    assert "v4" not in panel and "0.22242" not in panel


def test_rollback_targets_come_with_their_history_and_skip_rolled_back_versions(
    client_as, reviewer, second_reviewer, upsell, v4_rolled_back
):
    assert selectors.rollback_targets(upsell) == []
    (v4,) = selectors.rollback_targets(upsell, include_rolled_back=True)
    assert (v4.version.version, v4.approved_by, v4.rolled_back_by) == (4, second_reviewer, reviewer)
    assert v4.rolled_back and "v4 doubles the outreach list" in v4.rolled_back_reason

    page = client_as(reviewer).get("/models/upsell/").content.decode()
    history = re.sub(r"\s+", " ", page[page.index("rollback-targets") : page.index("Roll back now")])
    assert f"approved by {second_reviewer.username}" in history
    assert f"by {reviewer.username}" in history and "v4 doubles the outreach list" in history
    assert "selected>v4" not in history.replace('"', "")
    assert "Yes, restore a version that was rolled back" in history


def test_the_api_lists_rollback_targets_with_their_history(api_as, pipeline, reviewer, second_reviewer, v4_rolled_back):
    api = api_as(pipeline)
    assert api.get("/api/v1/models/upsell/rollback").json() == []
    (v4,) = api.get("/api/v1/models/upsell/rollback?include_rolled_back=true").json()
    assert (v4["version"], v4["approved_by"], v4["rolled_back"], v4["rolled_back_by"]) == (
        4,
        second_reviewer.username,
        True,
        reviewer.username,
    )
    assert "v4 doubles the outreach list" in v4["rolled_back_reason"] and v4["approved_at"] and v4["rolled_back_at"]
    refused = api.get("/api/v1/models/upsell/rollback?include_rolled_back=maybe")
    assert refused.status_code == 400 and "include_rolled_back" in refused.json()["detail"]


def test_restoring_a_rolled_back_version_needs_a_confirmation_and_a_reason(
    api_as, client_as, reviewer, upsell, v4_rolled_back
):
    refused = api_as(reviewer).post(
        "/api/v1/models/upsell/rollback", {"version": 4, "reason": "try again"}, format="json"
    )
    assert refused.status_code == 409
    assert "v4 doubles the outreach list" in refused.json()["detail"]["confirm_rolled_back"][0]
    no_reason = api_as(reviewer).post(
        "/api/v1/models/upsell/rollback", {"version": 4, "confirm_rolled_back": True}, format="json"
    )
    assert no_reason.status_code == 400 and "reason" in no_reason.json()["detail"]

    form = client_as(reviewer).post("/models/upsell/rollback/", {"version": 4, "reason": "try again"})
    assert form.status_code == 400 and "tick the box" in form.content.decode()
    assert selectors.alias_map(upsell)["production"].version == 1

    confirmed = api_as(reviewer).post(
        "/api/v1/models/upsell/rollback",
        {"version": 4, "reason": "fixed upstream", "confirm_rolled_back": True},
        format="json",
    )
    assert confirmed.status_code == 200 and confirmed.json()["production"]["version"] == 4


def test_the_queue_names_who_rolled_back_not_who_approved(client_as, reviewer, second_reviewer, v4_rolled_back):
    page = client_as(reviewer).get("/promotions/").content.decode()
    row = re.sub(r"\s+", " ", page[page.index(f"#{v4_rolled_back.pk}<") :].split("</tr>")[0])
    assert f'rolled back</span> <span class="muted">by {reviewer.username}</span>' in row
    assert second_reviewer.username not in row
