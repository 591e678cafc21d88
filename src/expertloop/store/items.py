"""Items: bulk import, external ids, progress counts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, case, func, insert, select, update

from expertloop.domain import AssignmentStatus
from expertloop.store import tables as t
from expertloop.store.counters import note_item_changed
from expertloop.store.dialects import insert_ignoring_conflicts

__all__ = [
    "SEARCH_TEXT_CHARS",
    "ItemState",
    "Progress",
    "delete_item",
    "disable_item",
    "enable_item",
    "insert_items",
    "item_state",
    "project_progress",
    "search_text",
]

# The item browser searches this much of each item's text (external id, then the payload's
# strings in order); the rest of a long payload is not searched.
SEARCH_TEXT_CHARS = 4000


def _strings(value: Any, out: list[str]) -> None:
    if isinstance(value, str):
        out.append(value)
    elif isinstance(value, dict):
        for v in value.values():
            _strings(v, out)
    elif isinstance(value, list):
        for v in value:
            _strings(v, out)


def search_text(external_id: str | None, payload: Any) -> str:
    """What the item browser's text search matches: the external id and every string of
    the payload, lower-cased (the search is case-insensitive on both databases), capped at
    :data:`SEARCH_TEXT_CHARS`."""
    parts = [external_id or ""]
    _strings(payload, parts)
    return "\n".join(parts).lower()[:SEARCH_TEXT_CHARS]


@dataclass(frozen=True, slots=True)
class ItemState:
    """An item's bookkeeping, without its payload (which may be what cannot be served)."""

    id: int
    project_id: int
    external_id: str | None
    priority: int
    target: int
    n_answers: int
    open_slots: int
    created_at: datetime
    disabled_at: datetime | None
    disabled_reason: str | None
    deleted_at: datetime | None


@dataclass(frozen=True, slots=True)
class Progress:
    items: int
    answers: int
    items_complete: int
    active_leases: int


def insert_items(
    conn: Connection,
    project_id: int,
    items: Sequence[dict[str, Any]],
    *,
    target: int,
    now: datetime,
    gold_target: int | None = None,
    ids: list[int] | None = None,
) -> set[str]:
    """Insert validated items (dicts with external_id, payload, gold, priority, and
    optionally meta).

    Returns the external ids that already existed in the project: those rows were not
    inserted, and the caller rolls back to keep the import all-or-nothing. The unique index
    finds them, so no look-up scans the project's items first. ``ids``, if given, gets the
    ids of the rows inserted (what the caller's next statements on them need).
    """
    # ``gold_target``: where every worker may answer each gold item (gold mixed in, exams).
    rows = []
    for item in items:
        n = gold_target if gold_target is not None and item.get("gold") is not None else target
        rows.append(
            {
                "project_id": project_id,
                "external_id": item.get("external_id"),
                "payload": item["payload"],
                "gold": item.get("gold"),
                "meta": item.get("meta"),
                "priority": item.get("priority", 0),
                "target": n,
                "n_answers": 0,
                "open_slots": n,
                "created_at": now,
            }
        )
    statement = insert_ignoring_conflicts(conn, t.Item, ("project_id", "external_id")).returning(
        t.Item.id, t.Item.external_id
    )
    wanted = {r["external_id"] for r in rows if r["external_id"] is not None}
    inserted: set[str] = set()
    for start in range(0, len(rows), 5000):
        chunk = rows[start : start + 5000]
        result = sorted(conn.execute(statement, chunk).all())
        taken = {r.external_id for r in result if r.external_id is not None}
        inserted.update(taken)
        if ids is not None:
            ids.extend(row.id for row in result)
        # Ids are given in the rows' order, so the inserted rows (those without an external
        # id, and those whose external id went in) pair with the returned ids in id order.
        stored, seen = [], set()
        for item in chunk:
            key = item["external_id"]
            if key is None or (key in taken and key not in seen):
                stored.append(item)
                seen.add(key)
        if result:
            conn.execute(
                insert(t.ItemSearch),
                [
                    {"item_id": row.id, "project_id": project_id,
                     "text": search_text(item["external_id"], item["payload"])}
                    for row, item in zip(result, stored, strict=True)
                ],
            )
    return wanted - inserted


