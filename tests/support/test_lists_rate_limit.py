"""Guard rail: each agent makes at most KEEL_SUPPORT_RATE_LIMIT_CHANGES changes per window. The
next one is refused with a clear message and HTTP 429 (Retry-After), and nothing is written; the
window slides, so the agent can carry on later. Other agents are not affected."""

import io

import pytest
from django.utils import timezone

from support import services
from support.models import ListEntry
from tests.factories import SupportAgentFactory


@pytest.fixture
def limit(settings):
    settings.KEEL_SUPPORT_RATE_LIMIT_CHANGES = 3
    settings.KEEL_SUPPORT_RATE_LIMIT_SECONDS = 600


def blacklist(client, entity_id):
    return client.post(
        "/api/v1/support/blacklist",
        {"entity_type": "product", "entity_id": entity_id, "reason": "inappropriate", "all_surfaces": True},
        format="json",
    )


def test_an_agent_over_the_limit_gets_429_and_nothing_is_written(surfaces, limit, agent, api, clock):
    client = api(agent)
    for n in range(3):
        assert blacklist(client, f"sku-{n}").status_code == 201
    refused = blacklist(client, "sku-3")
    assert refused.status_code == 429
    assert "3 changes in the last 10 minutes" in refused.json()["message"]
    assert int(refused["Retry-After"]) > 0
    assert not ListEntry.objects.filter(entity_id="sku-3").exists()
    lift = client.post(f"/api/v1/support/entries/{ListEntry.objects.first().pk}/lift", {"reason": "x"}, format="json")
    assert lift.status_code == 429  # every kind of change counts

    assert blacklist(api(SupportAgentFactory()), "sku-3").status_code == 201  # another agent is not limited

    clock.advance(minutes=11)
    assert blacklist(client, "sku-4").status_code == 201


def test_refused_changes_do_not_count(surfaces, limit, agent, api):
    client = api(agent)
    for _ in range(5):
        assert blacklist(client, "not an id").status_code == 400
    assert services.rate_limit_remaining(actor=agent) == 3
    assert blacklist(client, "sku-1").status_code == 201
    assert services.rate_limit_remaining(actor=agent) == 2


def test_a_bulk_upload_counts_as_one_change(surfaces, limit, agent, api):
    client = api(agent)
    upload = io.BytesIO("".join(f"sku-{n}\n" for n in range(20)).encode())
    upload.name = "ids.csv"
    bulk = client.post(
        "/api/v1/support/bulk",
        {"file": upload, "kind": "blacklist", "entity_type": "product", "reason": "fraud", "all_surfaces": True},
        format="multipart",
    ).json()
    assert services.rate_limit_remaining(actor=agent) == 3  # a preview changes nothing
    assert client.post(f"/api/v1/support/bulk/{bulk['id']}/confirm", {}, format="json").status_code == 200
    assert services.rate_limit_remaining(actor=agent) == 2


def test_the_service_refuses_too(surfaces, limit, agent, commit):
    with commit():
        for n in range(3):
            services.blacklist_add(
                actor=agent, entity_type="product", entity_id=f"sku-{n}", reason="fraud", all_surfaces=True
            )
    with pytest.raises(services.RateLimited) as refused:
        services.privacy_request_create(actor=agent, entity_id="cust-1")
    assert refused.value.status_code == 429 and refused.value.retry_after <= 600 + 60
    assert services.rate_limit_remaining(actor=agent, now=timezone.now()) == 0
