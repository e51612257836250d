"""Serving lists as pre-serialised bytes in the Django cache (Redis in production).

Serving systems poll `GET /api/v1/support/lists?surface=…` often, so the answer is computed once per
change and kept as bytes (JSON and gzip): a poll is two small cache reads and, when nothing changed,
a 304 without touching the database.

Keys
- `support:lists:gen`: the cache generation, incremented after every committed change (services call
  `invalidate` in transaction.on_commit). Incrementing is atomic and never goes back, so two changes
  committing together cannot leave an older generation behind. If the key is lost it restarts from a
  random value, so old entries are never mistaken for current ones.
- `support:lists:meta:<surface>`: {gen, etag, valid_until, body_key} of the surface's current list.
  It is used only if its `gen` is the current one and `now < valid_until`, the list's next expiry:
  an entry is never served past its expiry even though nobody acted and no job ran.
- `support:lists:body:<etag>`: (json bytes, gzip bytes). Workers also keep the last few bodies in
  memory, keyed by ETag, so a large list is not copied out of Redis on every poll.
- `support:lists:delta:<gen>:<surface>:<cursor>`: the answer to `?since=<cursor>` until the next
  change or expiry (many serving systems hold the same cursor, the one of the cached list).
- `support:lists:auth:<sha256 of token>`: a token's user and permissions, for
  KEEL_SUPPORT_LISTS_AUTH_CACHE_SECONDS, so a poll needs no database query for authentication.
  A revoked token or a removed role therefore still reads the lists for at most that long.

The ETag is a hash of the lists themselves (not of the cursor or the time they were built): a change
elsewhere, or a rebuild after an eviction, does not make every serving system download again. It is
a weak ETag since `generated_at` and `cursor` in the body may differ for the same lists.

Reads of the generation happen before the database is read, so a list built from data older than a
change is always stored under a generation that change has already superseded (or is about to, in
its on_commit), never under the current one.
"""

import gzip
import os
import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.core.cache import cache

from mlops.etags import etag_matches
from support import selectors

from . import store
from .auth import grant_key, granted
from .bodies import serialise_changes, serialise_list
from .near import CHANNEL, near

GEN_KEY = "support:lists:gen"
BUILD_WAIT_SECONDS = 5.0


def _fresh_gen() -> int:
    return secrets.randbits(52)


def current_gen() -> int:
    gen = store.get_many([GEN_KEY]).get(GEN_KEY)
    if gen is None:
        cache.add(GEN_KEY, _fresh_gen(), timeout=None)
        gen = cache.get(GEN_KEY)
    return int(gen)


def invalidate() -> None:
    """Every cached list and delta is stale: called after each committed change. Workers' near
    caches hear it on CHANNEL; this process forgets its own copy before telling the others."""
    try:
        cache.incr(GEN_KEY)
    except ValueError:  # no generation yet (or evicted): any fresh one differs from the old ones
        if not cache.add(GEN_KEY, _fresh_gen(), timeout=None):
            cache.incr(GEN_KEY)
    near.clear()
    _, client = store.thread_client()
    if client is not None:
        client.publish(CHANNEL, b"changed")


# --- per-worker memory of the last bodies ----------------------------------------------------------

_LOCAL_MAX = 8
_local_lock = threading.Lock()


@dataclass(eq=False)
class LocalBodies:
    """A list's bytes in this worker: JSON and gzip, and each also in an anonymous in-memory file
    (memfd) so the server can sendfile() it, the way it serves a static file, instead of copying
    megabytes through Python for every poller that downloads the list."""

    json: bytes
    gzip: bytes
    fds: tuple[int, int] | None = field(default=None, repr=False)

    @classmethod
    def make(cls, bodies: tuple[bytes, bytes]) -> "LocalBodies":
        found = cls(*bodies)
        if hasattr(os, "memfd_create"):
            fds = []
            try:
                for data in bodies:
                    fds.append(os.memfd_create("keel-serving-list", os.MFD_CLOEXEC))
                    view = memoryview(data)
                    while view:
                        view = view[os.write(fds[-1], view) :]
                found.fds = tuple(fds)
            except OSError:  # no memfd here: the bytes are served from memory
                for fd in fds:
                    os.close(fd)
        return found

    def open(self, gzipped: bool):
        """A file of its own (its own offset) for one response, or None. Opened under the lock so an
        eviction cannot close the descriptor, and a new list reuse its number, in between."""
        with _local_lock:
            if self.fds is None:
                return None
            return open(f"/proc/self/fd/{self.fds[1 if gzipped else 0]}", "rb", buffering=0)

    def _close(self) -> None:  # called with _local_lock held
        if self.fds is not None:
            for fd in self.fds:
                os.close(fd)
            self.fds = None


