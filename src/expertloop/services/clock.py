"""The one notion of "now": naive UTC, as stored in the database."""

from __future__ import annotations

from datetime import UTC, datetime

__all__ = ["utcnow"]


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)
