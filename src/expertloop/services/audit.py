"""Reading the audit log (admins): every manager's and admin's action, who, what and when."""

from __future__ import annotations

from expertloop.domain import User, can_manage_users
from expertloop.errors import InputInvalid, PermissionDenied
from expertloop.store import Database, audit
from expertloop.store.audit import AuditEntry

__all__ = ["MAX_PAGE", "list_events"]

MAX_PAGE = 1000


def list_events(
    db: Database,
    *,
    actor: User | None,
    after_id: int = 0,
    limit: int = 100,
    action: str | None = None,
    actor_id: int | None = None,
    project_id: int | None = None,
) -> list[AuditEntry]:
    """A page of events, oldest first, after ``after_id``. ``actor=None`` is the operator."""
    if actor is not None and not can_manage_users(actor):
        raise PermissionDenied("only admins can read the audit log")
    if not 1 <= limit <= MAX_PAGE:
        raise InputInvalid.on_field("limit", f"limit must be 1 to {MAX_PAGE}")
    with db.read() as conn:
        return audit.list_events(
            conn,
            after_id=after_id,
            limit=limit,
            action=action,
            actor_id=actor_id,
            project_id=project_id,
        )
