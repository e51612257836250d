"""Each web worker's own copy of the few cache entries a poll reads, kept exact by Redis pub/sub.

A poll that reads Redis costs a round trip: on a small machine that is most of a 304's CPU (the
client library, two context switches, Redis itself). Serving systems poll the same few keys (a
token's grant, the generation, a surface's list description) thousands of times between changes, so
each worker keeps what it last read and drops all of it the moment any change is announced.

Why this never serves a list that Redis would not:
- Every change increments the generation and then publishes on CHANNEL (support.lists.cache.invalidate);
  a worker that hears it clears its copy. The worker that made the change clears its own copy
  before publishing, so it never even has the delivery delay.
- Copies are trusted only while the worker's subscription is confirmed and healthy (PING every
  second). Before the first confirmation, after a dropped connection or a failed health check, the
  worker reads Redis on every poll, exactly as without this module.
- A value read from Redis is kept only if no announcement arrived while it was being read (an
  epoch counter), so a read that raced with a change cannot be kept after that change's message.
- Nothing is kept longer than MAX_AGE_SECONDS, as a bound on any failure not foreseen here.
- The values carry their own validity (generation, next expiry, a grant's end), checked on every
  poll, so expiries still take effect at their time.

Redis 7.4's server-assisted client-side caching (redis-py's `cache_config`) would do this in the
client library, but Debian 12 ships Redis 7.0 and redis-py refuses it below 7.4.
Without Redis (the quick start's memory cache) there is nothing to copy and this module is inert.
"""

import contextlib
import logging
import os
import threading
import time

CHANNEL = "support:lists:changed"
MAX_AGE_SECONDS = 5.0
HEALTH_CHECK_SECONDS = 1
RETRY_SECONDS = 1.0

log = logging.getLogger(__name__)


class NearCache:
    def __init__(self):
        self._lock = threading.Lock()
        self._values: dict[str, tuple[float, object]] = {}
        self._epoch = 0
        self._live = False
        self._pid = None
        self._stop = threading.Event()
        self._pubsub = None

    # --- reads and writes by the poll ---------------------------------------------------------------

    def get(self, keys: list[str]) -> tuple[dict, int]:
        """What this worker holds of `keys`, and the epoch to hand back to `put`."""
        now = time.monotonic()
        with self._lock:
            if not self._live:
                return {}, -1
            found = {}
            for key in keys:
                item = self._values.get(key)
                if item is not None and now - item[0] < MAX_AGE_SECONDS:
                    found[key] = item[1]
            return found, self._epoch

    def put(self, values: dict, epoch: int) -> None:
        """Keep values read from Redis, unless a change was announced since `get` gave `epoch`."""
        now = time.monotonic()
        with self._lock:
            if self._live and epoch == self._epoch:
                for key, value in values.items():
                    self._values[key] = (now, value)

    def forget(self, keys: list[str]) -> None:
        """Drop copies the poll found no use for (a list description of an older generation, an ended
        grant): Django's path writes their successors to Redis without announcing them."""
        with self._lock:
            for key in keys:
                self._values.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._values.clear()
            self._epoch += 1

    @property
    def live(self) -> bool:
        return self._live

    def subscription_address(self) -> str | None:
        """host:port of this worker's end of its subscription, as Redis's CLIENT LIST shows it (addr=),
        to find (or CLIENT KILL ADDR) one worker's subscription among many."""
        connection = getattr(self._pubsub, "connection", None)
        sock = getattr(connection, "_sock", None)
        if sock is None:
            return None
        host, port = sock.getsockname()[:2]
        return f"{host}:{port}"

    # --- the subscription ----------------------------------------------------------------------------

    def ensure_listening(self, client_factory) -> None:
        """Start this process's subscriber thread once (again in a forked child, whose copy of the
        parent's thread does not run). `client_factory()` gives a redis.Redis client."""
        pid = os.getpid()
        if self._pid == pid:
            return
        with self._lock:
            if self._pid == pid:
                return
            self._pid, self._live = pid, False
            self._values.clear()
            self._epoch += 1
            self._stop = threading.Event()
        thread = threading.Thread(
            target=self._listen, args=(client_factory, self._stop), daemon=True, name="keel-lists-near-cache"
        )
        thread.start()

    def stop(self) -> None:
        """Stop listening and trust nothing (tests; a worker shutting down)."""
        self._stop.set()
        with self._lock:
            self._live, self._pid = False, None
            self._values.clear()
            self._epoch += 1

    def _set_live(self, live: bool) -> None:
        with self._lock:
            self._live = live
            self._values.clear()
            self._epoch += 1

    def _listen(self, client_factory, stop: threading.Event) -> None:
        while not stop.is_set():
            pubsub = None
            try:
                pubsub = self._pubsub = client_factory().pubsub()
                pubsub.subscribe(CHANNEL)
                heard = time.monotonic()
                while not stop.is_set():
                    message = pubsub.get_message(timeout=HEALTH_CHECK_SECONDS)
                    if message is None:
                        # A connection that died without a reset stays silent: ask, and give up on
                        # it when no answer came for a few intervals.
                        if time.monotonic() - heard > 3 * HEALTH_CHECK_SECONDS:
                            raise ConnectionError("no answer from Redis on the subscription")
                        pubsub.ping()
                        continue
                    heard = time.monotonic()
                    if message["type"] == "subscribe":
                        self._set_live(True)
                    elif message["type"] == "message":
                        self.clear()
            except Exception as exc:  # any failure: trust nothing until subscribed again
                self._set_live(False)
                log.warning("Serving-list invalidations unavailable (%s); polls read Redis until back.", exc)
                stop.wait(RETRY_SECONDS)
            finally:
                if pubsub is not None:
                    with contextlib.suppress(Exception):
                        pubsub.close()
        self._set_live(False)


near = NearCache()
