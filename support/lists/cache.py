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
import hashlib
import json
import os
import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.core.cache import cache, caches
from django.core.cache.backends.redis import RedisCache
from django.utils import timezone
from drf_spectacular.drainage import set_override
from rest_framework.authentication import TokenAuthentication

from . import selectors
from .lists_near import CHANNEL, near

GEN_KEY = "support:lists:gen"
BUILD_WAIT_SECONDS = 5.0

_thread = threading.local()


def _get_many(keys: list[str]) -> dict:
    """cache.get_many, in one round trip and without per-call client setup.

    Django's Redis backend builds a new redis.Redis client for every call, and with redis-py 8
    building one costs about a quarter of a millisecond (it rebuilds its response-callback table):
    more than the round trip itself, twice per poll. Polls reuse one client per thread, with Django's
    own key names and serializer. Other backends (the quick start's memory cache) use the cache API.
    """
    backend, client = _thread_client()
    if client is None:
        return backend.get_many(keys)
    values = client.mget([backend.make_key(key) for key in keys])
    loads = backend._cache._serializer.loads
    return {key: loads(value) for key, value in zip(keys, values) if value is not None}


def _thread_client():
    """(the default cache, this thread's redis.Redis client or None when the cache is not one Redis)."""
    backend = caches["default"]
    found = getattr(_thread, "redis", None)
    if found is None or found[0] is not backend:
        client = None
        inner = getattr(backend, "_cache", None) if isinstance(backend, RedisCache) else None
        if inner is not None and len(getattr(inner, "_servers", ())) == 1:
            client = inner.get_client(None, write=True)
        found = _thread.redis = (backend, client)
    return found


def _poll_get_many(keys: list[str]) -> dict:
    """_get_many for the poll's fast path: what this worker already holds comes from its near cache
    (kept exact by change announcements, see lists_near), the rest from Redis in one round trip."""
    backend, client = _thread_client()
    if client is None:
        return _get_many(keys)
    near.ensure_listening(lambda: backend._cache.get_client(None, write=True))
    found, epoch = near.get(keys)
    missing = [key for key in keys if key not in found]
    if missing:
        fetched = _get_many(missing)
        near.put(fetched, epoch)
        found.update(fetched)
    return found


def _fresh_gen() -> int:
    return secrets.randbits(52)


def current_gen() -> int:
    gen = _get_many([GEN_KEY]).get(GEN_KEY)
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
    _, client = _thread_client()
    if client is not None:
        client.publish(CHANNEL, b"changed")


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.isoformat().replace("+00:00", "Z")


def _dumps(data) -> bytes:
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()


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
                        view = view[os.write(fds[-1], view):]
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
    return (isinstance(meta, dict) and meta.get("gen") == gen
            and (meta["valid_until"] is None or now.timestamp() < meta["valid_until"]))


def _ending(expires_at: datetime | None) -> tuple:
    return (expires_at is not None, expires_at or datetime.min)


def _blacklist_groups(rows) -> list[dict]:
    """Blacklisted IDs grouped by (type, expiry): a bulk upload's IDs share both, so the list is
    mostly IDs (about 14 bytes each for 100,000 IDs instead of ~80 as one object per ID), and a
    serving system reads a group straight into a set. Groups and their IDs come sorted."""
    grouped: dict[tuple, list[str]] = {}
    for entity_type, entity_id, expires_at in rows:
        grouped.setdefault((entity_type, expires_at), []).append(entity_id)
    return [{"entity_type": t, "expires_at": _iso(exp), "entity_ids": ids}
            for (t, exp), ids in sorted(grouped.items(), key=lambda item: (item[0][0], _ending(item[0][1])))]


def _boost_groups(rows) -> list[dict]:
    """Boosted IDs grouped by (type, weight, expiry), as _blacklist_groups."""
    grouped: dict[tuple, list[str]] = {}
    for entity_type, entity_id, weight, expires_at in rows:
        grouped.setdefault((entity_type, weight, expires_at), []).append(entity_id)
    return [{"entity_type": t, "weight": w, "expires_at": _iso(exp), "entity_ids": ids}
            for (t, w, exp), ids in sorted(grouped.items(),
                                           key=lambda item: (item[0][0], item[0][1], _ending(item[0][2])))]


