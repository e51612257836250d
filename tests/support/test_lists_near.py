"""Each web worker's near copy of the poll's cache keys (support.lists.near) is trusted only while it
provably hears every change: these stories drive its subscription with a scripted Redis."""

import queue
import threading
import time

import pytest

from support.lists import near as lists_near
from support.lists.near import NearCache


class ScriptedPubSub:
    """redis-py's PubSub as the listener uses it; the test feeds it messages or failures."""

    def __init__(self, inbox: queue.Queue):
        self.inbox = inbox
        self.pings = 0
        self.closed = False

    def subscribe(self, channel):
        assert channel == lists_near.CHANNEL

    def get_message(self, timeout):
        try:
            item = self.inbox.get(timeout=min(timeout, 0.05))
        except queue.Empty:
            return None
        if isinstance(item, Exception):
            raise item
        return item

    def ping(self):
        self.pings += 1

    def close(self):
        self.closed = True


class ScriptedRedis:
    def __init__(self):
        self.inbox: queue.Queue = queue.Queue()
        self.connections: list[ScriptedPubSub] = []

    def pubsub(self):
        self.connections.append(ScriptedPubSub(self.inbox))
        return self.connections[-1]

    def confirm(self):
        self.inbox.put({"type": "subscribe", "channel": lists_near.CHANNEL, "data": 1})

    def announce(self):
        self.inbox.put({"type": "message", "channel": lists_near.CHANNEL, "data": b"changed"})

    def drop(self):
        self.inbox.put(ConnectionError("Connection closed by server."))


def eventually(check, timeout=3.0):
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "did not happen in time"
        time.sleep(0.01)


@pytest.fixture
def redis(monkeypatch):
    monkeypatch.setattr(lists_near, "RETRY_SECONDS", 0.05)
    return ScriptedRedis()


@pytest.fixture
def near(redis):
    found = NearCache()
    found.ensure_listening(lambda: redis)
    yield found
    found.stop()


def test_nothing_is_kept_before_the_subscription_is_confirmed(near, redis):
    held, epoch = near.get(["gen"])
    near.put({"gen": 7}, epoch)
    assert held == {} and near.get(["gen"])[0] == {}

    redis.confirm()
    eventually(lambda: near.live)
    _, epoch = near.get(["gen"])
    near.put({"gen": 7}, epoch)
    assert near.get(["gen", "meta"])[0] == {"gen": 7}


def test_an_announced_change_drops_every_copy(near, redis):
    redis.confirm()
    eventually(lambda: near.live)
    near.put({"gen": 7, "meta": {"etag": "a"}}, near.get([])[1])
    redis.announce()
    eventually(lambda: near.get(["gen", "meta"])[0] == {})
    assert near.live


def test_a_read_that_raced_with_a_change_is_not_kept(near, redis):
    redis.confirm()
    eventually(lambda: near.live)
    _, epoch = near.get(["gen"])  # a poll starts reading Redis ...
    near.clear()  # ... a change is announced meanwhile ...
    near.put({"gen": 7}, epoch)  # ... and what it read may be older than that change
    assert near.get(["gen"])[0] == {}


def test_a_dropped_subscription_trusts_nothing_until_it_is_back(near, redis):
    redis.confirm()
    eventually(lambda: near.live)
    near.put({"gen": 7}, near.get([])[1])
    redis.drop()
    eventually(lambda: not near.live)
    assert near.get(["gen"])[0] == {}  # what was kept may have missed a change while disconnected
    eventually(lambda: len(redis.connections) == 2)  # it subscribes again
    assert redis.connections[0].closed
    redis.confirm()
    eventually(lambda: near.live)
    assert near.get(["gen"])[0] == {}


def test_a_silent_connection_is_given_up(near, redis, monkeypatch):
    monkeypatch.setattr(lists_near, "HEALTH_CHECK_SECONDS", 0.05)
    redis.confirm()
    eventually(lambda: near.live)
    # No answer to its pings: after a few intervals it stops trusting and reconnects.
    eventually(lambda: not near.live)
    assert redis.connections[0].pings >= 1


class ShiftedClock:
    """The `time` module as the near cache sees it, with a monotonic clock a test moves forward."""

    def __init__(self):
        self.shift = 0.0

    def monotonic(self):
        return time.monotonic() + self.shift

    def __getattr__(self, name):
        return getattr(time, name)


def test_nothing_is_kept_longer_than_the_maximum_age(near, redis, monkeypatch):
    redis.confirm()
    eventually(lambda: near.live)
    clock = ShiftedClock()
    monkeypatch.setattr(lists_near, "time", clock)
    # One second: well within the listener's health check (three silent intervals of a second).
    monkeypatch.setattr(lists_near, "MAX_AGE_SECONDS", 1.0)
    near.put({"gen": 7}, near.get([])[1])
    clock.shift = 0.9
    assert near.get(["gen"])[0] == {"gen": 7}
    clock.shift = 1.1
    assert near.get(["gen"])[0] == {}
    assert near.live  # not for want of a subscription


def test_forgotten_keys_are_read_again_and_the_rest_stay(near, redis):
    redis.confirm()
    eventually(lambda: near.live)
    near.put({"gen": 7, "meta": "old"}, near.get([])[1])
    near.forget(["meta"])
    assert near.get(["gen", "meta"])[0] == {"gen": 7}


def test_a_forked_worker_listens_for_itself(redis, monkeypatch):
    found = NearCache()
    started = []
    monkeypatch.setattr(threading.Thread, "start", lambda thread: started.append(thread.name))
    found.ensure_listening(lambda: redis)
    found.ensure_listening(lambda: redis)
    assert started == ["keel-lists-near-cache"]  # once per process
    monkeypatch.setattr(lists_near.os, "getpid", lambda: -1)  # as in gunicorn's forked worker
    found.ensure_listening(lambda: redis)
    assert len(started) == 2 and not found.live
