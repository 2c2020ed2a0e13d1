"""A bounded map a worker's threads share: what a worker keeps between requests (verified session
cookies, signed CSRF tokens, rendered parts of list screens), the least recently used forgotten
first. ``cachetools.LRUCache`` does the bookkeeping; it is not thread-safe, hence the lock."""
from __future__ import annotations

import threading
from typing import Any, Callable, Hashable

from cachetools import LRUCache


class Kept:
    def __init__(self, maxsize: int):
        self._cache: LRUCache = LRUCache(maxsize)
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> Any:
        with self._lock:
            return self._cache.get(key)

    def put(self, key: Hashable, value: Any) -> Any:
        with self._lock:
            self._cache[key] = value
        return value

    def get_or_build(self, key: Hashable, build: Callable[[], Any]) -> Any:
        """The value kept under ``key``, else ``build()`` kept (built outside the lock: two threads
        may build the same value once each, which is harmless for what is kept here)."""
        found = self.get(key)
        return found if found is not None else self.put(key, build())

    def __len__(self) -> int:
        return len(self._cache)
