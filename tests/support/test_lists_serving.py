"""Serving systems poll a surface's lists and apply them after the model: what a surface gets, an
ETag to revalidate with, only the changes since a cursor, expiries that need nobody, and a cache that
never serves a change late."""

import random
import threading
from datetime import timedelta
from unittest import mock

import pytest
from django.db import connection, transaction
from django.utils import timezone

from mlops.errors import ApplicationError
from support import selectors, services
from support.models import ListEntry
from support.services import changes
from tests.factories import BlacklistEntryFactory, BoostEntryFactory, SupportAgentFactory

LISTS = "/api/v1/support/lists"


def fetch(client, surface="home", **params):
    """GET the lists; HTTP_* keywords are request headers, the rest query parameters."""
    headers = {key: params.pop(key) for key in list(params) if key.startswith("HTTP_")}
    return client.get(LISTS, {"surface": surface, **params}, **headers)


@pytest.fixture
def pipeline_api(api, pipeline):
    """The serving system: the nightly pipeline's token."""
    return api(pipeline)


def later(**delta):
    return timezone.now() + timedelta(**delta)


def test_a_surface_gets_what_applies_everywhere_and_what_names_it(
    surfaces, pipeline_api, commit, served_rows, served_ids
):
    with commit():
        BlacklistEntryFactory(entity_id="sku-everywhere")
        BlacklistEntryFactory(entity_id="sku-home", surfaces=["home"])
        BlacklistEntryFactory(entity_id="sku-search", surfaces=["search"])
        boost = BoostEntryFactory(entity_id="sku-new", surfaces=["home", "email"], weight=1.5)

    home = fetch(pipeline_api)
    assert home.status_code == 200
    body = home.json()
    assert body["surface"] == "home"
    assert served_ids(body["blacklist"]) == {"sku-everywhere", "sku-home"}
    assert served_rows(body["blacklist"])[0] == {
        "entity_type": "product",
        "entity_id": "sku-everywhere",
        "expires_at": None,
    }
    assert served_rows(body["boosts"]) == [
        {
            "entity_type": "product",
            "entity_id": "sku-new",
            "weight": 1.5,
            "expires_at": boost.expires_at.isoformat().replace("+00:00", "Z"),
        }
    ]
    assert body["cursor"] and body["generated_at"]
    assert body["next_expiry"] == body["boosts"][0]["expires_at"]

    search = fetch(pipeline_api, "search").json()
    assert served_ids(search["blacklist"]) == {"sku-everywhere", "sku-search"}
    assert search["boosts"] == []


def test_a_surface_must_be_named_and_known(surfaces, pipeline_api):
    missing = pipeline_api.get(LISTS)
    assert missing.status_code == 400
    assert "surface" in missing.json()["detail"]
    unknown = fetch(pipeline_api, "checkout")
    assert unknown.status_code == 404
    assert "checkout" in unknown.json()["message"]


def test_a_blacklist_outranks_a_boost_on_the_surfaces_it_covers(served_ids, surfaces, pipeline_api, commit):
    with commit():
        BoostEntryFactory(entity_id="sku-1", all_surfaces=True)
        BlacklistEntryFactory(entity_id="sku-1", surfaces=["home"], reason="legal")

    home = fetch(pipeline_api).json()
    assert served_ids(home["blacklist"]) == {"sku-1"} and home["boosts"] == []
    assert served_ids(fetch(pipeline_api, "search").json()["boosts"]) == {"sku-1"}


def test_an_unchanged_list_is_revalidated_with_its_etag(served_ids, surfaces, agent, api, pipeline_api, commit):
    with commit():
        BlacklistEntryFactory(entity_id="sku-1")
    first = fetch(pipeline_api)
    etag = first["ETag"]
    assert etag and first["Cache-Control"] == "no-cache"

    again = fetch(pipeline_api, HTTP_IF_NONE_MATCH=etag)
    assert again.status_code == 304
    assert again["ETag"] == etag and again.content == b""

    added = api(agent).post(
        "/api/v1/support/blacklist",
        {"entity_type": "product", "entity_id": "sku-2", "reason": "fraud", "all_surfaces": True},
        format="json",
    )
    assert added.status_code == 201
    changed = fetch(pipeline_api, HTTP_IF_NONE_MATCH=etag)
    assert changed.status_code == 200
    assert served_ids(changed.json()["blacklist"]) == {"sku-1", "sku-2"}
    assert changed["ETag"] != etag