_local_bodies: "OrderedDict[str, LocalBodies]" = OrderedDict()


def _local_get(etag: str) -> LocalBodies | None:
    with _local_lock:
        found = _local_bodies.get(etag)
        if found is not None:
            _local_bodies.move_to_end(etag)
        return found


def _local_put(etag: str, bodies: tuple[bytes, bytes]) -> LocalBodies:
    made = LocalBodies.make(bodies)
    with _local_lock:
        old = _local_bodies.pop(etag, None)
        if old is not None:
            old._close()
        _local_bodies[etag] = made
        while len(_local_bodies) > _LOCAL_MAX:
            _local_bodies.popitem(last=False)[1]._close()
    return made


def clear_local() -> None:
    """Forget this worker's bodies and near-cached keys (tests, between stories)."""
    with _local_lock:
        for bodies in _local_bodies.values():
            bodies._close()
        _local_bodies.clear()
    near.clear()


# --- the full list ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CachedList:
    etag: str
    bodies: LocalBodies

    @property
    def body(self) -> bytes:
        return self.bodies.json

    @property
    def gzip_body(self) -> bytes:
        return self.bodies.gzip


def _meta_key(surface: str) -> str:
    return f"support:lists:meta:{surface}"


def _ttl() -> int:
    return max(1, settings.KEEL_SUPPORT_LISTS_CACHE_SECONDS)


def _valid(meta, gen: int, now: datetime) -> bool:
    return (
        isinstance(meta, dict)
        and meta.get("gen") == gen
        and (meta["valid_until"] is None or now.timestamp() < meta["valid_until"])
    )


def _build(surface: str, gen: int, now: datetime) -> dict:
    found = selectors.serving_list(surface=selectors.surface_get(surface), now=now)
    etag, body = serialise_list(found, now)
    bodies = (body, gzip.compress(body, compresslevel=6, mtime=0))
    body_key = f"support:lists:body:{etag}"
    cache.set(body_key, bodies, timeout=_ttl() + 60)
    _local_put(etag, bodies)
    meta = {
        "gen": gen,
        "etag": etag,
        "body_key": body_key,
        "valid_until": found.next_expiry.timestamp() if found.next_expiry else None,
    }
    cache.set(_meta_key(surface), meta, timeout=_ttl())
    return meta


def list_meta(surface: str, now: datetime) -> dict:
    """The current list's ETag and where its bytes are, building it if needed (one builder at a
    time per surface and generation; the others wait for its result rather than all querying)."""
    found = store.get_many([GEN_KEY, _meta_key(surface)])
    gen = found.get(GEN_KEY)
    gen = current_gen() if gen is None else int(gen)
    meta = found.get(_meta_key(surface))
    if _valid(meta, gen, now):
        return meta
    lock = f"support:lists:building:{surface}:{gen}"
    owned = cache.add(lock, 1, timeout=int(BUILD_WAIT_SECONDS) + 25)
    if not owned:
        deadline = time.monotonic() + BUILD_WAIT_SECONDS
        while time.monotonic() < deadline:
            time.sleep(0.02)
            meta = store.get_many([_meta_key(surface)]).get(_meta_key(surface))
            if _valid(meta, gen, now):
                return meta
    try:
        return _build(surface, gen, now)  # also when the builder took too long: never wait for ever
    finally:
        if owned:
            cache.delete(lock)


def list_bodies(meta: dict) -> LocalBodies | None:
    bodies = _local_get(meta["etag"])
    if bodies is None:
        stored = store.get_many([meta["body_key"]]).get(meta["body_key"])
        if stored is None:
            return None
        bodies = _local_put(meta["etag"], stored)
    return bodies


