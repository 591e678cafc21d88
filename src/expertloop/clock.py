"""Where time comes from: a :class:`Clock` the app is built with, so tests move time forward
instead of sleeping.

Two readings: :meth:`Clock.now`, naive UTC as stored in the database (lease expiries, token
lifetimes, timestamps), and :meth:`Clock.monotonic`, seconds for measuring intervals (how
long a cache entry is trusted). The database handle carries the app's clock
(``Database.clock``), so every service that takes a database reads the same time.

>>> clock = FakeClock(datetime(2026, 1, 1))
>>> clock.advance(90)
>>> clock.now()
datetime.datetime(2026, 1, 1, 0, 1, 30)
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol

__all__ = ["SYSTEM_CLOCK", "Clock", "FakeClock", "SystemClock"]


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, naive UTC (as stored)."""
        ...

    def monotonic(self) -> float:
        """Seconds from an arbitrary origin that never goes back (for intervals)."""
        ...


class SystemClock:
    """The machine's clocks."""

    def now(self) -> datetime:
        return datetime.now(UTC).replace(tzinfo=None)

    # The function itself, not a wrapper: caches read it on the annotator hot path.
    monotonic = staticmethod(time.monotonic)


SYSTEM_CLOCK = SystemClock()


class FakeClock:
    """A clock that stands still until :meth:`advance` moves it (for tests; safe to read
    from other threads, such as a server's lease sweeper, while a test moves it)."""

    def __init__(self, start: datetime | None = None) -> None:
        if start is not None and start.tzinfo is not None:
            raise ValueError("FakeClock starts at a naive UTC time, as the database stores")
        self._start = start if start is not None else SYSTEM_CLOCK.now()
        self._elapsed = 0.0
        self._lock = threading.Lock()

    def now(self) -> datetime:
        return self._start + timedelta(seconds=self._elapsed)

    def monotonic(self) -> float:
        return self._elapsed

    def advance(self, seconds: float) -> None:
        """Move time forward by ``seconds`` (never back: leases and caches assume it)."""
        if seconds < 0:
            raise ValueError("a clock does not go back; advance by zero or more seconds")
        with self._lock:
            self._elapsed += seconds
