"""The audit log: who did what, when, to which project, and what it changed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select

from expertloop.store import tables as t

__all__ = ["AuditEntry", "list_events", "record_event"]


@dataclass(frozen=True, slots=True)
class AuditEntry:
    id: int
    at: datetime
    actor_id: int | None
    actor: str | None
    action: str
    project_id: int | None
    details: dict[str, Any]
    before: dict[str, Any] | None
    after: dict[str, Any] | None


def record_event(
    conn: Connection,
    *,
    action: str,
    actor_id: int | None,
    now: datetime,
    project_id: int | None = None,
    details: dict[str, Any] | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    """Record an action in the caller's transaction, so it is logged exactly when it happens.
    ``actor_id=None`` is the operator at the command line."""
    conn.execute(
        insert(t.AuditEvent).values(
            at=now,
            actor_id=actor_id,
            action=action,
            project_id=project_id,
            details=details or {},
            before=before,
            after=after,
        )
    )


def list_events(
    conn: Connection,
    *,
    after_id: int = 0,
    limit: int = 100,
    action: str | None = None,
    actor_id: int | None = None,
    project_id: int | None = None,
) -> list[AuditEntry]:
    """Events with ids above ``after_id``, oldest first (keyset pages: pass the last id)."""
    query = (
        select(
            t.AuditEvent.id,
            t.AuditEvent.at,
            t.AuditEvent.actor_id,
            t.User.username,
            t.AuditEvent.action,
            t.AuditEvent.project_id,
            t.AuditEvent.details,
            t.AuditEvent.before,
            t.AuditEvent.after,
        )
        .outerjoin(t.User, t.User.id == t.AuditEvent.actor_id)
        .where(t.AuditEvent.id > after_id)
        .order_by(t.AuditEvent.id)
        .limit(limit)
    )
    if action is not None:
        query = query.where(t.AuditEvent.action == action)
    if actor_id is not None:
        query = query.where(t.AuditEvent.actor_id == actor_id)
    if project_id is not None:
        query = query.where(t.AuditEvent.project_id == project_id)
    return [
        AuditEntry(
            id=r.id,
            at=r.at,
            actor_id=r.actor_id,
            actor=r.username,
            action=r.action,
            project_id=r.project_id,
            details=r.details,
            before=r.before,
            after=r.after,
        )
        for r in conn.execute(query)
    ]