def _removed_groups(rows) -> list[dict]:
    grouped: dict[str, list[str]] = {}
    for entity_type, entity_id in sorted(rows):
        grouped.setdefault(entity_type, []).append(entity_id)
    return [{"entity_type": t, "entity_ids": ids} for t, ids in sorted(grouped.items())]


def _serialise(found: selectors.ServingList, now: datetime) -> tuple[str, bytes]:
    lists = _dumps({"blacklist": _blacklist_groups(found.blacklist), "boosts": _boost_groups(found.boosts)})
    next_expiry = _iso(found.next_expiry)
    digest = hashlib.blake2b(f"{found.surface}\n{next_expiry}\n".encode(), digest_size=16)
    digest.update(lists)
    head = _dumps({"surface": found.surface, "generated_at": _iso(now), "cursor": str(found.cursor),
                   "next_expiry": next_expiry})
    return f'W/"{digest.hexdigest()}"', head[:-1] + b"," + lists[1:]


def _build(surface: str, gen: int, now: datetime) -> dict:
    found = selectors.serving_list(surface=selectors.surface_get(surface), now=now)
    etag, body = _serialise(found, now)
    bodies = (body, gzip.compress(body, compresslevel=6, mtime=0))
    body_key = f"support:lists:body:{etag}"
    cache.set(body_key, bodies, timeout=_ttl() + 60)
    _local_put(etag, bodies)
    meta = {"gen": gen, "etag": etag, "body_key": body_key,
            "valid_until": found.next_expiry.timestamp() if found.next_expiry else None}
    cache.set(_meta_key(surface), meta, timeout=_ttl())
    return meta


def list_meta(surface: str, now: datetime) -> dict:
    """The current list's ETag and where its bytes are, building it if needed (one builder at a
    time per surface and generation; the others wait for its result rather than all querying)."""
    found = _get_many([GEN_KEY, _meta_key(surface)])
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
            meta = _get_many([_meta_key(surface)]).get(_meta_key(surface))
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
        stored = _get_many([meta["body_key"]]).get(meta["body_key"])
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


def _serialise_changes(found: selectors.ServingChanges) -> bytes:
    return _dumps({
        "surface": found.surface,
        "generated_at": _iso(found.cursor.at),
        "since": str(found.since),
        "cursor": str(found.cursor),
        "next_expiry": _iso(found.next_expiry),
        "added": {"blacklist": _blacklist_groups(sorted(found.added_blacklist, key=_row_order)),
                  "boosts": _boost_groups(sorted(found.added_boosts, key=_row_order))},
        "removed": {"blacklist": _removed_groups(found.removed_blacklist),
                    "boosts": _removed_groups(found.removed_boosts)},
    })


def _row_order(row: tuple) -> tuple:
    return row[0], row[1]


def _delta_key(surface: str, cursor: str) -> str:
    return f"support:lists:delta:{surface}:{cursor}"


def _delta_valid(cached, gen: int, cursor: selectors.Cursor, now: datetime) -> bool:
    """A stored answer for a cursor holds while no change was made (same generation) and nothing
    expired (before the next expiry it saw)."""
    return (isinstance(cached, dict) and cached.get("gen") == gen
            and (cached["valid_until"] is None or now.timestamp() < cached["valid_until"])
            and cached["computed_at"] >= cursor.at.timestamp())


