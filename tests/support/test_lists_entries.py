"""An agent handles complaints one ID at a time: blacklists with a reason and a scope, temporary
boosts, lifting early with a reason; conflicts are refused naming the entry in the way; nothing is
ever deleted, and an ID's history shows every action with who, when and why."""

from datetime import timedelta

import pytest
from django.contrib import admin
from django.db import IntegrityError, connection, transaction
from django.test import RequestFactory
from django.utils import timezone

from mlops.errors import ApplicationError
from support import selectors, services
from support.models import EntryKind, EntryState, ListEntry, PrivacyRequest
from tests.factories import BlacklistEntryFactory, BoostEntryFactory

BLACKLIST = "/api/v1/support/blacklist"
BOOSTS = "/api/v1/support/boosts"


def later(**delta):
    return timezone.now() + timedelta(**delta)


@pytest.fixture
def agent_api(api, agent):
    return api(agent)


def test_an_agent_blacklists_a_product_on_named_surfaces_until_a_date(surfaces, agent, agent_api):
    until = later(days=30)
    response = agent_api.post(
        BLACKLIST,
        {
            "entity_type": "product",
            "entity_id": "sku-42",
            "reason": "inappropriate",
            "note": "Shown next to children's books",
            "surfaces": ["search", "home"],
            "expires_at": until.isoformat(),
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["kind"] == "blacklist" and body["state"] == "active"
    assert body["surfaces"] == ["home", "search"] and body["all_surfaces"] is False
    assert body["created_by"] == "ada-agent" and body["reason"] == "inappropriate"
    entry = ListEntry.objects.get(pk=body["id"])
    assert sorted(s.name for s in entry.surfaces.all()) == ["home", "search"]
    assert entry.expires_at == until


def test_a_blacklist_needs_a_known_reason_a_scope_and_a_future_expiry(surfaces, agent_api):
    base = {"entity_type": "product", "entity_id": "sku-1", "reason": "fraud", "all_surfaces": True}
    cases = [
        ({"reason": "bored"}, "reason"),
        ({"reason": "other"}, "note"),  # 'other' must say why
        ({"all_surfaces": False}, "surfaces"),
        ({"surfaces": ["home"]}, "surfaces"),  # both all and named
        ({"all_surfaces": False, "surfaces": ["checkout"]}, "surfaces"),
        ({"expires_at": (timezone.now() - timedelta(minutes=1)).isoformat()}, "expires_at"),
        ({"entity_type": "store"}, "entity_type"),
        ({"entity_id": "sku 1"}, "entity_id"),
    ]
    for change, field in cases:
        response = agent_api.post(BLACKLIST, {**base, **change}, format="json")
        assert response.status_code == 400, change
        assert field in response.json()["detail"], (change, response.json())
    assert not ListEntry.objects.exists()
    assert (
        agent_api.post(BLACKLIST, {**base, "reason": "other", "note": "Supplier dispute"}, format="json").status_code
        == 201
    )


def test_the_kinds_of_id_are_a_deployment_setting(surfaces, agent_api, settings):
    settings.KEEL_SUPPORT_ENTITY_TYPES = ["customer", "product", "store"]
    response = agent_api.post(
        BLACKLIST,
        {"entity_type": "store", "entity_id": "berlin-3", "reason": "legal", "all_surfaces": True},
        format="json",
    )
    assert response.status_code == 201


def test_privacy_is_not_a_plain_blacklist_reason(surfaces, agent):
    with pytest.raises(ApplicationError, match="privacy request"):
        services.blacklist_add(
            actor=agent, entity_type="customer", entity_id="cust-1", reason="privacy", all_surfaces=True
        )


def test_a_boost_is_temporary_and_weighed_within_limits(surfaces, agent_api, settings):
    settings.KEEL_SUPPORT_BOOST_MAX_DAYS = 30
    settings.KEEL_SUPPORT_BOOST_MIN_WEIGHT, settings.KEEL_SUPPORT_BOOST_MAX_WEIGHT = 0.5, 5
    base = {
        "entity_type": "product",
        "entity_id": "sku-new",
        "weight": 2,
        "reason": "cold_start",
        "surfaces": ["home"],
        "expires_at": later(days=14).isoformat(),
    }
    for change, field in [
        ({"expires_at": None}, "expires_at"),
        ({"expires_at": later(days=31).isoformat()}, "expires_at"),
        ({"weight": 6}, "weight"),
        ({"weight": 0.1}, "weight"),
        ({"reason": "fraud"}, "reason"),
    ]:
        response = agent_api.post(BOOSTS, {**base, **change}, format="json")
        assert response.status_code == 400, change
        assert field in response.json()["detail"], (change, response.json())
    created = agent_api.post(BOOSTS, base, format="json")
    assert created.status_code == 201
    assert created.json()["weight"] == 2.0 and created.json()["kind"] == "boost"


def test_cold_start_boosts_last_two_weeks_by_default():
    now = timezone.now()
    assert services.boost_default_expiry(now) == now + timedelta(days=14)


def test_boosting_a_blacklisted_id_where_scopes_overlap_is_refused_naming_the_blacklist(surfaces, agent_api, commit):
    with commit():
        blacklist = BlacklistEntryFactory(entity_id="sku-1", surfaces=["home", "search"], reason="fraud")
    boost = {
        "entity_type": "product",
        "entity_id": "sku-1",
        "weight": 2,
        "reason": "account_request",
        "expires_at": later(days=7).isoformat(),
    }
    response = agent_api.post(BOOSTS, {**boost, "surfaces": ["search"]}, format="json")
    assert response.status_code == 409
    body = response.json()
    assert f"entry #{blacklist.pk}" in body["message"] and "blacklisted" in body["message"]
    assert body["detail"]["existing_entry"] == [str(blacklist.pk)]
    # On a surface the blacklist does not cover, the boost is fine.
    assert agent_api.post(BOOSTS, {**boost, "surfaces": ["email"]}, format="json").status_code == 201


def test_blacklisting_an_id_already_blacklisted_on_the_same_scope_is_refused(surfaces, agent_api, commit):
    with commit():
        existing = BlacklistEntryFactory(entity_id="sku-1", all_surfaces=True, reason="legal")
    response = agent_api.post(
        BLACKLIST,
        {"entity_type": "product", "entity_id": "sku-1", "reason": "fraud", "all_surfaces": True},
        format="json",
    )
    assert response.status_code == 409
    assert f"entry #{existing.pk}" in response.json()["message"]
    assert "already blacklisted" in response.json()["message"]
    # A narrower scope is a different entry (it may outlive the broad one).
    assert (
        agent_api.post(
            BLACKLIST,
            {"entity_type": "product", "entity_id": "sku-1", "reason": "fraud", "surfaces": ["home"]},
            format="json",
        ).status_code
        == 201
    )


def test_two_boosts_for_one_id_on_one_surface_are_refused(surfaces, agent, commit):
    with commit():
        first = BoostEntryFactory(entity_id="sku-1", surfaces=["home", "email"])
    with pytest.raises(ApplicationError, match=f"entry #{first.pk}") as refused:
        BoostEntryFactory(actor=agent, entity_id="sku-1", weight=3, surfaces=["email"], expires_at=later(days=3))
    assert refused.value.status_code == 409


def test_an_expired_entry_does_not_stand_in_the_way(surfaces, agent, clock, commit):
    with commit():
        BlacklistEntryFactory(entity_id="sku-1", expires_at=later(hours=1))
    clock.advance(hours=2)
    again = services.blacklist_add(
        actor=agent, entity_type="product", entity_id="sku-1", reason="fraud", all_surfaces=True
    )
    assert again.is_active()


def test_an_agent_lifts_an_entry_early_with_a_reason_and_it_stays_on_record(surfaces, agent, agent_api, commit):
    with commit():
        entry = BlacklistEntryFactory(entity_id="sku-1")
    path = f"/api/v1/support/entries/{entry.pk}/lift"
    assert agent_api.post(path, {"reason": ""}, format="json").status_code == 400
    lifted = agent_api.post(path, {"reason": "Supplier fixed the listing"}, format="json")
    assert lifted.status_code == 200
    assert lifted.json()["state"] == "lifted" and lifted.json()["lifted_by"] == "ada-agent"
    assert lifted.json()["lift_reason"] == "Supplier fixed the listing"
    again = agent_api.post(path, {"reason": "twice"}, format="json")
    assert again.status_code == 409 and "already lifted" in again.json()["message"]
    assert ListEntry.objects.filter(pk=entry.pk).exists()


def test_an_expired_entry_cannot_be_lifted(surfaces, agent, clock, commit):
    with commit():
        entry = BlacklistEntryFactory(expires_at=later(hours=1))
    clock.advance(hours=1, seconds=1)
    with pytest.raises(ApplicationError, match="already expired"):
        services.entry_lift(entry=entry, actor=agent, reason="too late")


def test_the_database_refuses_to_edit_or_delete_history(surfaces, agent, commit):
    with commit():
        entry = BlacklistEntryFactory(entity_id="sku-1", surfaces=["search"])
        services.entry_lift(entry=entry, actor=agent, reason="Fixed")
    with pytest.raises(IntegrityError), transaction.atomic():
        ListEntry.objects.filter(pk=entry.pk).update(reason="fraud")
    with pytest.raises(IntegrityError), transaction.atomic():
        ListEntry.objects.filter(pk=entry.pk).update(lift_reason="rewritten")
    with pytest.raises(IntegrityError), transaction.atomic():
        entry.surface_links.update(surface=surfaces["home"])
    if connection.vendor == "postgresql":
        with pytest.raises(IntegrityError), transaction.atomic():
            ListEntry.objects.filter(pk=entry.pk).delete()
    assert ListEntry.objects.get(pk=entry.pk).lift_reason == "Fixed"


def test_the_database_refuses_entries_that_break_the_rules(surfaces, agent):
    now = timezone.now()
    bad = [
        dict(kind=EntryKind.BOOST, reason="cold_start", weight=2, expires_at=None),  # a boost that never ends
        dict(kind=EntryKind.BLACKLIST, reason="cold_start"),  # a boost's reason
        dict(kind=EntryKind.BLACKLIST, reason="other", note=""),  # 'other' without why
        dict(kind=EntryKind.BLACKLIST, reason="privacy", all_surfaces=False, scope_key="home"),  # privacy: everywhere
    ]

    def row(**fields) -> dict:
        return {
            "entity_type": "product",
            "entity_id": "sku-1",
            "all_surfaces": True,
            "scope_key": "*",
            "created_by": agent,
            "created_at": now,
            "created_seq": 1,
            **fields,
        }

    for fields in bad:
        with pytest.raises(IntegrityError), transaction.atomic():
            ListEntry.objects.create(**row(**fields))
    ListEntry.objects.create(**row(kind=EntryKind.BLACKLIST, reason="fraud"))
    with pytest.raises(IntegrityError), transaction.atomic():  # the same open entry twice
        ListEntry.objects.create(**row(kind=EntryKind.BLACKLIST, reason="legal", created_seq=2))


def test_the_admin_shows_entries_but_cannot_add_change_or_delete_them(surfaces, admin_user, commit):
    with commit():
        entry = BlacklistEntryFactory()
    request = RequestFactory().get("/admin/")
    request.user = admin_user
    for model in (ListEntry, PrivacyRequest):
        model_admin = admin.site._registry[model]
        assert model_admin.has_view_permission(request, entry if model is ListEntry else None)
        assert not model_admin.has_add_permission(request)
        assert not model_admin.has_change_permission(request, None)
        assert not model_admin.has_delete_permission(request, None)


def test_an_ids_history_shows_every_action_with_who_when_and_why(
    surfaces, agent, reviewer, api, clock, erasures, commit
):
    other_agent = api(agent)
    customer = {"entity_type": "customer", "entity_id": "cust-7"}
    with commit():
        first = BlacklistEntryFactory(
            actor=agent, **customer, reason="fraud", note="Chargebacks", surfaces=["email"], expires_at=later(hours=1)
        )
        clock.advance(minutes=5)
        boost = BoostEntryFactory(
            actor=agent, **customer, reason="account_request", note="Key account", surfaces=["home"]
        )
        clock.advance(minutes=5)
        services.entry_lift(entry=boost, actor=agent, reason="Account manager withdrew it")
    clock.advance(hours=1)  # the blacklist expires by itself
    assert (
        other_agent.post(
            "/api/v1/support/privacy-requests", {"entity_id": "cust-7", "reference": "GDPR-19"}, format="json"
        ).status_code
        == 201
    )

    response = api(reviewer).get("/api/v1/support/history", {"entity_type": "customer", "entity_id": "cust-7"})
    assert response.status_code == 200
    history = response.json()["history"]
    assert [(e["action"], e["actor"]) for e in history] == [
        ("data_erased", "Keel"),
        ("blacklisted", "ada-agent"),
        ("privacy_requested", "ada-agent"),
        ("expired", "Keel"),
        ("lifted", "ada-agent"),
        ("boosted", "ada-agent"),
        ("blacklisted", "ada-agent"),
    ]
    reasons = {e["action"]: (e["reason"], e["note"]) for e in reversed(history)}
    assert reasons["boosted"] == ("Account manager request", "Key account")
    assert reasons["lifted"][0] == "Account manager withdrew it"
    assert history[-1]["reason"] == "Fraud" and history[-1]["note"] == "Chargebacks"
    assert history[-1]["entry"] == first.pk
    assert all(e["at"] for e in history)
    assert [e["entity_id"] for e in response.json()["active"]] == ["cust-7"]  # the privacy blacklist


def test_searching_an_id_with_a_nul_is_a_400_on_q(surfaces, agent, api):
    response = api(agent).get("/api/v1/support/entities", {"q": "sku\x00"})
    assert response.status_code == 400 and list(response.json()["detail"]) == ["q"]


def test_searching_an_id_finds_it_with_what_applies_now(surfaces, agent, api, commit):
    with commit():
        BlacklistEntryFactory(entity_id="sku-100")
        BoostEntryFactory(entity_id="sku-1001")
        lifted = BlacklistEntryFactory(entity_id="sku-1002")
        services.entry_lift(entry=lifted, actor=agent, reason="Fixed")
    found = api(agent).get("/api/v1/support/entities", {"q": "sku-100"}).json()
    assert [(f["entity_id"], f["active_blacklists"], f["active_boosts"]) for f in found] == [
        ("sku-100", 1, 0),
        ("sku-1001", 0, 1),
        ("sku-1002", 0, 0),
    ]
    assert selectors.entity_search(query="") == []


def test_entries_can_be_listed_by_state_kind_and_surface(surfaces, agent, api, clock, commit):
    with commit():
        BlacklistEntryFactory(entity_id="sku-home", surfaces=["home"])
        BlacklistEntryFactory(entity_id="sku-short", expires_at=later(minutes=10))
        BoostEntryFactory(entity_id="sku-new", surfaces=["search"])
    clock.advance(minutes=11)
    client = api(agent)
    listed = client.get("/api/v1/support/entries", {"state": "active", "surface": "home"}).json()
    assert [e["entity_id"] for e in listed["results"]] == ["sku-home"]
    expired = client.get("/api/v1/support/entries", {"state": "expired"}).json()
    assert [e["entity_id"] for e in expired["results"]] == ["sku-short"]
    assert expired["results"][0]["state"] == EntryState.EXPIRED
    boosts = client.get("/api/v1/support/entries", {"kind": "boost"}).json()
    assert [e["entity_id"] for e in boosts["results"]] == ["sku-new"]
    assert client.get("/api/v1/support/entries", {"state": "sleeping"}).status_code == 400
    blank = client.get("/api/v1/support/entries", {"surface": ""})
    assert blank.status_code == 400 and list(blank.json()["detail"]) == ["surface"]
