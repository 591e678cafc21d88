"""Managing single items: look one up, disable it, enable it again, delete it.

A disabled item is never handed out again (its live leases end) and says why; a deleted item
is disabled for good. Neither loses its answers: the row and its answers stay, for audit.
``next`` disables an item by itself when its stored payload cannot be served (see
:func:`expertloop.services.assignments.next_assignment`), so one bad item never stalls workers.
"""

from __future__ import annotations

from sqlalchemy import Connection

from expertloop.domain import User
from expertloop.domain.policies import can_import_items
from expertloop.domain.safe_json import json_problem
from expertloop.errors import InputInvalid, NotFound, PermissionDenied
from expertloop.services.projects import load_project
from expertloop.store import Database, audit
from expertloop.store import items as item_store
from expertloop.store.items import ItemState

__all__ = [
    "MAX_REASON_CHARS",
    "ItemState",
    "delete_item",
    "disable_item",
    "disable_unservable_item",
    "enable_item",
    "get_item",
]

MAX_REASON_CHARS = 2000


def _managed_item(conn: Connection, *, actor: User, item_id: int) -> ItemState:
    """The item if ``actor`` manages its project; ``NotFound`` otherwise, so ids don't leak."""
    state = item_store.item_state(conn, item_id)
    if state is None:
        raise NotFound(f"item {item_id} not found")
    try:
        project = load_project(conn, actor=actor, project_id=state.project_id)
    except NotFound:
        raise NotFound(f"item {item_id} not found") from None
    # Managing an item is importing's other half: the same people may do both.
    if not can_import_items(actor, is_member=project.is_member):
        raise PermissionDenied("only the project's managers can manage its items")
    return state


def get_item(db: Database, *, actor: User, item_id: int) -> ItemState:
    with db.read() as conn:
        return _managed_item(conn, actor=actor, item_id=item_id)


def disable_item(db: Database, *, actor: User, item_id: int, reason: str = "") -> ItemState:
    """Stop handing the item out; idempotent (a disabled item keeps its first reason)."""
    reason = reason.strip() or f"disabled by {actor.username}"
    if len(reason) > MAX_REASON_CHARS:
        raise InputInvalid.on_field("reason", f"at most {MAX_REASON_CHARS} characters")
    problem = json_problem(reason, path="reason")
    if problem is not None:
        raise InputInvalid(f"{problem.field}: {problem.message}", details=[problem.to_dict()])
    now = db.clock.now()
    with db.write() as conn:
        state = _managed_item(conn, actor=actor, item_id=item_id)
        if item_store.disable_item(conn, item_id, reason=reason, now=now):
            audit.record_event(
                conn,
                action="item.disabled",
                actor_id=actor.id,
                project_id=state.project_id,
                now=now,
                details={"item_id": item_id, "reason": reason},
            )
        return _state(conn, item_id)


def enable_item(db: Database, *, actor: User, item_id: int) -> ItemState:
    """Hand the item out again; a deleted item cannot be enabled (422 says so)."""
    now = db.clock.now()
    with db.write() as conn:
        state = _managed_item(conn, actor=actor, item_id=item_id)
        if state.deleted_at is not None:
            raise InputInvalid.on_field("item_id", f"item {item_id} was deleted")
        if item_store.enable_item(conn, item_id):
            audit.record_event(
                conn,
                action="item.enabled",
                actor_id=actor.id,
                project_id=state.project_id,
                now=now,
                details={"item_id": item_id},
            )
        return _state(conn, item_id)


def delete_item(db: Database, *, actor: User, item_id: int) -> ItemState:
    """Delete the item for good; its row and answers are kept for audit."""
    now = db.clock.now()
    with db.write() as conn:
        state = _managed_item(conn, actor=actor, item_id=item_id)
        if item_store.delete_item(conn, item_id, now=now):
            audit.record_event(
                conn,
                action="item.deleted",
                actor_id=actor.id,
                project_id=state.project_id,
                now=now,
                details={"item_id": item_id},
            )
        return _state(conn, item_id)


def disable_unservable_item(db: Database, *, item_id: int, project_id: int, why: str) -> None:
    """Flag an item whose stored payload cannot be served (e.g. stored before the checks
    at the door existed): disable it with the reason, and record it in the audit log."""
    reason = f"payload cannot be served: {why}"[:MAX_REASON_CHARS]
    now = db.clock.now()
    with db.write() as conn:
        if item_store.disable_item(conn, item_id, reason=reason, now=now):
            audit.record_event(
                conn,
                action="item.disabled",
                actor_id=None,
                project_id=project_id,
                now=now,
                details={"item_id": item_id, "reason": reason},
            )


def _state(conn: Connection, item_id: int) -> ItemState:
    state = item_store.item_state(conn, item_id)
    assert state is not None  # the caller found it in this transaction
    return state