def test_a_change_on_another_surface_keeps_this_surfaces_etag(surfaces, pipeline_api, commit):
    with commit():
        BlacklistEntryFactory(entity_id="sku-1", surfaces=["home"])
    etag = fetch(pipeline_api)["ETag"]
    with commit():
        BlacklistEntryFactory(entity_id="sku-2", surfaces=["search"])
    assert fetch(pipeline_api, HTTP_IF_NONE_MATCH=etag).status_code == 304


def test_lists_come_gzipped_to_clients_that_accept_it(surfaces, pipeline_api, commit):
    import gzip
    import json

    with commit():
        BlacklistEntryFactory(entity_id="sku-1")
    plain = fetch(pipeline_api)
    packed = fetch(pipeline_api, HTTP_ACCEPT_ENCODING="gzip, br")
    assert packed["Content-Encoding"] == "gzip" and "Accept-Encoding" in packed["Vary"]
    assert json.loads(gzip.decompress(packed.content)) == plain.json()


def test_polls_are_served_from_the_cache_and_a_change_shows_at_once(
    surfaces, agent, api, pipeline_api, commit, django_assert_num_queries, served_ids
):
    with commit():
        entry = BlacklistEntryFactory(entity_id="sku-1")
    fetch(pipeline_api)  # builds the list and remembers the token
    with django_assert_num_queries(0):
        assert served_ids(fetch(pipeline_api).json()["blacklist"]) == {"sku-1"}

    lifted = api(agent).post(f"/api/v1/support/entries/{entry.pk}/lift", {"reason": "Product fixed"}, format="json")
    assert lifted.status_code == 200
    assert fetch(pipeline_api).json()["blacklist"] == []


def test_the_cache_is_invalidated_after_the_change_commits_not_before(
    surfaces, agent, pipeline_api, commit, served_ids
):
    with commit():
        entry = BlacklistEntryFactory(entity_id="sku-1")
    assert served_ids(fetch(pipeline_api).json()["blacklist"]) == {"sku-1"}
    with commit():
        services.entry_lift(entry=entry, actor=agent, reason="Product fixed")
        # Not committed yet: serving systems keep the list as it was (no half-made change leaks).
        assert served_ids(fetch(pipeline_api).json()["blacklist"]) == {"sku-1"}
    assert fetch(pipeline_api).json()["blacklist"] == []


def test_an_entry_stops_being_served_at_its_expiry_without_any_job(served_ids, surfaces, pipeline_api, clock, commit):
    with commit():
        BlacklistEntryFactory(entity_id="sku-for-an-hour", expires_at=later(hours=1))
        BlacklistEntryFactory(entity_id="sku-for-good")
        BoostEntryFactory(entity_id="sku-new", expires_at=later(hours=2))
    before = fetch(pipeline_api)
    assert served_ids(before.json()["blacklist"]) == {"sku-for-an-hour", "sku-for-good"}

    clock.advance(minutes=59)
    assert fetch(pipeline_api, HTTP_IF_NONE_MATCH=before["ETag"]).status_code == 304

    clock.advance(minutes=1, seconds=1)  # the cached copy was built before the expiry
    after = fetch(pipeline_api, HTTP_IF_NONE_MATCH=before["ETag"])
    assert after.status_code == 200
    assert served_ids(after.json()["blacklist"]) == {"sku-for-good"}
    assert served_ids(after.json()["boosts"]) == {"sku-new"}

    clock.advance(hours=1)
    assert fetch(pipeline_api).json()["boosts"] == []


