"""Qualification exams: which projects name an exam, its items, and each worker's attempts
and scores."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, DateTime, bindparam, delete, insert, select, text, update

from expertloop.store import tables as t
from expertloop.store.claims import lock_items
from expertloop.store.counters import note_project_changed
from expertloop.store.workforce.settings import load_settings

__all__ = [
    "ExamRow",
    "clear_exam_attempt",
    "count_exam_items",
    "exam_result",
    "exam_results",
    "finish_exam_attempt",
    "non_gold_items",
    "projects_naming_exam",
    "record_exam_answer",
    "refresh_is_exam",
]


def refresh_is_exam(conn: Connection, exam_project_id: int, *, now: datetime) -> bool:
    """Mark the project as an exam exactly while some project names it; returns the flag."""
    named = conn.execute(
        select(t.ProjectWorkforce.project_id)
        .where(t.ProjectWorkforce.exam_project_id == exam_project_id)
        .limit(1)
    ).first() is not None
    current = load_settings(conn, exam_project_id)
    if current is None:
        if named:
            conn.execute(
                insert(t.ProjectWorkforce).values(
                    project_id=exam_project_id, retry_after_seconds=0, is_exam=True,
                    escalate=False, updated_at=now,
                )
            )
        return named
    if current.is_exam != named:
        conn.execute(
            update(t.ProjectWorkforce)
            .where(t.ProjectWorkforce.project_id == exam_project_id)
            .values(is_exam=named, updated_at=now)
        )
    return named


def projects_naming_exam(
    conn: Connection, exam_project_id: int
) -> list[tuple[int, str, float, int]]:
    """(project id, name, pass mark, retry after seconds) of each project naming the exam."""
    rows = conn.execute(
        select(
            t.ProjectWorkforce.project_id,
            t.Project.name,
            t.ProjectWorkforce.pass_mark,
            t.ProjectWorkforce.retry_after_seconds,
        )
        .join(t.Project, t.Project.id == t.ProjectWorkforce.project_id)
        .where(t.ProjectWorkforce.exam_project_id == exam_project_id)
        .order_by(t.ProjectWorkforce.project_id)
    )
    return [(int(r[0]), str(r[1]), float(r[2] or 0.0), int(r[3])) for r in rows]


def non_gold_items(conn: Connection, project_id: int, *, limit: int = 20) -> list[int]:
    """Ids of the project's items in service that carry no gold (an exam allows none)."""
    rows = conn.execute(
        select(t.Item.id)
        .where(
            t.Item.project_id == project_id,
            t.Item.gold.is_(None),
            t.Item.deleted_at.is_(None),
        )
        .order_by(t.Item.id)
        .limit(limit)
    )
    return [r.id for r in rows]


def count_exam_items(conn: Connection, exam_project_id: int) -> int:
    return int(
        conn.execute(
            text(
                "SELECT count(*) FROM items WHERE project_id = :p AND disabled_at IS NULL"
            ),
            {"p": exam_project_id},
        ).scalar_one()
    )


@dataclass(frozen=True, slots=True)
class ExamRow:
    exam_project_id: int
    worker_id: int
    username: str
    attempts: int
    answered: int
    correct: int
    last_score: float | None
    best_score: float | None
    finished_at: datetime | None
    retry_at: datetime | None


_EXAM_SELECT = (
    "SELECT r.exam_project_id, r.worker_id, u.username, r.attempts, r.answered, r.correct, "
    "r.last_score, r.best_score, r.finished_at, r.retry_at FROM exam_results r "
    "JOIN users u ON u.id = r.worker_id "
)
_EXAM_TYPES = {"finished_at": DateTime(), "retry_at": DateTime()}


def exam_result(conn: Connection, exam_project_id: int, worker_id: int) -> ExamRow | None:
    row = conn.execute(
        text(_EXAM_SELECT + "WHERE r.exam_project_id = :e AND r.worker_id = :w").columns(
            **_EXAM_TYPES
        ),
        {"e": exam_project_id, "w": worker_id},
    ).first()
    return None if row is None else ExamRow(*row)


