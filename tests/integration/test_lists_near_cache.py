"""Two web workers against one real Redis: a change made in one is never answered from the other's
near copy of the cache (support.lists.near), even when the other's subscription was cut meanwhile."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.core.cache import cache
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from mlops.roles import READ_LISTS
from support.lists import cache as lists_cache
from support.lists import store
from support.lists.near import near
from tests.factories import BlacklistEntryFactory, SurfaceFactory

pytestmark = [pytest.mark.integration]

ROOT = Path(__file__).resolve().parents[2]
LISTS = "/api/v1/support/lists"


def eventually(check, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "did not happen in time"
        time.sleep(0.01)


def change_in_another_worker(*, announce: bool = True) -> None:
    """Another web worker process commits a change: it moves the generation and (normally) announces it."""
    code = (
        "import django; django.setup()\n"
        "from django.core.cache import cache\n"
        "from support.lists import cache as lists_cache\n"
        f"lists_cache.invalidate() if {announce} else cache.incr(lists_cache.GEN_KEY)\n"
    )
    subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        check=True,
        timeout=60,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "mlops.settings"},
    )


@pytest.fixture
def polled(integration_services, db, pipeline, django_capture_on_commit_callbacks):
    """A surface with an entry, polled once through Django (list built, token remembered) and then
    through the fast path until this worker's near copy holds the poll's keys."""
    lists_cache.clear_local()
    with django_capture_on_commit_callbacks(execute=True):
        SurfaceFactory(name="near-home")
        BlacklistEntryFactory(entity_id="sku-1")
    token = Token.objects.create(user=pipeline).key
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    first = client.get(LISTS, {"surface": "near-home"})
    assert first.status_code == 200

    def poll():
        return lists_cache.fast_answer(
            token=token,
            permission=READ_LISTS,
            surface="near-home",
            if_none_match=first["ETag"],
            since=None,
            now=timezone.now(),
        )

    assert poll() is not None  # starts this worker's subscription
    eventually(lambda: near.live)
    assert poll().etag == first["ETag"] and poll().bodies is None  # 304, and now held near
    assert near.get([lists_cache.GEN_KEY])[0], "the generation should be held in this worker"
    yield poll
    lists_cache.clear_local()


def test_a_change_announced_by_another_worker_is_not_answered_from_the_near_copy(polled):
    change_in_another_worker()
    # The announcement reaches this worker's subscriber; from then on the old ETag is not current.
    eventually(lambda: not near.get([lists_cache.GEN_KEY])[0])
    assert polled() is None  # not a 304: Django builds the changed list


def test_a_change_missed_while_the_subscription_was_cut_is_not_answered_either(polled):
    epoch = near._epoch
    address = near.subscription_address()
    assert address
    # As a Redis restart or a proxy's idle timeout would: the server closes this worker's subscription.
    assert cache._cache.get_client(None, write=True).execute_command("CLIENT", "KILL", "ADDR", address)
    # Made while this worker is not subscribed: its announcement would be lost, so send none at all.
    change_in_another_worker(announce=False)
    eventually(lambda: near.live and near._epoch >= epoch + 2)  # it noticed, and subscribed again
    assert polled() is None


def test_without_a_change_the_near_copy_answers_without_asking_redis(polled, monkeypatch):
    asked = []
    real = store.get_many
    monkeypatch.setattr(store, "get_many", lambda keys: asked.append(keys) or real(keys))
    assert polled().bodies is None and asked == []