def test_since_a_cursor_a_poller_gets_additions_lifts_and_expiries(surfaces, agent, api, pipeline_api, clock, commit):
    with commit():
        lifted = BlacklistEntryFactory(entity_id="sku-lifted")
        BlacklistEntryFactory(entity_id="sku-expiring", expires_at=later(hours=1))
        BlacklistEntryFactory(entity_id="sku-staying")
        BoostEntryFactory(entity_id="sku-boosted", surfaces=["home"], expires_at=later(days=3))
    cursor = fetch(pipeline_api).json()["cursor"]

    nothing = fetch(pipeline_api, since=cursor).json()
    assert nothing["added"] == {"blacklist": [], "boosts": []}
    assert nothing["removed"] == {"blacklist": [], "boosts": []}

    agents_api = api(agent)

    def status(path, body):
        return agents_api.post(path, body, format="json").status_code

    def blacklist(entity_id, surface):
        body = {"entity_type": "product", "entity_id": entity_id, "reason": "inappropriate", "surfaces": [surface]}
        return status("/api/v1/support/blacklist", body)

    assert blacklist("sku-added", "home") == 201
    assert status(f"/api/v1/support/entries/{lifted.pk}/lift", {"reason": "Complaint withdrawn"}) == 200
    assert blacklist("sku-elsewhere", "search") == 201
    clock.advance(hours=1, seconds=1)

    changes = fetch(pipeline_api, since=cursor).json()
    assert changes["since"] == cursor and changes["cursor"] != cursor
    assert changes["added"]["blacklist"] == [
        {"entity_type": "product", "expires_at": None, "entity_ids": ["sku-added"]}
    ]
    assert changes["removed"]["blacklist"] == [{"entity_type": "product", "entity_ids": ["sku-expiring", "sku-lifted"]}]
    assert changes["added"]["boosts"] == [] and changes["removed"]["boosts"] == []

    caught_up = fetch(pipeline_api, since=changes["cursor"]).json()
    assert caught_up["added"] == {"blacklist": [], "boosts": []}
    assert caught_up["removed"] == {"blacklist": [], "boosts": []}


def test_a_cursor_must_be_one_keel_gave(surfaces, pipeline_api, commit):
    with commit():
        BlacklistEntryFactory()
    assert fetch(pipeline_api, since="yesterday").status_code == 400
    cursor = fetch(pipeline_api).json()["cursor"]
    seq, micros = cursor.split("-")
    future = fetch(pipeline_api, since=f"{int(seq) + 5}-{micros}")
    assert future.status_code == 410
    assert "full list" in future.json()["message"]


def test_a_copy_kept_up_to_date_with_changes_always_equals_the_full_list(
    surfaces, pipeline_api, clock, commit, served_rows
):
    """Random changes, lifts and expiries; a poller applying only the changes never drifts."""
    rng = random.Random(7)
    agent = SupportAgentFactory()
    products = [f"sku-{n}" for n in range(12)]
    scopes = [{"all_surfaces": True}, {"surfaces": ["home"]}, {"surfaces": ["search"]}, {"surfaces": ["home", "email"]}]

    def as_copy(body):
        return (
            {row["entity_id"]: row["expires_at"] for row in served_rows(body["blacklist"])},
            {row["entity_id"]: (row["weight"], row["expires_at"]) for row in served_rows(body["boosts"])},
        )

    first = fetch(pipeline_api).json()
    blacklist, boosts = as_copy(first)
    cursor = first["cursor"]
    for step in range(40):
        action = rng.choice(["blacklist", "boost", "lift", "time"])
        try:
            with commit():
                if action == "blacklist":
                    expires = rng.choice([None, later(minutes=rng.randint(5, 90))])
                    services.blacklist_add(
                        actor=agent,
                        entity_type="product",
                        entity_id=rng.choice(products),
                        reason="inappropriate",
                        expires_at=expires,
                        **rng.choice(scopes),
                    )
                elif action == "boost":
                    services.boost_add(
                        actor=agent,
                        entity_type="product",
                        entity_id=rng.choice(products),
                        weight=rng.choice([1.5, 2.0, 3.0]),
                        expires_at=later(minutes=rng.randint(5, 90)),
                        reason="cold_start",
                        **rng.choice(scopes),
                    )
                elif action == "lift":
                    active = list(ListEntry.objects.active().values_list("pk", flat=True))
                    if active:
                        services.entry_lift(entry=rng.choice(active), actor=agent, reason="Test of lifting")
                else:
                    clock.advance(minutes=rng.randint(1, 40))
        except ApplicationError:
            pass  # a refused conflict changes nothing
        agent_cache_reset(agent)
        changes = fetch(pipeline_api, since=cursor).json()
        for row in served_rows(changes["removed"]["blacklist"]):
            blacklist.pop(row["entity_id"])
        for row in served_rows(changes["removed"]["boosts"]):
            boosts.pop(row["entity_id"])
        for row in served_rows(changes["added"]["blacklist"]):
            blacklist[row["entity_id"]] = row["expires_at"]
        for row in served_rows(changes["added"]["boosts"]):
            boosts[row["entity_id"]] = (row["weight"], row["expires_at"])
        cursor = changes["cursor"]
        assert (blacklist, boosts) == as_copy(fetch(pipeline_api).json()), f"drifted at step {step} ({action})"


