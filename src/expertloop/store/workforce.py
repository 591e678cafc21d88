"""The workforce's rows: skills, credentials, project settings, worker counters, exams, votes.

Counters (``worker_stats``, ``exam_results``' attempt, ``item_votes``) change at submit, in
the answer's transaction, with upserts whose SQL is the same on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, DateTime, bindparam, delete, insert, select, text, update

from expertloop.domain import ReviewSource
from expertloop.store import tables as t
from expertloop.store.claims import lock_items
from expertloop.store.counters import note_project_changed
from expertloop.store.driver import DriverStatement

__all__ = [
    "AnswerCounted",
    "CredentialRow",
    "ExamRow",
    "ProjectSettingsRow",
    "StatsRow",
    "WorkerCounters",
    "add_credential",
    "add_vote",
    "clear_exam_attempt",
    "count_answer",
    "count_exam_items",
    "credential",
    "delete_credential",
    "escalate_item",
    "exam_result",
    "exam_results",
    "finish_exam_attempt",
    "item_progress",
    "list_credentials",
    "load_settings",
    "mark_disputed",
    "non_gold_items",
    "open_gold_targets",
    "project_skills",
    "projects_naming_exam",
    "record_exam_answer",
    "record_worker_answer",
    "refresh_is_exam",
    "reopen_gold_slot",
    "replace_project_skills",
    "replace_user_skills",
    "save_settings",
    "user_skills",
    "verify_credential",
    "votes",
    "worker_counters",
    "worker_stats",
]


# --- skills and credentials --------------------------------------------------------------


def user_skills(conn: Connection, user_id: int) -> dict[str, int]:
    rows = conn.execute(
        select(t.UserSkill.skill, t.UserSkill.level)
        .where(t.UserSkill.user_id == user_id)
        .order_by(t.UserSkill.skill)
    )
    return {r.skill: r.level for r in rows}


def replace_user_skills(
    conn: Connection, user_id: int, skills: Mapping[str, int], *, now: datetime
) -> None:
    conn.execute(delete(t.UserSkill).where(t.UserSkill.user_id == user_id))
    rows = [
        {"user_id": user_id, "skill": skill, "level": level, "updated_at": now}
        for skill, level in sorted(skills.items())
    ]
    if rows:
        conn.execute(insert(t.UserSkill), rows)


@dataclass(frozen=True, slots=True)
class CredentialRow:
    id: int
    user_id: int
    kind: str
    title: str
    evidence: str
    recorded_by: int | None
    recorded_at: datetime
    verified_by: int | None
    verified_at: datetime | None


_CREDENTIAL_COLUMNS = (
    t.UserCredential.id,
    t.UserCredential.user_id,
    t.UserCredential.kind,
    t.UserCredential.title,
    t.UserCredential.evidence,
    t.UserCredential.recorded_by,
    t.UserCredential.recorded_at,
    t.UserCredential.verified_by,
    t.UserCredential.verified_at,
)


def list_credentials(conn: Connection, user_id: int) -> list[CredentialRow]:
    rows = conn.execute(
        select(*_CREDENTIAL_COLUMNS)
        .where(t.UserCredential.user_id == user_id)
        .order_by(t.UserCredential.id)
    )
    return [CredentialRow(*r) for r in rows]


def credential(conn: Connection, user_id: int, credential_id: int) -> CredentialRow | None:
    row = conn.execute(
        select(*_CREDENTIAL_COLUMNS).where(
            t.UserCredential.id == credential_id, t.UserCredential.user_id == user_id
        )
    ).first()
    return None if row is None else CredentialRow(*row)


def add_credential(
    conn: Connection,
    *,
    user_id: int,
    kind: str,
    title: str,
    evidence: str,
    recorded_by: int | None,
    now: datetime,
) -> CredentialRow:
    row = conn.execute(
        insert(t.UserCredential)
        .values(
            user_id=user_id,
            kind=kind,
            title=title,
            evidence=evidence,
            recorded_by=recorded_by,
            recorded_at=now,
        )
        .returning(*_CREDENTIAL_COLUMNS)
    ).one()
    return CredentialRow(*row)


def verify_credential(
    conn: Connection, user_id: int, credential_id: int, *, verified_by: int | None, now: datetime
) -> CredentialRow | None:
    row = conn.execute(
        update(t.UserCredential)
        .where(t.UserCredential.id == credential_id, t.UserCredential.user_id == user_id)
        .values(verified_by=verified_by, verified_at=now)
        .returning(*_CREDENTIAL_COLUMNS)
    ).first()
    return None if row is None else CredentialRow(*row)


def delete_credential(conn: Connection, user_id: int, credential_id: int) -> bool:
    result = conn.execute(
        delete(t.UserCredential).where(
            t.UserCredential.id == credential_id, t.UserCredential.user_id == user_id
        )
    )
    return bool(result.rowcount)


# --- project settings --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ProjectSettingsRow:
    project_id: int
    gold_share: float | None
    exam_project_id: int | None
    pass_mark: float | None
    retry_after_seconds: int
    is_exam: bool
    route_min_accuracy: float | None
    escalate: bool
    updated_at: datetime


_SETTINGS_COLUMNS = (
    t.ProjectWorkforce.project_id,
    t.ProjectWorkforce.gold_share,
    t.ProjectWorkforce.exam_project_id,
    t.ProjectWorkforce.pass_mark,
    t.ProjectWorkforce.retry_after_seconds,
    t.ProjectWorkforce.is_exam,
    t.ProjectWorkforce.route_min_accuracy,
    t.ProjectWorkforce.escalate,
    t.ProjectWorkforce.updated_at,
)


def load_settings(conn: Connection, project_id: int) -> ProjectSettingsRow | None:
    row = conn.execute(
        select(*_SETTINGS_COLUMNS).where(t.ProjectWorkforce.project_id == project_id)
    ).first()
    return None if row is None else ProjectSettingsRow(*row)


def save_settings(conn: Connection, row: ProjectSettingsRow) -> None:
    values = {
        "gold_share": row.gold_share,
        "exam_project_id": row.exam_project_id,
        "pass_mark": row.pass_mark,
        "retry_after_seconds": row.retry_after_seconds,
        "is_exam": row.is_exam,
        "route_min_accuracy": row.route_min_accuracy,
        "escalate": row.escalate,
        "updated_at": row.updated_at,
    }
    changed = conn.execute(
        update(t.ProjectWorkforce)
        .where(t.ProjectWorkforce.project_id == row.project_id)
        .values(**values)
    ).rowcount
    if not changed:
        conn.execute(insert(t.ProjectWorkforce).values(project_id=row.project_id, **values))


def project_skills(conn: Connection, project_id: int) -> dict[str, int]:
    rows = conn.execute(
        select(t.ProjectSkill.skill, t.ProjectSkill.level)
        .where(t.ProjectSkill.project_id == project_id)
        .order_by(t.ProjectSkill.skill)
    )
    return {r.skill: r.level for r in rows}


def replace_project_skills(conn: Connection, project_id: int, skills: Mapping[str, int]) -> None:
    conn.execute(delete(t.ProjectSkill).where(t.ProjectSkill.project_id == project_id))
    rows = [
        {"project_id": project_id, "skill": skill, "level": level}
        for skill, level in sorted(skills.items())
    ]
    if rows:
        conn.execute(insert(t.ProjectSkill), rows)


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


def open_gold_targets(conn: Connection, project_id: int, slots: int) -> int:
    """Give each of the project's in-service gold items ``slots`` open slots (every worker
    may answer it; each answer opens one more: :func:`reopen_gold_slot`), raising its
    target by what it lacks; returns how many items changed. The target stays bounded:
    answers plus live leases plus ``slots``."""
    result = conn.execute(
        text(
            "UPDATE items SET target = target + (:slots - open_slots), open_slots = :slots "
            "WHERE project_id = :project_id AND gold IS NOT NULL AND disabled_at IS NULL "
            "AND open_slots < :slots"
        ),
        {"project_id": project_id, "slots": slots},
    )
    if result.rowcount:
        note_project_changed(conn, project_id)
    return result.rowcount


_REOPEN_GOLD = text(
    "UPDATE items SET target = target + 1, open_slots = open_slots + 1 "
    "WHERE id = :item_id AND disabled_at IS NULL"
)


def reopen_gold_slot(conn: Connection, item_id: int) -> None:
    """The slot an answer to an open gold item took, opened again (in the answer's
    transaction, the item locked already): its open slots stay what they were."""
    conn.execute(_REOPEN_GOLD, {"item_id": item_id})


def count_exam_items(conn: Connection, exam_project_id: int) -> int:
    return int(
        conn.execute(
            text(
                "SELECT count(*) FROM items WHERE project_id = :p AND disabled_at IS NULL"
            ),
            {"p": exam_project_id},
        ).scalar_one()
    )


# --- worker counters ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WorkerCounters:
    """What the annotator loop reads before a claim in a workforce project (one row)."""

    gold_share: float | None
    route_min_accuracy: float | None
    answers: int
    gold_answers: int
    gold_correct: int


_COUNTERS = text(
    "SELECT w.gold_share, w.route_min_accuracy, COALESCE(s.answers, 0), "
    "COALESCE(s.gold_answers, 0), COALESCE(s.gold_correct, 0) "
    "FROM project_workforce w LEFT JOIN worker_stats s "
    "ON s.project_id = w.project_id AND s.worker_id = :worker_id "
    "WHERE w.project_id = :project_id"
)


_PG_COUNTERS = DriverStatement(_COUNTERS)


def worker_counters(conn: Connection, project_id: int, worker_id: int) -> WorkerCounters | None:
    params = {"project_id": project_id, "worker_id": worker_id}
    if conn.dialect.name == "postgresql":  # every claim in the project: the driver's cursor
        found = _PG_COUNTERS.first(conn, params)
        return None if found is None else WorkerCounters(*found)
    row = conn.execute(_COUNTERS, params).first()
    return None if row is None else WorkerCounters(*row)


_RECORD = text(
    "INSERT INTO worker_stats (project_id, worker_id, answers, gold_answers, gold_correct) "
    "VALUES (:project_id, :worker_id, 1, :gold, :correct) "
    "ON CONFLICT (project_id, worker_id) DO UPDATE SET "
    "answers = worker_stats.answers + 1, "
    "gold_answers = worker_stats.gold_answers + excluded.gold_answers, "
    "gold_correct = worker_stats.gold_correct + excluded.gold_correct"
)


def record_worker_answer(
    conn: Connection, *, project_id: int, worker_id: int, gold: bool, correct: bool
) -> None:
    """Count an answer: ``gold`` when it was on a gold item that could be scored."""
    conn.execute(
        _RECORD,
        {
            "project_id": project_id,
            "worker_id": worker_id,
            "gold": int(gold),
            "correct": int(gold and correct),
        },
    )


@dataclass(frozen=True, slots=True)
class StatsRow:
    worker_id: int
    username: str
    answers: int
    gold_answers: int
    gold_correct: int


def worker_stats(
    conn: Connection, project_id: int, worker_id: int | None = None
) -> list[StatsRow]:
    query = (
        select(
            t.WorkerStats.worker_id,
            t.User.username,
            t.WorkerStats.answers,
            t.WorkerStats.gold_answers,
            t.WorkerStats.gold_correct,
        )
        .join(t.User, t.User.id == t.WorkerStats.worker_id)
        .where(t.WorkerStats.project_id == project_id)
        .order_by(t.WorkerStats.worker_id)
    )
    if worker_id is not None:
        query = query.where(t.WorkerStats.worker_id == worker_id)
    return [StatsRow(*r) for r in conn.execute(query)]


# --- exams -------------------------------------------------------------------------------


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


# --- votes, disputes and escalation ------------------------------------------------------

_VOTE = text(
    "INSERT INTO item_votes (item_id, value, n) VALUES (:item_id, :value, 1) "
    "ON CONFLICT (item_id, value) DO UPDATE SET n = item_votes.n + 1"
)


def add_vote(conn: Connection, item_id: int, value: str) -> None:
    conn.execute(_VOTE, {"item_id": item_id, "value": value})


def votes(conn: Connection, item_id: int) -> dict[str, int]:
    rows = conn.execute(
        select(t.ItemVote.value, t.ItemVote.n).where(t.ItemVote.item_id == item_id)
    )
    return {r.value: r.n for r in rows}


_OTHER_VOTE = text(
    "SELECT 1 FROM item_votes v WHERE v.item_id = :id AND v.value <> :value LIMIT 1"
)
# Only an item not yet disputed is updated: on PostgreSQL every update of an item writes a
# new row version and, ``disputed`` being in an index predicate, new entries in its
# indexes, which the claims walking those indexes then step over until vacuum. Setting
# it again on every answer to a disputed item doubled the item updates of a routing
# project (bench/loop.py --gold-share).
_DISPUTE = text("UPDATE items SET disputed = true WHERE id = :id AND NOT disputed")


def mark_disputed(conn: Connection, item_id: int, vote: str) -> bool:
    """Mark the item disputed when a vote other than ``vote`` was counted; returns whether
    it is disputed."""
    if conn.execute(_OTHER_VOTE, {"id": item_id, "value": vote}).first() is None:
        return False
    conn.execute(_DISPUTE, {"id": item_id})
    return True


def item_progress(conn: Connection, item_id: int) -> tuple[int, int]:
    """(answers, target) of an item."""
    row = conn.execute(
        select(t.Item.n_answers, t.Item.target).where(t.Item.id == item_id)
    ).one()
    return int(row[0]), int(row[1])


_ESCALATE = text(
    "INSERT INTO reviews (project_id, answer_id, worker_id, source, requested_by, requested_at, "
    f"comment) SELECT project_id, id, worker_id, '{ReviewSource.ESCALATION}', NULL, :now, '' "
    "FROM answers a "
    "WHERE item_id = :item_id "
    "AND NOT EXISTS (SELECT 1 FROM reviews r WHERE r.answer_id = a.id) ON CONFLICT DO NOTHING"
).bindparams(bindparam("now", type_=DateTime()))


def escalate_item(conn: Connection, item_id: int, *, now: datetime) -> int:
    """Queue every answer of the item for review, as an escalation; returns how many."""
    return conn.execute(_ESCALATE, {"item_id": item_id, "now": now}).rowcount


@dataclass(frozen=True, slots=True)
class AnswerCounted:
    """What counting an answer left: whether its item is disputed (another value has a
    vote), and, in an escalating project, the votes of each value (this answer's included)
    of a disputed item that has all its answers (``None`` otherwise)."""

    disputed: bool
    tally: dict[str, int] | None = None


# PostgreSQL: the worker's counters, the item's vote and its dispute mark in one statement
# on the driver's cursor (in the answer's transaction, the item locked by the answer's
# statement already). Its parts read the snapshot from before the statement: the other
# values' votes were counted by earlier answers, and the tally it returns lacks this vote,
# which :func:`count_answer` adds.
_PG_COUNT_ANSWER = DriverStatement(
    text(
        """
    WITH stats AS (
      INSERT INTO worker_stats (project_id, worker_id, answers, gold_answers, gold_correct)
      VALUES (:project_id, :worker_id, 1, :gold, :correct)
      ON CONFLICT (project_id, worker_id) DO UPDATE SET
        answers = worker_stats.answers + 1,
        gold_answers = worker_stats.gold_answers + excluded.gold_answers,
        gold_correct = worker_stats.gold_correct + excluded.gold_correct
      RETURNING 1
    ),
    vote AS (
      INSERT INTO item_votes (item_id, value, n)
      SELECT :item_id, CAST(:vote AS VARCHAR), 1 WHERE CAST(:vote AS VARCHAR) IS NOT NULL
      ON CONFLICT (item_id, value) DO UPDATE SET n = item_votes.n + 1
      RETURNING 1
    ),
    other AS (
      SELECT EXISTS (
        SELECT 1 FROM item_votes v
        WHERE v.item_id = :item_id AND v.value <> CAST(:vote AS VARCHAR)
      ) AS found
    ),
    marked AS (
      UPDATE items SET disputed = true
      WHERE id = :item_id AND NOT disputed AND (SELECT found FROM other)
      RETURNING 1
    )
    SELECT (SELECT found FROM other),
           CASE WHEN CAST(:escalate AS BOOLEAN) AND (SELECT found FROM other)
                     AND i.n_answers >= i.target THEN
             (SELECT json_object_agg(v.value, v.n) FROM item_votes v WHERE v.item_id = i.id)
           END,
           (SELECT count(*) FROM stats), (SELECT count(*) FROM vote), (SELECT count(*) FROM marked)
    FROM items i WHERE i.id = :item_id
    """
    )
)


def count_answer(
    conn: Connection,
    *,
    project_id: int,
    worker_id: int,
    item_id: int,
    gold: bool,
    correct: bool,
    vote: str | None,
    escalate: bool,
) -> AnswerCounted:
    """Count a new answer in the answer's transaction: the worker's counters (``gold`` when
    it was on a gold item that could be scored), and with a ``vote`` the item's votes and
    its dispute mark; with ``escalate``, what deciding an escalation needs."""
    params = {
        "project_id": project_id,
        "worker_id": worker_id,
        "gold": int(gold),
        "correct": int(gold and correct),
    }
    if conn.dialect.name == "postgresql":
        row = _PG_COUNT_ANSWER.first(
            conn, {**params, "item_id": item_id, "vote": vote, "escalate": escalate}
        )
        assert row is not None  # the answer's statement locked the item, which exists
        if vote is None or not row[0]:
            return AnswerCounted(False)
        if row[1] is None:
            return AnswerCounted(True)
        tally = {str(value): int(n) for value, n in row[1].items()}
        tally[vote] = tally.get(vote, 0) + 1
        return AnswerCounted(True, tally)
    record_worker_answer(
        conn, project_id=project_id, worker_id=worker_id, gold=gold, correct=correct
    )
    if vote is None:
        return AnswerCounted(False)
    add_vote(conn, item_id, vote)
    # One statement: disputed once another value has a vote (the item is locked already).
    if not mark_disputed(conn, item_id, vote):
        return AnswerCounted(False)
    if not escalate:
        return AnswerCounted(True)
    answers, target = item_progress(conn, item_id)
    return AnswerCounted(True, votes(conn, item_id) if answers >= target else None)
