"""A process-local memory of recent answers from the database, each kept for a while."""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

from expertloop.clock import SYSTEM_CLOCK, Clock

__all__ = ["ExpiringCache"]

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class ExpiringCache(Generic[K, V]):
    """Values remembered for ``ttl_seconds`` (``0`` remembers nothing).

    Expiries are spread over the last quarter of the period, so that entries stored
    together (a workforce starting at once) are not all looked up again in one instant.
    At ``max_entries`` the cache starts afresh rather than tracking recency: the entries
    are cheap to look up again. Safe to use from threads and from the event loop (no call
    blocks for longer than a dictionary operation). Time is ``clock.monotonic()``.
    """

    def __init__(
        self, ttl_seconds: float, *, max_entries: int = 100_000, clock: Clock = SYSTEM_CLOCK
    ) -> None:
        self._monotonic = clock.monotonic
        self._ttl = ttl_seconds
        self._max_entries = max_entries
        self._entries: dict[K, tuple[V, float]] = {}
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        entry = self._entries.get(key)
        if entry is not None and entry[1] > self._monotonic():
            return entry[0]
        return None

    def put(self, key: K, value: V) -> None:
        if self._ttl <= 0:
            return
        expires = self._monotonic() + self._ttl * random.uniform(0.75, 1.0)
        with self._lock:
            if len(self._entries) >= self._max_entries:
                self._entries.clear()
            self._entries[key] = (value, expires)

    def forget(self, key: K) -> None:
        with self._lock:
            self._entries.pop(key, None)

    def forget_where(self, matches: Callable[[K, V], bool]) -> int:
        """Drop every entry for which ``matches(key, value)``; how many. A scan of the whole
        cache: for rare events (a user suspended), not for the hot path."""
        with self._lock:
            doomed = [k for k, (v, _) in self._entries.items() if matches(k, v)]
            for key in doomed:
                del self._entries[key]
        return len(doomed)