def agent_cache_reset(agent):
    """The story's one agent makes more changes than the rate limit allows a person; reset its count."""
    from django.core.cache import cache

    cache.delete_many([key for _, key in changes._rate_keys(agent.pk, timezone.now())])


def test_a_pollers_token_is_checked_against_the_database_at_most_every_few_seconds(
    surfaces, pipeline, api, settings, commit
):
    settings.KEEL_SUPPORT_LISTS_AUTH_CACHE_SECONDS = 1
    with commit():
        BlacklistEntryFactory()
    client = api(pipeline)
    assert fetch(client).status_code == 200
    pipeline.groups.clear()  # its role removed (a deleted token is forgotten at once: test_lists_wsgi)
    assert fetch(client).status_code == 200  # still remembered, for at most a second
    a_little_later = timezone.now() + timedelta(seconds=1.2)
    with mock.patch("django.utils.timezone.now", return_value=a_little_later):
        assert fetch(client).status_code == 403


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs concurrent transactions (PostgreSQL)")
def test_a_change_committing_late_is_not_skipped_by_a_poller(surfaces):
    """A change that took its number first but commits last must still reach a poller whose cursor
    was taken in between: the next change cannot even take a number until the first commits."""
    first_agent, second_agent = SupportAgentFactory(), SupportAgentFactory()
    home = surfaces["home"]
    first_holding, release, second_done = threading.Event(), threading.Event(), threading.Event()
    errors = []

    def slow_change():
        try:
            with transaction.atomic():
                services.blacklist_add(
                    actor=first_agent, entity_type="product", entity_id="sku-slow", reason="fraud", all_surfaces=True
                )
                first_holding.set()
                release.wait(10)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    def quick_change():
        try:
            services.blacklist_add(
                actor=second_agent, entity_type="product", entity_id="sku-quick", reason="fraud", all_surfaces=True
            )
            second_done.set()
        except Exception as exc:  # pragma: no cover
            errors.append(exc)
        finally:
            connection.close()

    slow = threading.Thread(target=slow_change)
    slow.start()
    assert first_holding.wait(10)
    quick = threading.Thread(target=quick_change)
    quick.start()
    # Real transactions on a real server: the second change must still be waiting half a second on.
    assert not second_done.wait(0.5), "the second change committed while the first was still open"

    polled = selectors.serving_list(surface=home)
    assert polled.blacklist == []
    release.set()
    slow.join(10)
    quick.join(10)
    assert not errors

    changes = selectors.serving_changes(surface=home, since=polled.cursor)
    assert [entity_id for _, entity_id, _ in changes.added_blacklist] == ["sku-quick", "sku-slow"]
