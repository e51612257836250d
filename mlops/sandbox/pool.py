"""Warm scorers kept per artifact (by its sha256) in the calling process, so the second explanation
of a version skips starting a process, loading the artifact and building its explainer.

A small LRU: at most ``maxsize`` children, each closed after ``idle_seconds`` without use; one child
per key, used by one caller at a time (a lock per child). A child that hit a limit or crashed is
replaced at the next use. After a fork the children belong to the parent: the pool starts empty.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator

from .runner import Scorer

__all__ = ["WarmPool"]


class _Entry:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.scorer: Scorer | None = None
        self.used = 0.0


class WarmPool:
    def __init__(self, *, maxsize: int = 4, idle_seconds: float = 600, clock: Callable[[], float] = time.monotonic):
        self.maxsize, self.idle_seconds, self.clock = maxsize, idle_seconds, clock
        self._lock = threading.Lock()
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._pid = os.getpid()

    @contextlib.contextmanager
    def scorer(self, key: str, start: Callable[[], Scorer]) -> Iterator[Scorer]:
        """The warm scorer for ``key`` (started with ``start()`` when there is none), held by this
        caller alone until the block ends."""
        with self._lock:
            if os.getpid() != self._pid:
                self._entries, self._pid = OrderedDict(), os.getpid()
            entry = self._entries.get(key)
            if entry is None:
                entry = self._entries[key] = _Entry()
            self._entries.move_to_end(key)
            retired = self._retire(keep=key)
        for old in retired:
            old.close()
        with entry.lock:
            if entry.scorer is None or not entry.scorer.alive:
                entry.scorer = start()
            entry.used = self.clock()
            try:
                yield entry.scorer
            finally:
                entry.used = self.clock()

    def _retire(self, *, keep: str) -> list[Scorer]:
        """Take out the idle children and those past the LRU's size (not one in use)."""
        now, retired = self.clock(), []
        for key in list(self._entries):
            entry = self._entries[key]
            over = len(self._entries) > self.maxsize
            idle = entry.scorer is not None and now - entry.used > self.idle_seconds
            if key == keep or not (over or idle or (entry.scorer is not None and not entry.scorer.alive)):
                continue
            if entry.lock.acquire(blocking=False):
                try:
                    if entry.scorer is not None:
                        retired.append(entry.scorer)
                    del self._entries[key]
                finally:
                    entry.lock.release()
        return retired

    def holds(self, key: str) -> bool:
        with self._lock:
            entry = self._entries.get(key)
            return entry is not None and entry.scorer is not None and entry.scorer.alive

    def close(self) -> None:
        with self._lock:
            entries, self._entries = list(self._entries.values()), OrderedDict()
        for entry in entries:
            with entry.lock:
                if entry.scorer is not None:
                    entry.scorer.close()
                    entry.scorer = None
