"""The audit log: who did what, when, to which project."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert

from expertloop.store import tables as t

__all__ = ["record_event"]


def record_event(
    conn: Connection,
    *,
    action: str,
    actor_id: int | None,
    now: datetime,
    project_id: int | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    conn.execute(
        insert(t.AuditEvent).values(
            at=now, actor_id=actor_id, action=action, project_id=project_id, details=details or {}
        )
    )
