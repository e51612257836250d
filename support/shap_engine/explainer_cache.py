"""Built explainers kept per process (an LRU keyed by version and task type), so repeated
single-row explanations of a version skip building its explainer."""

from __future__ import annotations

import threading
from collections import OrderedDict

from .agnostic import AgnosticPath
from .background import background_frame
from .tree import TreePath, Unsupported

CACHE_SIZE = 16  # built explainers kept per process (a few versions x task types)


class _ExplainerCache:
    def __init__(self, maxsize: int):
        self.maxsize = maxsize
        self.entries: OrderedDict = OrderedDict()
        self.lock = threading.Lock()
        self.hits = self.misses = 0

    def get(self, key):
        with self.lock:
            entry = self.entries.get(key)
            if entry is not None:
                self.entries.move_to_end(key)
                self.hits += 1
            return entry

    def put(self, key, entry) -> None:
        with self.lock:
            self.misses += 1
            self.entries[key] = entry
            self.entries.move_to_end(key)
            while len(self.entries) > self.maxsize:
                self.entries.popitem(last=False)

    def clear(self) -> None:
        with self.lock:
            self.entries.clear()
            self.hits = self.misses = 0


_CACHE = _ExplainerCache(CACHE_SIZE)


def clear_explainer_cache() -> None:
    _CACHE.clear()


def explainer_cache_info() -> dict:
    with _CACHE.lock:
        return {"hits": _CACHE.hits, "misses": _CACHE.misses, "size": len(_CACHE.entries), "maxsize": _CACHE.maxsize}


def is_explainer_cached(version_key: str, task_type: str) -> bool:
    """Whether an explanation for this version would be warm (no explainer to build)."""
    with _CACHE.lock:
        return (version_key, task_type) in _CACHE.entries


def build_explainer(estimator, task_type, features, background):
    """The tree path when it can explain the model exactly, else the model-agnostic path."""
    model = estimator() if callable(estimator) and not hasattr(estimator, "fit") else estimator
    frame = background_frame(background, features)
    try:
        return TreePath(model, task_type, features, frame)
    except Unsupported:
        return AgnosticPath(model, task_type, features, frame)


def explainer_for(estimator, task_type: str, features, background, *, version_key: str | None):
    """The explainer for a version: built anew without a ``version_key``, else taken from (or built
    into) the per-process cache under (version_key, task_type)."""
    if version_key is None:
        return build_explainer(estimator, task_type, features, background)
    key = (version_key, task_type)
    engine = _CACHE.get(key)
    if engine is None:
        engine = build_explainer(estimator, task_type, features, background)
        _CACHE.put(key, engine)
    return engine
