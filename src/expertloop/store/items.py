"""Items: bulk import, external ids, progress counts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, case, func, insert, select

from expertloop.store import tables as t

__all__ = ["Progress", "existing_external_ids", "insert_items", "project_progress"]


@dataclass(frozen=True, slots=True)
class Progress:
    items: int
    answers: int
    items_complete: int
    active_leases: int


def existing_external_ids(
    conn: Connection, project_id: int, external_ids: Sequence[str]
) -> set[str]:
    found: set[str] = set()
    for start in range(0, len(external_ids), 500):
        chunk = list(external_ids[start : start + 500])
        rows = conn.execute(
            select(t.Item.external_id).where(
                t.Item.project_id == project_id, t.Item.external_id.in_(chunk)
            )
        )
        found.update(r.external_id for r in rows)
    return found


def insert_items(
    conn: Connection,
    project_id: int,
    items: Sequence[dict[str, Any]],
    *,
    target: int,
    now: datetime,
) -> int:
    """Insert validated items (dicts with external_id, payload, gold, priority)."""
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
    for start in range(0, len(rows), 5000):
        conn.execute(insert(t.Item), rows[start : start + 5000])
    return len(rows)


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
            t.Assignment.status == "leased",
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
