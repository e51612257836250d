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
import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.core.cache import cache, caches
from django.core.cache.backends.redis import RedisCache
from drf_spectacular.drainage import set_override
from rest_framework.authentication import TokenAuthentication

from . import selectors

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
    backend = caches["default"]
    found = getattr(_thread, "redis", None)
    if found is None or found[0] is not backend:
        client = None
        inner = getattr(backend, "_cache", None) if isinstance(backend, RedisCache) else None
        if inner is not None and len(getattr(inner, "_servers", ())) == 1:
            client = inner.get_client(None, write=True)
        found = _thread.redis = (backend, client)
    client = found[1]
    if client is None:
        return backend.get_many(keys)
    values = client.mget([backend.make_key(key) for key in keys])
    loads = backend._cache._serializer.loads
    return {key: loads(value) for key, value in zip(keys, values) if value is not None}


def _fresh_gen() -> int:
    return secrets.randbits(52)


def current_gen() -> int:
    gen = _get_many([GEN_KEY]).get(GEN_KEY)
    if gen is None:
        cache.add(GEN_KEY, _fresh_gen(), timeout=None)
        gen = cache.get(GEN_KEY)
    return int(gen)


def invalidate() -> None:
    """Every cached list and delta is stale: called after each committed change."""
    try:
        cache.incr(GEN_KEY)
    except ValueError:  # no generation yet (or evicted): any fresh one differs from the old ones
        if not cache.add(GEN_KEY, _fresh_gen(), timeout=None):
            cache.incr(GEN_KEY)


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.isoformat().replace("+00:00", "Z")


def _dumps(data) -> bytes:
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()


# --- per-worker memory of the last bodies ----------------------------------------------------------

_LOCAL_MAX = 8
_local_bodies: "OrderedDict[str, tuple[bytes, bytes]]" = OrderedDict()
_local_lock = threading.Lock()


def _local_get(etag: str):
    with _local_lock:
        found = _local_bodies.get(etag)
        if found is not None:
            _local_bodies.move_to_end(etag)
        return found


def _local_put(etag: str, bodies: tuple[bytes, bytes]) -> None:
    with _local_lock:
        _local_bodies[etag] = bodies
        _local_bodies.move_to_end(etag)
        while len(_local_bodies) > _LOCAL_MAX:
            _local_bodies.popitem(last=False)


def clear_local() -> None:
    with _local_lock:
        _local_bodies.clear()


# --- the full list ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CachedList:
    etag: str
    body: bytes
    gzip_body: bytes


def _meta_key(surface: str) -> str:
    return f"support:lists:meta:{surface}"


def _ttl() -> int:
    return max(1, settings.KEEL_SUPPORT_LISTS_CACHE_SECONDS)


def _valid(meta, gen: int, now: datetime) -> bool:
    return (isinstance(meta, dict) and meta.get("gen") == gen
            and (meta["valid_until"] is None or now.timestamp() < meta["valid_until"]))


def _serialise(found: selectors.ServingList, now: datetime) -> tuple[str, bytes]:
    lists = _dumps({
        "blacklist": [{"entity_type": t, "entity_id": i, "expires_at": _iso(exp)} for t, i, exp in found.blacklist],
        "boosts": [{"entity_type": t, "entity_id": i, "weight": w, "expires_at": _iso(exp)}
                   for t, i, w, exp in found.boosts],
    })
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


def list_bodies(meta: dict) -> tuple[bytes, bytes]:
    bodies = _local_get(meta["etag"])
    if bodies is None:
        bodies = _get_many([meta["body_key"]]).get(meta["body_key"])
        if bodies is None:
            return None
        _local_put(meta["etag"], bodies)
    return bodies


def full_list(surface: str, now: datetime) -> CachedList:
    for _ in range(3):
        meta = list_meta(surface, now)
        bodies = list_bodies(meta)
        if bodies is not None:
            return CachedList(meta["etag"], *bodies)
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
        "added": {
            "blacklist": [{"entity_type": t, "entity_id": i, "expires_at": _iso(exp)}
                          for t, i, exp in found.added_blacklist],
            "boosts": [{"entity_type": t, "entity_id": i, "weight": w, "expires_at": _iso(exp)}
                       for t, i, w, exp in found.added_boosts],
        },
        "removed": {
            "blacklist": [{"entity_type": t, "entity_id": i} for t, i in found.removed_blacklist],
            "boosts": [{"entity_type": t, "entity_id": i} for t, i in found.removed_boosts],
        },
    })


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


def _granted(found: dict | None, permission: str) -> bool:
    return found is not None and (found["permissions"] is None or permission in found["permissions"])


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
        if found is None:
            user, _ = super().authenticate_credentials(key)  # raises for an unknown or inactive user
            found = {"pk": user.pk, "username": user.get_username(),
                     "permissions": frozenset(user.get_all_permissions()) if not user.is_superuser else None}
            cache.set(cache_key, found, timeout=max(1, settings.KEEL_SUPPORT_LISTS_AUTH_CACHE_SECONDS))
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
    bodies: tuple[bytes, bytes] | None = None  # the list (JSON, gzip)
    changes: bytes | None = None  # the answer to ?since=


def fast_answer(*, token: str, permission: str, surface: str, if_none_match: str | None, since: str | None,
                now: datetime) -> FastAnswer | None:
    """A poll answered with one cache round trip, before DRF runs, for a token whose user and
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
    found = _get_many([auth_key, GEN_KEY, key])
    gen = found.get(GEN_KEY)
    if gen is None or not _granted(found.get(auth_key), permission):
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
