"""Recording answers against leases, idempotently, and reading them back."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, DateTime, bindparam, select, text
from sqlalchemy.exc import IntegrityError

from expertloop.store import tables as t
from expertloop.store.claims import lock_items
from expertloop.store.dialects import ordered_columns
from expertloop.store.driver import DriverStatement

__all__ = [
    "AnswerTarget",
    "DuplicateAnswer",
    "StoredAnswer",
    "answer_ended_lease",
    "answer_for_assignment",
    "answer_live_lease",
    "answer_target",
    "iter_project_answers",
]


@dataclass(frozen=True, slots=True)
class AnswerTarget:
    """What answering an assignment needs to know, in one read."""

    assignment_id: int
    project_id: int
    item_id: int
    worker_id: int
    status: str
    presentation: dict[str, Any] | None
    leased_at: datetime
    task_type: str
    config: dict[str, Any]
    payload: dict[str, Any]
    guidelines_version: int
    gold: dict[str, Any] | None = None
    # The project has workforce settings: the answer also updates the worker's counters
    # (services/workforce), in the same transaction; which of them, from the settings.
    workforce: bool = False
    is_exam: bool = False
    counts_votes: bool = False
    escalate: bool = False
    # The project has adaptive redundancy (services/redundancy): after the answer is
    # committed the item's target follows its confidence.
    adaptive: bool = False
    # A gold item open to every worker (gold mixed in, or an exam): each answer to it opens
    # one more slot, in the answer's transaction (services/workforce).
    open_gold: bool = False


@dataclass(frozen=True, slots=True)
class StoredAnswer:
    id: int
    assignment_id: int
    item_id: int
    worker_id: int
    value: dict[str, Any]
    idempotency_key: str | None
    created_at: datetime
    guidelines_version: int


# Hot path (every answer): plain SQL, so executing it costs no statement-cache key walk.
_TARGET_SQL = text(
    "SELECT a.id, a.project_id, a.item_id, a.worker_id, a.status, a.presentation, "
    "a.leased_at, p.task_type, p.config, i.payload, a.guidelines_version, i.gold, "
    "w.project_id IS NOT NULL, COALESCE(w.is_exam, false), "
    "(w.route_min_accuracy IS NOT NULL OR COALESCE(w.escalate, false)), "
    "COALESCE(w.escalate, false), r.project_id IS NOT NULL, "
    "(i.gold IS NOT NULL AND (COALESCE(w.is_exam, false) OR w.gold_share IS NOT NULL)) "
    "FROM assignments a "
    "JOIN projects p ON p.id = a.project_id JOIN items i ON i.id = a.item_id "
    "LEFT JOIN project_workforce w ON w.project_id = a.project_id "
    "LEFT JOIN project_redundancy r ON r.project_id = a.project_id "
    "WHERE a.id = :assignment_id"
)
_TARGET = ordered_columns(
    _TARGET_SQL,
    "assignment_id project_id item_id worker_id status presentation leased_at task_type config "
    "payload guidelines_version gold workforce is_exam counts_votes escalate adaptive "
    "open_gold",
    presentation=t.Json, leased_at=DateTime(), config=t.Json, payload=t.Json, gold=t.Json,
)


_PG_TARGET = DriverStatement(_TARGET)


def answer_target(conn: Connection, assignment_id: int) -> AnswerTarget | None:
    params = {"assignment_id": assignment_id}
    if conn.dialect.name == "postgresql":
        row = _PG_TARGET.first(conn, params)
    else:
        row = conn.execute(_TARGET, params).first()
    if row is None:
        return None
    (assignment_id, project_id, item_id, worker_id, status, presentation, leased_at,
     task_type, config, payload, guidelines_version, gold, workforce, is_exam, counts_votes,
     escalate, adaptive, open_gold) = row
    return AnswerTarget(
        assignment_id, project_id, item_id, worker_id, status, presentation, leased_at,
        task_type, config, payload, guidelines_version, gold, bool(workforce), bool(is_exam),
        bool(counts_votes), bool(escalate), bool(adaptive), bool(open_gold),
    )


_ANSWER_COLUMNS = (
    t.Answer.id,
    t.Answer.assignment_id,
    t.Answer.item_id,
    t.Answer.worker_id,
    t.Answer.value,
    t.Answer.idempotency_key,
    t.Answer.created_at,
    t.Answer.guidelines_version,
)
_BY_ASSIGNMENT = select(*_ANSWER_COLUMNS).where(
    t.Answer.assignment_id == bindparam("assignment_id")
)


def answer_for_assignment(conn: Connection, assignment_id: int) -> StoredAnswer | None:
    row = conn.execute(_BY_ASSIGNMENT, {"assignment_id": assignment_id}).first()
    return None if row is None else StoredAnswer(*row)


_FINISH_LIVE = text(
    "UPDATE assignments SET status = 'answered', finished_at = :now "
    "WHERE id = :assignment_id AND status = 'leased'"
)
# ``:due`` is 1 in an adaptive project (the item's target must follow the answer: see
# store/redundancy.py), else 0.
_COUNT_ANSWER = text(
    "UPDATE items SET n_answers = n_answers + 1, retarget_due = retarget_due + :due "
    "WHERE id = :item_id"
)
_FINISH_EXPIRED = text(
    "UPDATE assignments SET status = 'answered', finished_at = :now "
    "WHERE id = :assignment_id AND status = 'expired'"
)
_TAKE_FREE_SLOT = text(
    "UPDATE items SET n_answers = n_answers + 1, open_slots = open_slots - 1, "
    "retarget_due = retarget_due + :due WHERE id = :item_id AND open_slots > 0"
)
_INSERT_COLUMNS = (
    "project_id, item_id, worker_id, assignment_id, value, idempotency_key, duration_ms, "
    "created_at, guidelines_version"
)
_INSERT_SQL = (
    f"INSERT INTO answers ({_INSERT_COLUMNS}) VALUES (:project_id, :item_id, :worker_id, "
    ":assignment_id, {value}, :idempotency_key, :duration_ms, :now, :guidelines_version) "
    "ON CONFLICT DO NOTHING RETURNING id"
)
_INSERT = {
    "sqlite": text(_INSERT_SQL.format(value=":value")),
    "postgresql": text(_INSERT_SQL.format(value="CAST(:value AS jsonb)")),
}
# PostgreSQL does the whole common case (a live lease becomes an answer) in one statement.
# It locks the item row before it changes the assignment, the lock order of every statement
# that touches both (see claims.py): ``finished`` joins ``item``, so no assignment row is
# changed before the item's lock is held.
_PG_ANSWER_LIVE = DriverStatement(
    text(
        f"""
    WITH item AS MATERIALIZED (
      SELECT id FROM items WHERE id = :item_id FOR NO KEY UPDATE
    ),
    finished AS (
      UPDATE assignments SET status = 'answered', finished_at = :now
      FROM item
      WHERE assignments.id = :assignment_id AND assignments.item_id = item.id
        AND assignments.status = 'leased'
      RETURNING assignments.item_id
    ),
    counted AS (
      UPDATE items SET n_answers = items.n_answers + 1,
        retarget_due = items.retarget_due + :due
      FROM finished WHERE items.id = finished.item_id
      RETURNING items.id
    )
    INSERT INTO answers ({_INSERT_COLUMNS})
    SELECT :project_id, counted.id, :worker_id, :assignment_id, CAST(:value AS jsonb),
           :idempotency_key, :duration_ms, :now, :guidelines_version
    FROM counted
    RETURNING id
    """
    )
)


class DuplicateAnswer(Exception):
    """The answer collides with a stored one (same assignment, or a reused key)."""


def answer_live_lease(
    conn: Connection,
    *,
    target: AnswerTarget,
    value: dict[str, Any],
    idempotency_key: str | None,
    now: datetime,
) -> StoredAnswer | None:
    """The common case: the assignment's live lease becomes the answer, keeping its slot.

    A lease past its expiry that no sweeper has reclaimed yet is still live. Returns
    ``None`` when the lease is not live; raises :class:`DuplicateAnswer` when the answer
    collides with a stored one. Either way the caller rolls back (on PostgreSQL the single
    statement changed nothing) and takes :func:`answer_ended_lease`.
    """
    params = _answer_params(target, value, idempotency_key, now)
    if conn.dialect.name == "postgresql":
        try:
            row = _PG_ANSWER_LIVE.first(conn, params)
        except IntegrityError as exc:
            raise DuplicateAnswer(str(exc.orig)) from None
        if row is None:
            return None
        answer_id = row[0]
    else:
        if conn.execute(_FINISH_LIVE, params).rowcount == 0:
            return None
        conn.execute(_COUNT_ANSWER, params)
        answer_id = _insert(conn, params)
        if answer_id is None:
            raise DuplicateAnswer(f"assignment {target.assignment_id} collides with an answer")
    return _stored(answer_id, target, value, idempotency_key, now)


def answer_ended_lease(
    conn: Connection,
    *,
    target: AnswerTarget,
    value: dict[str, Any],
    idempotency_key: str | None,
    now: datetime,
) -> StoredAnswer | None:
    """Answer an assignment whose lease is no longer live; ``None`` if no slot is left.

    An expired lease can still be answered while the item has an open slot; once the slot
    went to another worker the answer is refused, so the item is never over-collected. A
    released lease (a skip) is never answered. Raises :class:`DuplicateAnswer` on a
    collision with a stored answer. On ``None`` or an exception the caller rolls back. Run
    in a write transaction.
    """
    params = _answer_params(target, value, idempotency_key, now)
    lock_items(conn, [target.item_id])  # the item before the assignment (see claims.py)
    if conn.execute(_FINISH_LIVE, params).rowcount == 1:
        conn.execute(_COUNT_ANSWER, params)  # it became live again? only a racing retry
    elif (
        conn.execute(_FINISH_EXPIRED, params).rowcount == 0
        or conn.execute(_TAKE_FREE_SLOT, params).rowcount == 0
    ):
        return None
    answer_id = _insert(conn, params)
    if answer_id is None:
        raise DuplicateAnswer(f"assignment {target.assignment_id} collides with a stored answer")
    return _stored(answer_id, target, value, idempotency_key, now)


def _answer_params(
    target: AnswerTarget, value: dict[str, Any], idempotency_key: str | None, now: datetime
) -> dict[str, Any]:
    return {
        "project_id": target.project_id,
        "item_id": target.item_id,
        "worker_id": target.worker_id,
        "assignment_id": target.assignment_id,
        "value": json.dumps(value),
        "idempotency_key": idempotency_key,
        "duration_ms": max(0, int((now - target.leased_at).total_seconds() * 1000)),
        "now": now,
        "guidelines_version": target.guidelines_version,
        "due": 1 if target.adaptive and target.gold is None else 0,
    }


def _insert(conn: Connection, params: dict[str, Any]) -> int | None:
    return conn.execute(_INSERT[conn.dialect.name], params).scalar()


def _stored(
    answer_id: int,
    target: AnswerTarget,
    value: dict[str, Any],
    idempotency_key: str | None,
    now: datetime,
) -> StoredAnswer:
    return StoredAnswer(
        answer_id,
        target.assignment_id,
        target.item_id,
        target.worker_id,
        value,
        idempotency_key,
        now,
        target.guidelines_version,
    )


def iter_project_answers(conn: Connection, project_id: int) -> Iterator[dict[str, Any]]:
    """Every answer of a project in id order, streamed from a server-side cursor."""
    query = (
        select(
            t.Answer.id,
            t.Answer.item_id,
            t.Item.external_id,
            t.Answer.worker_id,
            t.Answer.value,
            t.Answer.duration_ms,
            t.Answer.created_at,
            t.Assignment.presentation,
            t.Answer.guidelines_version,
        )
        .join(t.Item, t.Item.id == t.Answer.item_id)
        .join(t.Assignment, t.Assignment.id == t.Answer.assignment_id)
        .where(t.Answer.project_id == project_id)
        .order_by(t.Answer.id)
        .execution_options(yield_per=1000)
    )
    for row in conn.execute(query):
        yield {
            "answer_id": row.id,
            "item_id": row.item_id,
            "external_id": row.external_id,
            "worker_id": row.worker_id,
            "answer": row.value,
            "presentation": row.presentation,
            "duration_ms": row.duration_ms,
            "created_at": row.created_at,
            "guidelines_version": row.guidelines_version,
        }
