"""Failed sign-ins, counted per username and per address over a sliding window."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, delete, func, insert, select

from expertloop.store import tables as t

__all__ = ["FailureCount", "failures_since", "forget_failures_before", "record_failure"]


@dataclass(frozen=True, slots=True)
class FailureCount:
    count: int
    oldest: datetime | None


def record_failure(conn: Connection, *, username: str, address: str, now: datetime) -> None:
    conn.execute(
        insert(t.LoginFailure).values(at=now, username=username[:150], address=address[:64])
    )


def failures_since(
    conn: Connection, since: datetime, *, username: str | None = None, address: str | None = None
) -> FailureCount:
    """How many failures for this username (or from this address) came after ``since``, and
    when the oldest of them was (it leaves the window first)."""
    query = select(func.count(), func.min(t.LoginFailure.at)).where(t.LoginFailure.at > since)
    if username is not None:
        query = query.where(t.LoginFailure.username == username[:150])
    if address is not None:
        query = query.where(t.LoginFailure.address == address[:64])
    count, oldest = conn.execute(query).one()
    return FailureCount(int(count), oldest)


def forget_failures_before(conn: Connection, cutoff: datetime) -> None:
    """Drop failures older than the window: they no longer count for anything."""
    conn.execute(delete(t.LoginFailure).where(t.LoginFailure.at <= cutoff))
