"""The atomic hand-out of items to workers, and leases coming back.

Invariant (also a CHECK on ``items``): for every item, answers + live leases never exceed
its target. ``items.open_slots`` holds target - answers - live leases; a claim takes a slot
only while the item's row is locked, and every path that ends a lease gives the slot back
exactly once (status changes are conditional on ``status = 'leased'``).

Which item is eligible and which comes first is not decided here: ``scheduling/`` declares
the rules, each as a condition or an order term over :data:`SCOPE`, and builds one
:class:`ClaimQuery` from them. This module supplies the mechanism around the rules: the
worker's held lease first, the row lock, the slot, the assignment.

On PostgreSQL the claim is one statement, prepared once: pick the best eligible item with
``FOR NO KEY UPDATE SKIP LOCKED`` (so concurrent workers never wait on each other), take a
slot, and insert the assignment. On SQLite the caller holds the write lock (``BEGIN
IMMEDIATE``), so the same steps run as plain statements.

Lock order (PostgreSQL): every statement or transaction that locks both an item row and an
assignment row locks the item first (:func:`lock_items`, in id order), here and in
``answers.py``. The claim must: while it holds the item, inserting the assignment checks the
unique (item, worker) index, and that check waits for any open transaction that changed a
row with the same key. A writer of assignments that took the assignment first and the item
second would close a cycle with it (``DeadlockDetected``, a 500 for the client).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    DateTime,
    Integer,
    Select,
    bindparam,
    insert,
    literal_column,
    select,
    text,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.selectable import NamedFromClause

from expertloop.store import tables as t
from expertloop.store.dialects import ordered_columns
from expertloop.store.driver import DriverStatement

__all__ = [
    "SCOPE",
    "ClaimQuery",
    "ClaimScope",
    "Lease",
    "LeaseState",
    "expire_leases",
    "extend_lease",
    "held_lease",
    "lease_next_item",
    "lease_of",
    "lock_items",
    "release_lease",
    "release_worker_leases",
]


@dataclass(frozen=True, slots=True)
class Lease:
    assignment_id: int
    item_id: int
    payload: dict[str, Any]
    presentation: dict[str, Any] | None
    expires_at: datetime


def _param(name: str, type_: Any) -> ColumnElement[Any]:
    # Rendered as ``:name`` into the claim's SQL text, where it becomes a bind parameter;
    # constants in rules render as literals, so the planner sees ``open_slots > 0`` and can
    # use the partial claim-order index even in a generic prepared plan.
    return literal_column(f":{name}", type_)


@dataclass(frozen=True, slots=True)
class ClaimScope:
    """What claim rules are written over.

    ``item`` is the candidate item row (``items`` as ``i``); ``assignments`` is for
    correlated subqueries (``a``); ``worker_id``, ``project_id`` and ``now`` (naive UTC)
    are the claim's parameters. A rule that needs another table (skills, exams, budgets)
    refers to it through ``store.tables`` in a correlated ``EXISTS``.
    """

    item: NamedFromClause
    assignments: NamedFromClause
    worker_id: ColumnElement[int]
    project_id: ColumnElement[int]
    now: ColumnElement[datetime]


SCOPE = ClaimScope(
    item=t.Item.__table__.alias("i"),
    assignments=t.Assignment.__table__.alias("a"),
    worker_id=_param("worker_id", Integer()),
    project_id=_param("project_id", Integer()),
    now=_param("now", DateTime()),
)

_POSTGRES = postgresql.dialect()  # type: ignore[no-untyped-call]
_SQLITE = sqlite.dialect()

# The worker's live lease in the project if it holds one, otherwise the best eligible item
# ({candidate}: locked, skipping rows other workers hold), a slot taken, a lease inserted.
_PG_TEMPLATE = """
    WITH held AS (
      SELECT a.id, a.item_id, a.presentation, a.expires_at FROM assignments a
      WHERE a.worker_id = :worker_id AND a.project_id = :project_id
        AND a.status = 'leased' AND a.expires_at > :now
      ORDER BY a.id LIMIT 1
    ),
    candidate AS MATERIALIZED (
      {candidate}
    ),
    taken AS (
      UPDATE items SET open_slots = items.open_slots - 1
      FROM candidate WHERE items.id = candidate.id
      RETURNING items.id, items.payload
    ),
    leased AS (
      INSERT INTO assignments
        (project_id, item_id, worker_id, status, presentation, leased_at, expires_at,
         guidelines_version)
      SELECT :project_id, taken.id, :worker_id, 'leased', CAST(:presentation AS jsonb),
             :now, :expires_at,
             (SELECT p.guidelines_version FROM projects p WHERE p.id = :project_id)
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


class ClaimQuery:
    """The claim of the next item, built once from eligibility conditions and an order.

    ``eligible`` are boolean expressions over :data:`SCOPE` that all must hold; ``order_by``
    are expressions over :data:`SCOPE` (with ``.desc()`` where wanted), best first. Items are
    always restricted to the claim's project. For the claim to stay an index range scan the
    order should follow ``ix_items_claim_order`` (``store/tables/work.py``). ``sql`` holds the SQL
    of each dialect, for reading and for ``EXPLAIN``.
    """

    __slots__ = ("_postgres", "_sqlite", "sql")

    def __init__(
        self,
        *,
        eligible: Sequence[ColumnElement[bool]],
        order_by: Sequence[ColumnElement[Any]],
    ) -> None:
        item = SCOPE.item
        pick = (
            select(item.c.id, item.c.payload)
            .where(item.c.project_id == SCOPE.project_id, *eligible)
            .order_by(*order_by)
            .limit(1)
        )
        candidate = (
            pick.with_only_columns(item.c.id)
            .where(text("NOT EXISTS (SELECT 1 FROM held)"))
            .with_for_update(of=item, skip_locked=True, key_share=True)
        )
        pg_sql = _PG_TEMPLATE.format(candidate=_render(candidate, _POSTGRES))
        sqlite_sql = _render(pick, _SQLITE)
        self.sql = {"postgresql": pg_sql, "sqlite": sqlite_sql}
        self._postgres = DriverStatement(text(pg_sql))
        sqlite_query = text(sqlite_sql)
        if re.search(r"(?<![:\w]):now\b", sqlite_sql):  # typed, so SQLite stores it as text
            sqlite_query = sqlite_query.bindparams(bindparam("now", type_=DateTime()))
        self._sqlite = ordered_columns(sqlite_query, "id payload", id=Integer(), payload=t.Json)


def _render(query: Select[Any], dialect: Dialect) -> str:
    return str(query.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))


