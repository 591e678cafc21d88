"""The atomic hand-out of items to workers, and leases coming back.

Invariant (also a CHECK on ``items``): for every item, answers + live leases never exceed
its target. ``items.open_slots`` holds target - answers - live leases; a claim takes a slot
only while the item's row is locked, and every path that ends a lease gives the slot back
exactly once (status changes are conditional on ``status = 'leased'``).

On PostgreSQL the claim is one statement: pick the best eligible item with
``FOR UPDATE SKIP LOCKED`` (so concurrent workers never wait on each other), take a slot, and
insert the assignment. On SQLite the caller holds the write lock (``BEGIN IMMEDIATE``), so the
same steps run as plain statements.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, insert, select, text, update

from expertloop.store import tables as t
from expertloop.store.driver import DriverStatement

__all__ = [
    "Lease",
    "expire_leases",
    "held_lease",
    "lease_next_item",
    "release_lease",
]


@dataclass(frozen=True, slots=True)
class Lease:
    assignment_id: int
    item_id: int
    payload: dict[str, Any]
    presentation: dict[str, Any] | None
    expires_at: datetime


_ELIGIBLE = """
    FROM items i
    WHERE i.project_id = :project_id AND i.open_slots > 0 AND i.disabled_at IS NULL
      AND NOT EXISTS (
        SELECT 1 FROM assignments a WHERE a.item_id = i.id AND a.worker_id = :worker_id
      )
    ORDER BY i.open_slots, i.priority DESC, i.id
    LIMIT 1
"""

# One statement: the worker's live lease in the project if it holds one, otherwise the best
# eligible item, locked (skipping rows other workers hold), a slot taken, a lease inserted.
_PG_LEASE_NEXT = DriverStatement(
    text(
        f"""
    WITH held AS (
      SELECT a.id, a.item_id, a.presentation, a.expires_at FROM assignments a
      WHERE a.worker_id = :worker_id AND a.project_id = :project_id
        AND a.status = 'leased' AND a.expires_at > :now
      ORDER BY a.id LIMIT 1
    ),
    candidate AS (
      SELECT i.id {_ELIGIBLE.replace("WHERE ", "WHERE NOT EXISTS (SELECT 1 FROM held) AND ", 1)}
      FOR UPDATE OF i SKIP LOCKED
    ),
    taken AS (
      UPDATE items SET open_slots = items.open_slots - 1
      FROM candidate WHERE items.id = candidate.id
      RETURNING items.id, items.payload
    ),
    leased AS (
      INSERT INTO assignments
        (project_id, item_id, worker_id, status, presentation, leased_at, expires_at)
      SELECT :project_id, taken.id, :worker_id, 'leased', CAST(:presentation AS jsonb),
             :now, :expires_at
      FROM taken
      RETURNING id, item_id, presentation, expires_at
    )
    SELECT leased.id AS assignment_id, taken.id AS item_id, taken.payload,
           leased.presentation, leased.expires_at
    FROM leased JOIN taken ON taken.id = leased.item_id
    UNION ALL
    SELECT held.id, held.item_id, i.payload, held.presentation, held.expires_at
    FROM held JOIN items i ON i.id = held.item_id
    """
    )
)

_SQLITE_PICK = text(f"SELECT i.id, i.payload {_ELIGIBLE}")
_TAKE_SLOT = text("UPDATE items SET open_slots = open_slots - 1 WHERE id = :item_id")
_INSERT_LEASE = insert(t.Assignment).returning(t.Assignment.id)


def lease_next_item(
    conn: Connection,
    *,
    project_id: int,
    worker_id: int,
    presentation: dict[str, Any] | None,
    now: datetime,
    expires_at: datetime,
) -> Lease | None:
    """The worker's live lease in the project, or a new lease on the best eligible item.

    Eligible: in the project, an open slot, and never assigned to this worker before. Best:
    fewest open slots (closest to completion), then highest priority, then oldest. ``None``
    when nothing is eligible. On PostgreSQL this is one statement, atomic by itself.
    """
    params = {"project_id": project_id, "worker_id": worker_id, "now": now}
    if conn.dialect.name == "postgresql":
        row = _PG_LEASE_NEXT.first(
            conn,
            {
                **params,
                "presentation": None if presentation is None else json.dumps(presentation),
                "expires_at": expires_at,
            },
        )
        return None if row is None else Lease(*row)

    held = held_lease(conn, project_id=project_id, worker_id=worker_id, now=now)
    if held is not None:
        return held
    picked = conn.execute(_SQLITE_PICK, params).first()
    if picked is None:
        return None
    conn.execute(_TAKE_SLOT, {"item_id": picked.id})
    assignment_id = conn.execute(
        _INSERT_LEASE,
        {
            "project_id": project_id,
            "item_id": picked.id,
            "worker_id": worker_id,
            "status": "leased",
            "presentation": presentation,
            "leased_at": now,
            "expires_at": expires_at,
        },
    ).scalar_one()
    payload = picked.payload if isinstance(picked.payload, dict) else json.loads(picked.payload)
    return Lease(assignment_id, picked.id, payload, presentation, expires_at)


_HELD = (
    select(
        t.Assignment.id,
        t.Assignment.item_id,
        t.Assignment.presentation,
        t.Assignment.expires_at,
        t.Item.payload,
    )
    .join(t.Item, t.Item.id == t.Assignment.item_id)
    .where(
        t.Assignment.worker_id == bindparam("worker_id"),
        t.Assignment.project_id == bindparam("project_id"),
        t.Assignment.status == "leased",
        t.Assignment.expires_at > bindparam("now"),
    )
    .order_by(t.Assignment.id)
    .limit(1)
)


def held_lease(conn: Connection, *, project_id: int, worker_id: int, now: datetime) -> Lease | None:
    """The worker's live lease in this project, if it holds one (e.g. after a page reload)."""
    row = conn.execute(
        _HELD, {"worker_id": worker_id, "project_id": project_id, "now": now}
    ).first()
    if row is None:
        return None
    return Lease(row.id, row.item_id, row.payload, row.presentation, row.expires_at)


