"""Who may do what with support lists: agents read and change them; reviewers only read them and
their records; serving pipelines read only the lists they serve (not the entries' notes, an ID's
history, bulk uploads or privacy requests); labellers, outsiders and anonymous callers neither (401
anonymous, 403 the rest)."""

import io
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.utils import timezone

from mlops import roles
from support import services as support_services
from tests.factories import BlacklistEntryFactory, PrivacyRequestFactory

NOTE = "Chargebacks on three cards; ticket SUP-1182"


@pytest.fixture
def state(surfaces, erasures, commit, agent):
    with commit():
        entry = BlacklistEntryFactory(entity_id="sku-1", note=NOTE)
        privacy = PrivacyRequestFactory(actor=agent, entity_id="cust-42", note=NOTE)
    bulk = support_services.bulk_preview(
        actor=agent,
        kind="blacklist",
        file=csv_file(),
        entity_type="product",
        reason="fraud",
        note=NOTE,
        all_surfaces=True,
    )
    return {"entry": entry, "privacy": privacy, "bulk": bulk}


SERVING_READS = ["/api/v1/support/lists?surface=home", "/api/v1/support/surfaces"]


def records(state):
    """What agents and reviewers read behind the lists: notes, customer IDs, who asked and why."""
    return [
        "/api/v1/support/entries",
        f"/api/v1/support/entries/{state['entry'].pk}",
        "/api/v1/support/entities?q=sku",
        "/api/v1/support/history?entity_type=product&entity_id=sku-1",
        "/api/v1/support/bulk",
        "/api/v1/support/privacy-requests",
        f"/api/v1/support/privacy-requests/{state['privacy'].pk}",
        f"/api/v1/support/bulk/{state['bulk'].pk}",
    ]


def reads(state):
    return SERVING_READS + records(state)


def csv_file(text="sku-9\n"):
    handle = io.BytesIO(text.encode())
    handle.name = "ids.csv"
    return handle


def bulk_blacklist() -> dict:
    """A bulk upload blacklisting the file's product IDs everywhere."""
    return {"file": csv_file(), "kind": "blacklist", "entity_type": "product", "reason": "fraud", "all_surfaces": True}


# (path, body as a function of the state, multipart?, expected status for an agent)
def writes(state):
    return [
        (
            "/api/v1/support/blacklist",
            {"entity_type": "product", "entity_id": "sku-2", "reason": "fraud", "all_surfaces": True},
            False,
            201,
        ),
        (
            "/api/v1/support/boosts",
            {
                "entity_type": "product",
                "entity_id": "sku-3",
                "weight": 2,
                "expires_at": (timezone.now() + timedelta(days=14)).isoformat(),
                "reason": "cold_start",
                "surfaces": ["home"],
            },
            False,
            201,
        ),
        (f"/api/v1/support/entries/{state['entry'].pk}/lift", {"reason": "Fixed"}, False, 200),
        ("/api/v1/support/bulk", bulk_blacklist(), True, 201),
        ("/api/v1/support/privacy-requests", {"entity_id": "cust-1", "reference": "T-1"}, False, 201),
    ]


def test_anonymous_callers_must_authenticate(state, api):
    anonymous = api()
    for path in reads(state):
        assert anonymous.get(path).status_code == 401, path
    for path, body, multipart, _ in writes(state):
        response = anonymous.post(path, body, format="multipart" if multipart else "json")
        assert response.status_code == 401, path


@pytest.mark.parametrize("who", ["labeller", "outsider"])
def test_labellers_and_outsiders_can_neither_read_nor_change_lists(state, api, who, request):
    client = api(request.getfixturevalue(who))
    for path in reads(state):
        response = client.get(path)
        assert response.status_code == 403, path
        assert response.json()["message"]
    for path, body, multipart, _ in writes(state):
        assert client.post(path, body, format="multipart" if multipart else "json").status_code == 403, path


@pytest.mark.parametrize("who", ["pipeline", "reviewer"])
def test_pipelines_and_reviewers_read_but_never_change_lists(state, api, who, request):
    client = api(request.getfixturevalue(who))
    for path in SERVING_READS:
        assert client.get(path).status_code == 200, path
    for path, body, multipart, _ in writes(state):
        response = client.post(path, body, format="multipart" if multipart else "json")
        assert response.status_code == 403, path


def test_reviewers_read_the_records_behind_the_lists(state, api, reviewer):
    client = api(reviewer)
    for path in records(state):
        assert client.get(path).status_code == 200, path


def test_a_pipeline_token_reads_the_lists_but_not_the_notes_or_privacy_requests(state, api, pipeline):
    client = api(pipeline)
    for path in records(state):
        response = client.get(path)
        assert response.status_code == 403, path
        assert NOTE not in response.content.decode() and "cust-42" not in response.content.decode()


def test_agents_read_and_change_lists(state, api, agent):
    client = api(agent)
    for path in reads(state):
        assert client.get(path).status_code == 200, path
    for path, body, multipart, expected in writes(state):
        response = client.post(path, body, format="multipart" if multipart else "json")
        assert response.status_code == expected, (path, response.json())


def test_bulk_confirm_is_for_agents_only(state, api, agent, pipeline, reviewer):
    preview = api(agent).post("/api/v1/support/bulk", bulk_blacklist(), format="multipart").json()
    confirm = f"/api/v1/support/bulk/{preview['id']}/confirm"
    assert api(pipeline).post(confirm, {}, format="json").status_code == 403
    assert api(reviewer).post(confirm, {}, format="json").status_code == 403
    assert api().post(confirm, {}, format="json").status_code == 401
    assert api(agent).post(confirm, {}, format="json").status_code == 200


def test_roles_hold_the_support_permissions(db):
    expected = {
        roles.SUPPORT_AGENTS: {"read_lists", "read_list_records", "manage_lists"},
        roles.PIPELINES: {"read_lists"},
        roles.REVIEWERS: {"read_lists", "read_list_records"},
        roles.LABELLERS: set(),
    }
    for group, codenames in expected.items():
        held = set(
            Group.objects.get(name=group)
            .permissions.filter(
                content_type__app_label="support", codename__in=["read_lists", "read_list_records", "manage_lists"]
            )
            .values_list("codename", flat=True)
        )
        assert held == codenames, group


def test_a_token_without_the_permission_is_refused_on_every_poll(state, api, pipeline, labeller):
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    lists = "/api/v1/support/lists?surface=home"
    assert api(pipeline).get(lists).status_code == 200  # the list is cached now
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=labeller).key}")
    for _ in range(3):  # the second poll on finds the token's (insufficient) permissions in the cache
        assert client.get(lists).status_code == 403
    client.credentials(HTTP_AUTHORIZATION="Token not-a-token")
    assert client.get(lists).status_code == 401
