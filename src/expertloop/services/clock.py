"""The one notion of "now": naive UTC, as stored in the database."""

from __future__ import annotations

from datetime import UTC, datetime

__all__ = ["iso_utc", "utcnow"]


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def iso_utc(moment: datetime) -> str:
    """Stored times are naive UTC; outside, they always say so with a trailing ``Z``."""
    return moment.isoformat(timespec="milliseconds") + "Z"