def project_progress(conn: Connection, project_id: int, *, now: datetime) -> Progress:
    """Counts for one project. Not on the hot path: it reads every item of the project."""
    items = conn.execute(
        select(
            func.count(),
            func.coalesce(func.sum(t.Item.n_answers), 0),
            func.coalesce(func.sum(case((t.Item.n_answers >= t.Item.target, 1), else_=0)), 0),
        ).where(t.Item.project_id == project_id)
    ).one()
    leases = conn.execute(
        select(func.count()).where(
            t.Assignment.status == AssignmentStatus.LEASED,
            t.Assignment.project_id == project_id,
            t.Assignment.expires_at > now,
        )
    ).scalar_one()
    return Progress(
        items=int(items[0]),
        answers=int(items[1]),
        items_complete=int(items[2]),
        active_leases=int(leases),
    )


_STATE_COLUMNS = (
    t.Item.id,
    t.Item.project_id,
    t.Item.external_id,
    t.Item.priority,
    t.Item.target,
    t.Item.n_answers,
    t.Item.open_slots,
    t.Item.created_at,
    t.Item.disabled_at,
    t.Item.disabled_reason,
    t.Item.deleted_at,
)


def item_state(conn: Connection, item_id: int) -> ItemState | None:
    row = conn.execute(select(*_STATE_COLUMNS).where(t.Item.id == item_id)).first()
    return None if row is None else ItemState(*row)


def _end_live_leases(conn: Connection, item_id: int, now: datetime) -> int:
    """Release the item's live leases without giving their slots back (the caller sets
    ``open_slots`` itself). A worker holding one gets 409 lease_lost on submit."""
    return conn.execute(
        update(t.Assignment)
        .where(t.Assignment.item_id == item_id, t.Assignment.status == "leased")
        .values(status="released", finished_at=now)
    ).rowcount


def disable_item(conn: Connection, item_id: int, *, reason: str, now: datetime) -> bool:
    """Take the item out of the pool: no open slots, its live leases ended, the reason kept.

    ``False`` when it was disabled already (the first reason stays). Its answers stay.
    """
    done = conn.execute(
        update(t.Item)
        .where(t.Item.id == item_id, t.Item.disabled_at.is_(None))
        .values(disabled_at=now, disabled_reason=reason, open_slots=0)
    ).rowcount
    if done:
        _end_live_leases(conn, item_id, now)
        note_item_changed(conn, item_id)
    return bool(done)


def enable_item(conn: Connection, item_id: int) -> bool:
    """Put a disabled (not deleted) item back in the pool with the slots it still lacks.

    A disabled item holds no live leases (disabling ended them, and none are granted while
    disabled), so its open slots are ``target - n_answers``.
    """
    missing = t.Item.target - t.Item.n_answers
    done = conn.execute(
        update(t.Item)
        .where(
            t.Item.id == item_id, t.Item.disabled_at.is_not(None), t.Item.deleted_at.is_(None)
        )
        .values(
            disabled_at=None,
            disabled_reason=None,
            open_slots=case((missing > 0, missing), else_=0),
        )
    ).rowcount
    if done:
        note_item_changed(conn, item_id)
    return bool(done)


def delete_item(conn: Connection, item_id: int, *, now: datetime) -> bool:
    """Delete an item for good but keep its row and answers (for audit): disabled, marked
    deleted, never enabled again. ``False`` when it was deleted already."""
    done = conn.execute(
        update(t.Item)
        .where(t.Item.id == item_id, t.Item.deleted_at.is_(None))
        .values(
            deleted_at=now,
            disabled_at=func.coalesce(t.Item.disabled_at, now),
            disabled_reason=func.coalesce(t.Item.disabled_reason, "deleted"),
            open_slots=0,
        )
    ).rowcount
    if done:
        _end_live_leases(conn, item_id, now)
        note_item_changed(conn, item_id)
    return bool(done)