def full_list(surface: str, now: datetime) -> CachedList:
    for _ in range(3):
        meta = list_meta(surface, now)
        bodies = list_bodies(meta)
        if bodies is not None:
            return CachedList(meta["etag"], bodies)
        cache.delete(_meta_key(surface))  # the bytes were evicted before their description
    raise RuntimeError("The serving list could not be kept in the cache.")


# --- changes since a cursor -------------------------------------------------------------------------


def _delta_key(surface: str, cursor: str) -> str:
    return f"support:lists:delta:{surface}:{cursor}"


def _delta_valid(cached, gen: int, cursor: selectors.Cursor, now: datetime) -> bool:
    """A stored answer for a cursor holds while no change was made (same generation) and nothing
    expired (before the next expiry it saw)."""
    return (
        isinstance(cached, dict)
        and cached.get("gen") == gen
        and (cached["valid_until"] is None or now.timestamp() < cached["valid_until"])
        and cached["computed_at"] >= cursor.at.timestamp()
    )


def changes(surface: str, since: str, now: datetime) -> bytes:
    cursor = selectors.Cursor.parse(since)
    key = _delta_key(surface, str(cursor))
    found = store.get_many([GEN_KEY, key])
    gen = found.get(GEN_KEY)
    gen = current_gen() if gen is None else int(gen)
    if _delta_valid(found.get(key), gen, cursor, now):
        return found[key]["body"]
    changed = selectors.serving_changes(surface=selectors.surface_get(surface), since=cursor, now=now)
    body = serialise_changes(changed)
    cache.set(
        key,
        {
            "gen": gen,
            "body": body,
            "computed_at": now.timestamp(),
            "valid_until": changed.next_expiry.timestamp() if changed.next_expiry else None,
        },
        timeout=min(_ttl(), 120),
    )
    return body


# --- the poll's fast path -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class FastAnswer:
    etag: str | None = None  # a list's ETag: not modified if there is no body
    bodies: LocalBodies | None = None  # the list (JSON, gzip)
    changes: bytes | None = None  # the answer to ?since=


def fast_answer(
    *, token: str, permission: str, surface: str, if_none_match: str | None, since: str | None, now: datetime
) -> FastAnswer | None:
    """A poll answered with at most one cache round trip (none when this worker's near cache has the
    keys), before Django's request handling runs, for a token whose user and
    permissions are cached (by CachedTokenAuthentication, within its few seconds): 304 for a current
    ETag, the list when this worker holds its bytes, or the stored answer to ?since=<cursor>. None for
    anything else, which then takes the normal path (authentication, 401/403, building the list), so
    this never decides anything the normal path would decide differently."""
    cursor = None
    if since is not None:
        try:
            cursor = selectors.Cursor.parse(since)
        except Exception:  # an unreadable cursor takes the normal path, which answers 400 with the reason
            return None
    auth_key = grant_key(token)
    key = _meta_key(surface) if cursor is None else _delta_key(surface, str(cursor))
    found = store.poll_get_many([auth_key, GEN_KEY, key])
    answer = _answer_from(
        found, auth_key, key, permission=permission, cursor=cursor, if_none_match=if_none_match, now=now
    )
    if answer is None:
        # Django's path writes what replaces them (a grant, a list description of the current
        # generation) without announcing it: this worker's copies would only send polls there again.
        near.forget([auth_key, key])
    return answer


def _answer_from(
    found: dict, auth_key: str, key: str, *, permission: str, cursor, if_none_match: str | None, now: datetime
) -> FastAnswer | None:
    gen = found.get(GEN_KEY)
    if gen is None or not granted(found.get(auth_key), permission, now):
        return None
    if cursor is not None:
        cached = found.get(key)
        return FastAnswer(changes=cached["body"]) if _delta_valid(cached, int(gen), cursor, now) else None
    meta = found.get(key)
    if not _valid(meta, int(gen), now):
        return None
    etag = meta["etag"]
    if if_none_match and etag_matches(if_none_match, etag):
        return FastAnswer(etag=etag)
    bodies = _local_get(etag)
    return FastAnswer(etag=etag, bodies=bodies) if bodies is not None else None
