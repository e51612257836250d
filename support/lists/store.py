"""Reads of the serving lists' cache keys, in one Redis round trip per call, for the list cache,
the poll's fast path and the pollers' authentication."""

import threading

from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache

from .near import near

_thread = threading.local()


def get_many(keys: list[str]) -> dict:
    """cache.get_many, in one round trip and without per-call client setup.

    Django's Redis backend builds a new redis.Redis client for every call, and with redis-py 8
    building one costs about a quarter of a millisecond (it rebuilds its response-callback table):
    more than the round trip itself, twice per poll. Polls reuse one client per thread, with Django's
    own key names and serializer. Other backends (the quick start's memory cache) use the cache API.
    """
    backend, client = thread_client()
    if client is None:
        return backend.get_many(keys)
    values = client.mget([backend.make_key(key) for key in keys])
    loads = backend._cache._serializer.loads
    return {key: loads(value) for key, value in zip(keys, values) if value is not None}


def thread_client():
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


def poll_get_many(keys: list[str]) -> dict:
    """get_many for the poll's fast path: what this worker already holds comes from its near cache
    (kept exact by change announcements, see support.lists.near), the rest from Redis in one round trip."""
    backend, client = thread_client()
    if client is None:
        return get_many(keys)
    near.ensure_listening(lambda: backend._cache.get_client(None, write=True))
    found, epoch = near.get(keys)
    missing = [key for key in keys if key not in found]
    if missing:
        fetched = get_many(missing)
        near.put(fetched, epoch)
        found.update(fetched)
    return found