def release_lease(conn: Connection, *, assignment_id: int, worker_id: int, now: datetime) -> bool:
    """End a live lease early and give its slot back; ``False`` if it was not live."""
    item_id = conn.execute(
        update(t.Assignment)
        .where(
            t.Assignment.id == assignment_id,
            t.Assignment.worker_id == worker_id,
            t.Assignment.status == "leased",
        )
        .values(status="released", finished_at=now)
        .returning(t.Assignment.item_id)
    ).scalar()
    if item_id is None:
        return False
    _give_back_slots(conn, Counter({item_id: 1}))
    return True


def expire_leases(
    conn: Connection, *, now: datetime, project_id: int | None = None, limit: int = 1000
) -> int:
    """Mark up to ``limit`` leases past their expiry as expired and reopen their slots.

    Safe to run from many processes at once: on PostgreSQL each takes different rows.
    """
    query = (
        select(t.Assignment.id, t.Assignment.item_id)
        .where(t.Assignment.status == "leased", t.Assignment.expires_at <= now)
        .order_by(t.Assignment.expires_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    if project_id is not None:
        query = query.where(t.Assignment.project_id == project_id)
    expired = conn.execute(query).all()
    if not expired:
        return 0
    conn.execute(
        update(t.Assignment)
        .where(t.Assignment.id.in_([r.id for r in expired]), t.Assignment.status == "leased")
        .values(status="expired", finished_at=now)
    )
    _give_back_slots(conn, Counter(r.item_id for r in expired))
    return len(expired)


_GIVE_BACK = text("UPDATE items SET open_slots = open_slots + :n WHERE id = :item_id")


def _give_back_slots(conn: Connection, per_item: Counter[int]) -> None:
    # Sorted so that concurrent sweepers lock items in one order and cannot deadlock.
    rows = [{"item_id": item, "n": n} for item, n in sorted(per_item.items())]
    conn.execute(_GIVE_BACK, rows)
