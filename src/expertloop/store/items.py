"""Items: bulk import, external ids, progress counts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, case, func, select

from expertloop.domain import AssignmentStatus
from expertloop.store import tables as t
from expertloop.store.dialects import insert_ignoring_conflicts

__all__ = ["Progress", "insert_items", "project_progress"]


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
) -> set[str]:
    """Insert validated items (dicts with external_id, payload, gold, priority).

    Returns the external ids that already existed in the project: those rows were not
    inserted, and the caller rolls back to keep the import all-or-nothing. The unique index
    finds them, so no look-up scans the project's items first.
    """
    rows = [
        {
            "project_id": project_id,
            "external_id": item.get("external_id"),
            "payload": item["payload"],
            "gold": item.get("gold"),
            "priority": item.get("priority", 0),
            "target": target,
            "n_answers": 0,
            "open_slots": target,
            "created_at": now,
        }
        for item in items
    ]
    statement = insert_ignoring_conflicts(conn, t.Item, ("project_id", "external_id")).returning(
        t.Item.external_id
    )
    wanted = {r["external_id"] for r in rows if r["external_id"] is not None}
    inserted: set[str] = set()
    for start in range(0, len(rows), 5000):
        result = conn.execute(statement, rows[start : start + 5000])
        inserted.update(r.external_id for r in result if r.external_id is not None)
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
