"""Recording answers against leases, idempotently, and reading them back."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, insert, select, text
from sqlalchemy.exc import IntegrityError

from expertloop.store import tables as t

__all__ = [
    "AnswerTarget",
    "DuplicateAnswer",
    "StoredAnswer",
    "answer_for_assignment",
    "answer_target",
    "insert_answer",
    "iter_project_answers",
    "take_slot_for_answer",
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


@dataclass(frozen=True, slots=True)
class StoredAnswer:
    id: int
    assignment_id: int
    item_id: int
    worker_id: int
    value: dict[str, Any]
    idempotency_key: str | None
    created_at: datetime


_TARGET = (
    select(
        t.Assignment.id,
        t.Assignment.project_id,
        t.Assignment.item_id,
        t.Assignment.worker_id,
        t.Assignment.status,
        t.Assignment.presentation,
        t.Assignment.leased_at,
        t.Project.task_type,
        t.Project.config,
    )
    .join(t.Project, t.Project.id == t.Assignment.project_id)
    .where(t.Assignment.id == bindparam("assignment_id"))
)


def answer_target(conn: Connection, assignment_id: int) -> AnswerTarget | None:
    row = conn.execute(_TARGET, {"assignment_id": assignment_id}).first()
    return None if row is None else AnswerTarget(*row)


_ANSWER_COLUMNS = (
    t.Answer.id,
    t.Answer.assignment_id,
    t.Answer.item_id,
    t.Answer.worker_id,
    t.Answer.value,
    t.Answer.idempotency_key,
    t.Answer.created_at,
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
_COUNT_ANSWER = text("UPDATE items SET n_answers = n_answers + 1 WHERE id = :item_id")
_TAKE_FREE_SLOT = text(
    "UPDATE items SET n_answers = n_answers + 1, open_slots = open_slots - 1 "
    "WHERE id = :item_id AND open_slots > 0"
)
_FINISH_EXPIRED = text(
    "UPDATE assignments SET status = 'answered', finished_at = :now "
    "WHERE id = :assignment_id AND status = 'expired'"
)


def take_slot_for_answer(
    conn: Connection, *, assignment_id: int, item_id: int, now: datetime
) -> bool:
    """Turn the assignment's slot into an answer; ``False`` if no slot is left for it.

    A live lease (even one past its expiry that no sweeper has reclaimed yet) owns its slot.
    An expired lease can still be answered while the item has an open slot; once the slot
    went to another worker the answer is refused, so the item is never over-collected. A
    released lease (a skip) is never answered.
    """
    params = {"assignment_id": assignment_id, "item_id": item_id, "now": now}
    if conn.execute(_FINISH_LIVE, params).rowcount == 1:
        conn.execute(_COUNT_ANSWER, params)
        return True
    if conn.execute(_FINISH_EXPIRED, params).rowcount == 0:
        return False
    # Rolled back with the whole transaction by the caller when no slot is free.
    return conn.execute(_TAKE_FREE_SLOT, params).rowcount == 1


class DuplicateAnswer(Exception):
    """The answer collides with a stored one (same assignment, or a reused key)."""


_INSERT = insert(t.Answer).returning(t.Answer.id)


def insert_answer(
    conn: Connection,
    *,
    target: AnswerTarget,
    value: dict[str, Any],
    idempotency_key: str | None,
    now: datetime,
) -> StoredAnswer:
    duration_ms = max(0, int((now - target.leased_at).total_seconds() * 1000))
    try:
        with conn.begin_nested():
            answer_id = conn.execute(
                _INSERT,
                {
                    "project_id": target.project_id,
                    "item_id": target.item_id,
                    "worker_id": target.worker_id,
                    "assignment_id": target.assignment_id,
                    "value": value,
                    "idempotency_key": idempotency_key,
                    "duration_ms": duration_ms,
                    "created_at": now,
                },
            ).scalar_one()
    except IntegrityError as exc:
        raise DuplicateAnswer(str(exc.orig)) from None
    return StoredAnswer(
        answer_id,
        target.assignment_id,
        target.item_id,
        target.worker_id,
        value,
        idempotency_key,
        now,
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
        }