def exam_results(conn: Connection, exam_project_id: int) -> list[ExamRow]:
    rows = conn.execute(
        text(_EXAM_SELECT + "WHERE r.exam_project_id = :e ORDER BY r.worker_id").columns(
            **_EXAM_TYPES
        ),
        {"e": exam_project_id},
    )
    return [ExamRow(*r) for r in rows]


_EXAM_ANSWER = text(
    "INSERT INTO exam_results (exam_project_id, worker_id, attempts, answered, correct) "
    "VALUES (:e, :w, 1, 1, :correct) "
    "ON CONFLICT (exam_project_id, worker_id) DO UPDATE SET "
    "answered = exam_results.answered + 1, correct = exam_results.correct + excluded.correct, "
    "attempts = CASE WHEN exam_results.answered = 0 THEN exam_results.attempts + 1 "
    "ELSE exam_results.attempts END"
)


def record_exam_answer(
    conn: Connection, exam_project_id: int, worker_id: int, *, correct: bool
) -> ExamRow:
    """Count an answer of the worker's current attempt; returns the attempt so far."""
    conn.execute(_EXAM_ANSWER, {"e": exam_project_id, "w": worker_id, "correct": int(correct)})
    found = exam_result(conn, exam_project_id, worker_id)
    assert found is not None
    return found


def finish_exam_attempt(
    conn: Connection,
    exam_project_id: int,
    worker_id: int,
    *,
    score: float,
    now: datetime,
    retry_at: datetime | None,
) -> None:
    """Score the current attempt; a retry time also starts the next attempt from zero."""
    conn.execute(
        text(
            "UPDATE exam_results SET last_score = :score, "
            "best_score = CASE WHEN best_score IS NULL OR best_score < :score THEN :score "
            "ELSE best_score END, finished_at = :now, retry_at = :retry_at, "
            "answered = CASE WHEN :retry_at IS NULL THEN answered ELSE 0 END, "
            "correct = CASE WHEN :retry_at IS NULL THEN correct ELSE 0 END "
            "WHERE exam_project_id = :e AND worker_id = :w"
        ).bindparams(bindparam("retry_at", type_=DateTime()), bindparam("now", type_=DateTime())),
        {"score": score, "now": now, "retry_at": retry_at, "e": exam_project_id, "w": worker_id},
    )


def clear_exam_attempt(conn: Connection, exam_project_id: int, worker_id: int) -> int:
    """Take back the worker's answers and assignments in the exam, so a retry can answer
    each item again; their slots reopen. Run in a write transaction; returns the answers
    removed. Items are locked first (the lock order of ``claims.py``)."""
    rows = conn.execute(
        select(t.Assignment.id, t.Assignment.item_id, t.Assignment.status).where(
            t.Assignment.project_id == exam_project_id, t.Assignment.worker_id == worker_id
        )
    ).all()
    if not rows:
        return 0
    lock_items(conn, {r.item_id for r in rows})
    ids = [r.id for r in rows]
    answered = conn.execute(
        delete(t.Answer)
        .where(t.Answer.assignment_id.in_(ids))
        .returning(t.Answer.item_id)
    ).scalars().all()
    held = conn.execute(
        delete(t.Assignment)
        .where(t.Assignment.id.in_(ids))
        .returning(t.Assignment.item_id, t.Assignment.status)
    ).all()
    slots: dict[int, int] = {}
    for item_id, status in held:
        if status in ("answered", "leased"):
            slots[item_id] = slots.get(item_id, 0) + 1
    minus: dict[int, int] = {}
    for item_id in answered:
        minus[item_id] = minus.get(item_id, 0) + 1
    for item_id in sorted(slots):
        conn.execute(
            text(
                "UPDATE items SET n_answers = n_answers - :a, "
                "open_slots = CASE WHEN disabled_at IS NULL THEN open_slots + :s "
                "ELSE open_slots END WHERE id = :id"
            ),
            {"a": minus.get(item_id, 0), "s": slots[item_id], "id": item_id},
        )
    note_project_changed(conn, exam_project_id)
    return len(answered)
