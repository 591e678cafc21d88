"""The one notion of "now": naive UTC, as stored in the database.

Services read the time from the database handle's clock (``db.clock.now()``), which the app
factory and the tests choose (see :mod:`expertloop.clock`); :func:`utcnow` is the machine's
time, for code that runs outside an app.
"""

from __future__ import annotations

from datetime import datetime

from expertloop.clock import SYSTEM_CLOCK, Clock, FakeClock, SystemClock

__all__ = ["SYSTEM_CLOCK", "Clock", "FakeClock", "SystemClock", "iso_utc", "utcnow"]


def utcnow() -> datetime:
    return SYSTEM_CLOCK.now()


def iso_utc(moment: datetime) -> str:
    """Stored times are naive UTC; outside, they always say so with a trailing ``Z``."""
    return moment.isoformat(timespec="milliseconds") + "Z"