def lease_next_item(
    conn: Connection,
    query: ClaimQuery,
    *,
    project_id: int,
    worker_id: int,
    presentation: dict[str, Any] | None,
    now: datetime,
    expires_at: datetime,
) -> Lease | None:
    """The worker's live lease in the project, or a new lease on the best eligible item.

    Eligible and best are what ``query`` says (see ``scheduling/``). ``None`` when nothing
    is eligible. On PostgreSQL this is one statement, atomic by itself.
    """
    params = {"project_id": project_id, "worker_id": worker_id, "now": now}
    if conn.dialect.name == "postgresql":
        row = query._postgres.first(
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
    picked = conn.execute(query._sqlite, params).first()
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
            "guidelines_of": project_id,
        },
    ).scalar_one()
    payload = picked.payload if isinstance(picked.payload, dict) else json.loads(picked.payload)
    return Lease(assignment_id, picked.id, payload, presentation, expires_at)


_TAKE_SLOT = text("UPDATE items SET open_slots = open_slots - 1 WHERE id = :item_id")
# A lease records the project's guidelines version as it is at that moment: what the worker
# was given with the item (read in the same statement, so no cache can make it stale).
_INSERT_LEASE = (
    insert(t.Assignment)
    .values(
        guidelines_version=select(t.Project.guidelines_version)
        .where(t.Project.id == bindparam("guidelines_of"))
        .scalar_subquery()
    )
    .returning(t.Assignment.id)
)


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


_LOCK_ITEMS = (
    select(t.Item.id)
    .where(t.Item.id.in_(bindparam("item_ids", expanding=True)))
    .order_by(t.Item.id)
    .with_for_update(key_share=True)
)
_LOCK_FREE_ITEMS = _LOCK_ITEMS.with_for_update(key_share=True, skip_locked=True)


def lock_items(
    conn: Connection, item_ids: Collection[int], *, skip_locked: bool = False
) -> set[int]:
    """Lock the items' rows, in id order, before touching any of their assignments.

    Returns the ids locked: all of them, unless ``skip_locked``, which leaves out rows that
    another transaction holds instead of waiting for them. On SQLite the caller's write
    transaction already excludes every other writer, so nothing needs locking.
    """
    if conn.dialect.name != "postgresql" or not item_ids:
        return set(item_ids)
    query = _LOCK_FREE_ITEMS if skip_locked else _LOCK_ITEMS
    return set(conn.execute(query, {"item_ids": sorted(item_ids)}).scalars())


_LEASE_ITEM = select(t.Assignment.item_id).where(
    t.Assignment.id == bindparam("assignment_id"),
    t.Assignment.worker_id == bindparam("owner_id"),
    t.Assignment.status == "leased",
)
_RELEASE = (
    update(t.Assignment)
    .where(
        t.Assignment.id == bindparam("assignment_id"),
        t.Assignment.worker_id == bindparam("owner_id"),
        t.Assignment.status == "leased",
    )
    .values(status="released", finished_at=bindparam("now"))
    .returning(t.Assignment.item_id)
)


def release_lease(conn: Connection, *, assignment_id: int, worker_id: int, now: datetime) -> bool:
    """End a live lease early and give its slot back; ``False`` if it was not live.

    Run in a write transaction: the item is locked before the lease (see the lock order).
    """
    params = {"assignment_id": assignment_id, "owner_id": worker_id, "now": now}
    item_id = conn.execute(_LEASE_ITEM, params).scalar()
    if item_id is None:
        return False
    lock_items(conn, [item_id])
    # Conditional on the status: the lease may have ended while we waited for the item.
    if conn.execute(_RELEASE, params).scalar() is None:
        return False
    _give_back_slots(conn, Counter({item_id: 1}))
    return True


