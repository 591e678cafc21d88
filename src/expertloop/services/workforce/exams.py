"""Qualification exams: a project whose items all carry gold, named by other projects.

A worker answers the exam's items like any items. When their attempt covers every exam
item in service it is scored against the gold (the task type's ``matches_gold``): the
share right. A score at or above a naming project's pass mark qualifies the worker for it
(scheduling rule QUALIFIED; the best score counts). Below a pass mark, the worker is locked
out of the exam (rule EXAM_NOT_LOCKED) until ``retry_at`` (the longest ``retry_after`` of
the projects they failed), and their attempt's answers are cleared so they can take it
again. Workers see their score and status, never the gold; managers see everyone's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import Connection

from expertloop.domain import User
from expertloop.domain.policies import can_read_gold
from expertloop.errors import NotFound, PermissionDenied
from expertloop.services.projects import load_project
from expertloop.store import Database
from expertloop.store import projects as project_store
from expertloop.store import workforce as store
from expertloop.store.workforce import ExamRow

__all__ = [
    "ExamStatus",
    "QualificationStatus",
    "exam_statuses",
    "my_qualifications",
    "qualification_status",
    "record_exam_answer",
]

ExamStatus = Literal["not_started", "in_progress", "passed", "failed", "retry_available"]


def record_exam_answer(
    conn: Connection, *, exam_project_id: int, worker_id: int, correct: bool, now: datetime
) -> bool:
    """Count the answer in the worker's attempt, and score the attempt once it covers every
    exam item. Returns whether it was scored as a fail (its answers are then to be cleared,
    after this transaction)."""
    attempt = store.record_exam_answer(conn, exam_project_id, worker_id, correct=correct)
    if attempt.answered < store.count_exam_items(conn, exam_project_id):
        return False
    score = attempt.correct / attempt.answered
    best = max(score, attempt.best_score or 0.0)
    failed = [
        retry for _, _, pass_mark, retry in store.projects_naming_exam(conn, exam_project_id)
        if best < pass_mark
    ]
    retry_at = now + timedelta(seconds=max(failed)) if failed else None
    store.finish_exam_attempt(
        conn, exam_project_id, worker_id, score=score, now=now, retry_at=retry_at
    )
    return bool(failed)


@dataclass(frozen=True, slots=True)
class QualificationStatus:
    """A worker's standing on the exam a project names (no gold: scores only)."""

    project_id: int
    exam_project_id: int
    exam_name: str
    pass_mark: float
    worker_id: int
    username: str
    status: ExamStatus
    answered: int
    exam_items: int
    attempts: int
    score: float | None
    best_score: float | None
    finished_at: datetime | None
    retry_at: datetime | None
    qualified: bool


def _status(
    row: ExamRow | None, pass_mark: float, now: datetime
) -> tuple[ExamStatus, bool]:
    if row is None or (row.attempts == 0 and row.answered == 0):
        return "not_started", False
    qualified = row.best_score is not None and row.best_score >= pass_mark
    if qualified:
        return "passed", True
    if row.finished_at is not None and row.answered == 0:
        if row.retry_at is not None and row.retry_at > now:
            return "failed", False
        return "retry_available", False
    return "in_progress", False


def _statuses(
    conn: Connection, project_id: int, worker: tuple[int, str] | None, now: datetime
) -> list[QualificationStatus]:
    settings = store.load_settings(conn, project_id)
    if settings is None or settings.exam_project_id is None or settings.pass_mark is None:
        raise NotFound(f"project {project_id} names no qualification exam")
    exam_id, pass_mark = settings.exam_project_id, settings.pass_mark
    exam = project_store.project_for_user(conn, exam_id, 0)
    exam_name = exam.name if exam is not None else f"project {exam_id}"
    total = store.count_exam_items(conn, exam_id)
    if worker is not None:
        found = store.exam_result(conn, exam_id, worker[0])
        rows: list[tuple[int, str, ExamRow | None]] = [(worker[0], worker[1], found)]
    else:
        rows = [(r.worker_id, r.username, r) for r in store.exam_results(conn, exam_id)]
    out = []
    for worker_id, username, row in rows:
        status, qualified = _status(row, pass_mark, now)
        out.append(
            QualificationStatus(
                project_id, exam_id, exam_name, pass_mark, worker_id, username, status,
                row.answered if row else 0, total, row.attempts if row else 0,
                row.last_score if row else None, row.best_score if row else None,
                row.finished_at if row else None,
                row.retry_at if row and row.retry_at and row.retry_at > now else None,
                qualified,
            )
        )
    return out


def qualification_status(db: Database, *, actor: User, project_id: int) -> QualificationStatus:
    """The caller's standing on the project's exam (any member)."""
    with db.read() as conn:
        load_project(conn, actor=actor, project_id=project_id)
        return _statuses(conn, project_id, (actor.id, actor.username), db.clock.now())[0]


def exam_statuses(
    db: Database, *, actor: User | None, project_id: int
) -> list[QualificationStatus]:
    """Every worker who took the project's exam, with their standing (managers; ``None``:
    the operator)."""
    with db.read() as conn:
        if actor is not None:
            project = load_project(conn, actor=actor, project_id=project_id)
            if not can_read_gold(actor, is_member=project.is_member):
                raise PermissionDenied("only the project's managers see everyone's exam results")
        return _statuses(conn, project_id, None, db.clock.now())


def my_qualifications(db: Database, *, actor: User) -> dict[int, QualificationStatus]:
    """For each exam project the worker belongs to: the standing on it of the first project
    naming it (for the worker's home page: "Qualification for X")."""
    out: dict[int, QualificationStatus] = {}
    with db.read() as conn:
        now = db.clock.now()
        for project in project_store.list_projects(conn, actor.id, all_projects=False):
            settings = store.load_settings(conn, project.id)
            if settings is None or not settings.is_exam:
                continue
            for named_id, _, _, _ in store.projects_naming_exam(conn, project.id):
                out[project.id] = _statuses(conn, named_id, (actor.id, actor.username), now)[0]
                break
    return out