def changes(surface: str, since: str, now: datetime) -> bytes:
    cursor = selectors.Cursor.parse(since)
    key = _delta_key(surface, str(cursor))
    found = _get_many([GEN_KEY, key])
    gen = found.get(GEN_KEY)
    gen = current_gen() if gen is None else int(gen)
    if _delta_valid(found.get(key), gen, cursor, now):
        return found[key]["body"]
    changed = selectors.serving_changes(surface=selectors.surface_get(surface), since=cursor, now=now)
    body = _serialise_changes(changed)
    cache.set(key, {"gen": gen, "body": body, "computed_at": now.timestamp(),
                    "valid_until": changed.next_expiry.timestamp() if changed.next_expiry else None},
              timeout=min(_ttl(), 120))
    return body


# --- authentication of pollers -----------------------------------------------------------------------


def _auth_key(token: str) -> str:
    return "support:lists:auth:" + hashlib.sha256(token.encode()).hexdigest()


def _granted(found: dict | None, permission: str, now: datetime) -> bool:
    """A cached grant carries its own end, so a copy of it (a worker's near cache) ends with it."""
    return (found is not None and now.timestamp() < found.get("until", 0)
            and (found["permissions"] is None or permission in found["permissions"]))


@dataclass(frozen=True)
class CachedGrant:
    """request.auth of a poller authenticated from the cache: the permissions its user had."""

    permissions: frozenset[str]


class CachedTokenAuthentication(TokenAuthentication):
    """Token authentication whose result (user and permissions, never the password hash) is cached
    briefly: serving systems poll with the same token many times a second."""

    def authenticate_credentials(self, key):
        cache_key = _auth_key(key)
        found = _get_many([cache_key]).get(cache_key)
        now = timezone.now().timestamp()
        if found is None or now >= found.get("until", 0):
            user, _ = super().authenticate_credentials(key)  # raises for an unknown or inactive user
            seconds = max(1, settings.KEEL_SUPPORT_LISTS_AUTH_CACHE_SECONDS)
            found = {"pk": user.pk, "username": user.get_username(), "until": now + seconds,
                     "permissions": frozenset(user.get_all_permissions()) if not user.is_superuser else None}
            cache.set(cache_key, found, timeout=seconds)
        from django.contrib.auth import get_user_model

        user_model = get_user_model()
        user = user_model(pk=found["pk"], is_active=True, is_superuser=found["permissions"] is None)
        setattr(user, user_model.USERNAME_FIELD, found["username"])
        return user, CachedGrant(found["permissions"] or frozenset())

    def authenticate_header(self, request):
        return "Token"


# In the OpenAPI schema it is the same "tokenAuth" scheme as DRF's TokenAuthentication.
set_override(CachedTokenAuthentication, "suppress_collision_warning", True)


# --- the poll's fast path -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class FastAnswer:
    etag: str | None = None  # a list's ETag: not modified if there is no body
    bodies: LocalBodies | None = None  # the list (JSON, gzip)
    changes: bytes | None = None  # the answer to ?since=


def fast_answer(*, token: str, permission: str, surface: str, if_none_match: str | None, since: str | None,
                now: datetime) -> FastAnswer | None:
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
    auth_key = _auth_key(token)
    key = _meta_key(surface) if cursor is None else _delta_key(surface, str(cursor))
    found = _poll_get_many([auth_key, GEN_KEY, key])
    answer = _answer_from(found, auth_key, key, permission=permission, cursor=cursor,
                          if_none_match=if_none_match, now=now)
    if answer is None:
        # Django's path writes what replaces them (a grant, a list description of the current
        # generation) without announcing it: this worker's copies would only send polls there again.
        near.forget([auth_key, key])
    return answer


def _answer_from(found: dict, auth_key: str, key: str, *, permission: str, cursor, if_none_match: str | None,
                 now: datetime) -> FastAnswer | None:
    gen = found.get(GEN_KEY)
    if gen is None or not _granted(found.get(auth_key), permission, now):
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


def etag_matches(header: str | None, etag: str) -> bool:
    """If-None-Match, compared weakly (RFC 9110: W/ is ignored for If-None-Match)."""
    if not header:
        return False
    bare = etag.removeprefix("W/")
    return any(tag.strip() == "*" or tag.strip().removeprefix("W/") == bare for tag in header.split(","))