_EXTEND = (
    update(t.Assignment)
    .where(
        t.Assignment.id == bindparam("assignment_id"),
        t.Assignment.worker_id == bindparam("owner_id"),
        t.Assignment.status == "leased",
        t.Assignment.expires_at > bindparam("now"),
        t.Assignment.extensions < bindparam("max_extensions"),
    )
    .values(expires_at=bindparam("new_expires_at"), extensions=t.Assignment.extensions + 1)
    .returning(t.Assignment.expires_at, t.Assignment.extensions)
)


def extend_lease(
    conn: Connection,
    *,
    assignment_id: int,
    worker_id: int,
    now: datetime,
    expires_at: datetime,
    max_extensions: int,
) -> tuple[datetime, int] | None:
    """Move a live lease's expiry to ``expires_at``, counting one extension; the new expiry
    and the count, or ``None`` when the lease is not live (answered, given back, expired in
    time even if not yet swept) or has used its ``max_extensions``.

    Promise 2 holds without touching the item: a live lease already holds its slot, and a
    lease past its time is never revived (the sweeper may be giving its slot back). One
    conditional statement on the assignment's row alone, so it takes no item lock and cannot
    join a lock cycle.
    """
    row = conn.execute(
        _EXTEND,
        {
            "assignment_id": assignment_id,
            "owner_id": worker_id,
            "now": now,
            "max_extensions": max_extensions,
            "new_expires_at": expires_at,
        },
    ).first()
    return None if row is None else (row[0], row[1])


@dataclass(frozen=True, slots=True)
class LeaseState:
    status: str
    expires_at: datetime
    extensions: int

    def live_at(self, now: datetime) -> bool:
        return self.status == "leased" and self.expires_at > now


def lease_of(conn: Connection, assignment_id: int) -> LeaseState | None:
    """An assignment's status, expiry and extensions."""
    row = conn.execute(
        select(t.Assignment.status, t.Assignment.expires_at, t.Assignment.extensions).where(
            t.Assignment.id == assignment_id
        )
    ).first()
    return None if row is None else LeaseState(*row)


def expire_leases(
    conn: Connection,
    *,
    now: datetime,
    project_id: int | None = None,
    limit: int = 1000,
    wait: bool = False,
) -> int:
    """Mark up to ``limit`` leases past their expiry as expired and reopen their slots.

    Run in a write transaction. Safe to run from many processes at once: on PostgreSQL the
    sweep locks the items of the leases due first, skipping those another transaction
    holds (their leases wait for the next sweep), so sweepers take different rows and never
    wait for a claim or an answer. With ``wait`` it waits for those rows instead (a claim
    that found the pool empty must not miss a lease another sweep is expiring right then);
    items are locked in id order, so waiting sweeps cannot deadlock.
    """
    query = (
        select(t.Assignment.id, t.Assignment.item_id)
        .where(t.Assignment.status == "leased", t.Assignment.expires_at <= now)
        .order_by(t.Assignment.expires_at)
        .limit(limit)
    )
    if project_id is not None:
        query = query.where(t.Assignment.project_id == project_id)
    due = conn.execute(query).all()
    if not due:
        return 0
    locked = lock_items(conn, {r.item_id for r in due}, skip_locked=not wait)
    ids = [r.id for r in due if r.item_id in locked]
    if not ids:
        return 0
    # Conditional on the status: a lease answered or released meanwhile stays as it is.
    expired = (
        conn.execute(
            update(t.Assignment)
            .where(
                t.Assignment.id.in_(ids),
                t.Assignment.status == "leased",
                t.Assignment.expires_at <= now,
            )
            .values(status="expired", finished_at=now)
            .returning(t.Assignment.item_id)
        )
        .scalars()
        .all()
    )
    if expired:
        _give_back_slots(conn, Counter(expired))
    return len(expired)


_GIVE_BACK = text("UPDATE items SET open_slots = open_slots + :n WHERE id = :item_id")


def _give_back_slots(conn: Connection, per_item: Counter[int]) -> None:
    # The rows are locked already (lock_items); sorted all the same, in the same order.
    rows = [{"item_id": item, "n": n} for item, n in sorted(per_item.items())]
    conn.execute(_GIVE_BACK, rows)


def release_worker_leases(
    conn: Connection, *, worker_id: int, now: datetime, project_id: int | None = None
) -> int:
    """End every live lease of a worker (in one project, or all) and give the slots back: a
    suspended worker, or one removed from a project, holds nothing. How many were released."""
    stmt = update(t.Assignment).where(
        t.Assignment.worker_id == worker_id, t.Assignment.status == "leased"
    )
    if project_id is not None:
        stmt = stmt.where(t.Assignment.project_id == project_id)
    items = (
        conn.execute(
            stmt.values(status="released", finished_at=now).returning(t.Assignment.item_id)
        )
        .scalars()
        .all()
    )
    if items:
        _give_back_slots(conn, Counter(items))
    return len(items)
