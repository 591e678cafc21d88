"""Worker rules in the database: a project's rules, worker flags, pauses, answer telemetry,
and the answers the rules' evaluation reads."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, insert, select, text, update
from sqlalchemy.dialects import postgresql, sqlite

from expertloop.store import tables as t
from expertloop.store.claims import lock_items

__all__ = [
    "EvaluationState",
    "FlagRow",
    "PauseState",
    "evaluation_states",
    "flag_by_id",
    "insert_telemetry",
    "iter_project_answers",
    "list_flags",
    "load_rules",
    "mark_evaluated",
    "newest_answer_id",
    "open_flag_count",
    "pause_state",
    "pause_worker",
    "record_event_flag",
    "resolution_cutoffs",
    "resolve_flags",
    "save_rules",
    "telemetry_rows",
    "unpause_worker",
    "upsert_flag",
]


@dataclass(frozen=True, slots=True)
class FlagRow:
    id: int
    project_id: int
    worker_id: int
    worker_name: str
    rule: str
    details: dict[str, Any]
    message: str
    n_events: int
    paused: bool
    created_at: datetime
    updated_at: datetime
    resolved_at: datetime | None
    resolved_by: int | None
    action: str | None


@dataclass(frozen=True, slots=True)
class PauseState:
    paused_at: datetime
    reason: str


# --- rules --------------------------------------------------------------------------------


def load_rules(conn: Connection, project_id: int) -> dict[str, Any] | None:
    row = conn.execute(
        select(t.ProjectRules.rules).where(t.ProjectRules.project_id == project_id)
    ).first()
    return None if row is None else row[0]


def _upsert(conn: Connection) -> Any:
    return (postgresql if conn.dialect.name == "postgresql" else sqlite).insert


def save_rules(
    conn: Connection, project_id: int, rules: dict[str, Any] | None, *, by: int | None,
    now: datetime,
) -> None:
    stmt = _upsert(conn)(t.ProjectRules).values(
        project_id=project_id, rules=rules, updated_at=now, updated_by=by,
        evaluated_answer_id=0, evaluation_ms=0,
    )
    conn.execute(
        stmt.on_conflict_do_update(
            index_elements=["project_id"],
            set_={"rules": rules, "updated_at": now, "updated_by": by},
        )
    )


@dataclass(frozen=True, slots=True)
class EvaluationState:
    project_id: int
    newest_answer_id: int
    evaluated_answer_id: int
    evaluated_at: datetime | None
    evaluation_ms: int


def evaluation_states(conn: Connection) -> list[EvaluationState]:
    """Where each project's evaluation stands against its newest answer: one index probe
    per project (``ix_answers_project_id_id``)."""
    rows = conn.execute(
        select(t.Project.id, t.ProjectRules.evaluated_answer_id, t.ProjectRules.evaluated_at,
               t.ProjectRules.evaluation_ms)
        .select_from(t.Project)
        .outerjoin(t.ProjectRules, t.ProjectRules.project_id == t.Project.id)
        .order_by(t.Project.id)
    ).all()
    return [
        EvaluationState(pid, newest_answer_id(conn, pid), int(done or 0), at, int(ms or 0))
        for pid, done, at, ms in rows
    ]


def newest_answer_id(conn: Connection, project_id: int) -> int:
    last = conn.execute(
        text("SELECT max(id) FROM answers WHERE project_id = :p"), {"p": project_id}
    ).scalar()
    return int(last or 0)


def mark_evaluated(
    conn: Connection, project_id: int, *, answer_id: int, now: datetime, duration_ms: int
) -> None:
    stmt = _upsert(conn)(t.ProjectRules).values(
        project_id=project_id, rules=None, updated_at=now, updated_by=None,
        evaluated_answer_id=answer_id, evaluated_at=now, evaluation_ms=duration_ms,
    )
    conn.execute(
        stmt.on_conflict_do_update(
            index_elements=["project_id"],
            set_={"evaluated_answer_id": answer_id, "evaluated_at": now,
                  "evaluation_ms": duration_ms},
        )
    )


# --- pauses -------------------------------------------------------------------------------


def pause_state(conn: Connection, project_id: int, worker_id: int) -> PauseState | None:
    row = conn.execute(
        select(t.ProjectMember.paused_at, t.ProjectMember.pause_reason).where(
            t.ProjectMember.project_id == project_id,
            t.ProjectMember.user_id == worker_id,
            t.ProjectMember.paused_at.is_not(None),
        )
    ).first()
    if row is None or row[0] is None:
        return None
    return PauseState(row[0], row[1] or "")


def pause_worker(
    conn: Connection, project_id: int, worker_id: int, *, reason: str, now: datetime
) -> tuple[bool, int]:
    """Pause a member and release their live leases in the project, in the caller's write
    transaction. Returns (newly paused, leases released).

    The membership row is updated first: on PostgreSQL that waits for any claim of this
    worker that share-locked it (scheduling rule ``NOT_PAUSED``), so the leases read next
    include that claim's; a claim that comes later waits for this transaction and then sees
    the pause.
    """
    changed = conn.execute(
        update(t.ProjectMember)
        .where(
            t.ProjectMember.project_id == project_id,
            t.ProjectMember.user_id == worker_id,
            t.ProjectMember.paused_at.is_(None),
        )
        .values(paused_at=now, pause_reason=reason)
    ).rowcount
    return bool(changed), release_project_leases(conn, project_id, worker_id, now=now)


def release_project_leases(
    conn: Connection, project_id: int, worker_id: int, *, now: datetime
) -> int:
    """End the worker's live leases in the project and give their slots back, items locked
    first (the lock order of ``store/claims.py``)."""
    live = conn.execute(
        select(t.Assignment.item_id).where(
            t.Assignment.project_id == project_id,
            t.Assignment.worker_id == worker_id,
            t.Assignment.status == "leased",
        )
    ).scalars().all()
    if not live:
        return 0
    lock_items(conn, live)
    released = conn.execute(
        update(t.Assignment)
        .where(
            t.Assignment.project_id == project_id,
            t.Assignment.worker_id == worker_id,
            t.Assignment.status == "leased",
        )
        .values(status="released", finished_at=now)
        .returning(t.Assignment.item_id)
    ).scalars().all()
    per_item = Counter(released)
    if per_item:
        conn.execute(
            text("UPDATE items SET open_slots = open_slots + :n WHERE id = :item_id"),
            [{"item_id": i, "n": n} for i, n in sorted(per_item.items())],
        )
    return len(released)


def unpause_worker(conn: Connection, project_id: int, worker_id: int) -> bool:
    return bool(
        conn.execute(
            update(t.ProjectMember)
            .where(
                t.ProjectMember.project_id == project_id,
                t.ProjectMember.user_id == worker_id,
                t.ProjectMember.paused_at.is_not(None),
            )
            .values(paused_at=None, pause_reason=None)
        ).rowcount
    )


# --- flags --------------------------------------------------------------------------------

_OPEN = text("resolved_at IS NULL")


def upsert_flag(
    conn: Connection,
    *,
    project_id: int,
    worker_id: int,
    rule: str,
    details: dict[str, Any],
    message: str,
    paused: bool,
    now: datetime,
    count_event: bool = False,
) -> tuple[int, int]:
    """Open the rule's flag on the worker, or refresh the open one with the new numbers
    (``count_event`` adds one to its event counter). Returns (flag id, events)."""
    stmt = _upsert(conn)(t.WorkerFlag).values(
        project_id=project_id, worker_id=worker_id, rule=rule, details=details,
        message=message, n_events=1, paused=paused, created_at=now, updated_at=now,
    )
    excluded = stmt.excluded
    sets: dict[str, Any] = {
        "details": excluded.details,
        "message": excluded.message,
        "updated_at": excluded.updated_at,
        "paused": t.WorkerFlag.paused | excluded.paused,
    }
    if count_event:
        sets["n_events"] = t.WorkerFlag.n_events + 1
    row = conn.execute(
        stmt.on_conflict_do_update(
            index_elements=["project_id", "worker_id", "rule"], index_where=_OPEN, set_=sets
        ).returning(t.WorkerFlag.id, t.WorkerFlag.n_events)
    ).one()
    return int(row[0]), int(row[1])


def record_event_flag(conn: Connection, flag_id: int, *, details: dict[str, Any],
                      message: str, paused: bool) -> None:
    conn.execute(
        update(t.WorkerFlag)
        .where(t.WorkerFlag.id == flag_id)
        .values(details=details, message=message, paused=t.WorkerFlag.paused | paused)
    )


_FLAG_COLUMNS = (
    t.WorkerFlag.id, t.WorkerFlag.project_id, t.WorkerFlag.worker_id, t.User.username,
    t.WorkerFlag.rule, t.WorkerFlag.details, t.WorkerFlag.message, t.WorkerFlag.n_events,
    t.WorkerFlag.paused, t.WorkerFlag.created_at, t.WorkerFlag.updated_at,
    t.WorkerFlag.resolved_at, t.WorkerFlag.resolved_by, t.WorkerFlag.action,
)


def list_flags(
    conn: Connection, project_id: int, *, open_only: bool, worker_id: int | None = None,
    limit: int = 500,
) -> list[FlagRow]:
    query = (
        select(*_FLAG_COLUMNS)
        .join(t.User, t.User.id == t.WorkerFlag.worker_id)
        .where(t.WorkerFlag.project_id == project_id)
        .order_by(t.WorkerFlag.id.desc())
        .limit(limit)
    )
    if open_only:
        query = query.where(t.WorkerFlag.resolved_at.is_(None))
    if worker_id is not None:
        query = query.where(t.WorkerFlag.worker_id == worker_id)
    return [FlagRow(*row) for row in conn.execute(query)]


def flag_by_id(conn: Connection, flag_id: int) -> FlagRow | None:
    row = conn.execute(
        select(*_FLAG_COLUMNS)
        .join(t.User, t.User.id == t.WorkerFlag.worker_id)
        .where(t.WorkerFlag.id == flag_id)
    ).first()
    return None if row is None else FlagRow(*row)


def open_flag_count(conn: Connection, project_id: int) -> int:
    return int(
        conn.execute(
            select(func.count()).select_from(t.WorkerFlag).where(
                t.WorkerFlag.project_id == project_id, t.WorkerFlag.resolved_at.is_(None)
            )
        ).scalar_one()
    )


def resolve_flags(
    conn: Connection, *, project_id: int, worker_id: int, action: str, by: int | None,
    now: datetime, flag_id: int | None = None,
) -> list[int]:
    """Resolve one open flag (``flag_id``) or every open flag of the worker in the project;
    the ids resolved. The rule looks again only at answers after the newest one now."""
    newest = newest_answer_id(conn, project_id)
    stmt = update(t.WorkerFlag).where(
        t.WorkerFlag.project_id == project_id,
        t.WorkerFlag.worker_id == worker_id,
        t.WorkerFlag.resolved_at.is_(None),
    )
    if flag_id is not None:
        stmt = stmt.where(t.WorkerFlag.id == flag_id)
    return list(
        conn.execute(
            stmt.values(resolved_at=now, resolved_by=by, action=action,
                        resolved_answer_id=newest).returning(t.WorkerFlag.id)
        ).scalars()
    )


def resolution_cutoffs(conn: Connection, project_id: int) -> dict[tuple[int, str], int]:
    """``(worker, rule) -> answer id`` of the latest resolution: the rule's evidence starts
    after it."""
    rows = conn.execute(
        select(t.WorkerFlag.worker_id, t.WorkerFlag.rule,
               func.max(t.WorkerFlag.resolved_answer_id))
        .where(t.WorkerFlag.project_id == project_id,
               t.WorkerFlag.resolved_answer_id.is_not(None))
        .group_by(t.WorkerFlag.worker_id, t.WorkerFlag.rule)
    ).all()
    return {(int(w), str(r)): int(a) for w, r, a in rows if a is not None}


# --- evidence -----------------------------------------------------------------------------


def insert_telemetry(
    conn: Connection, *, answer_id: int, project_id: int, worker_id: int, typed_chars: int,
    pasted_chars: int, typing_ms: int,
) -> None:
    conn.execute(
        insert(t.AnswerTelemetry).values(
            answer_id=answer_id, project_id=project_id, worker_id=worker_id,
            typed_chars=typed_chars, pasted_chars=pasted_chars, typing_ms=typing_ms,
        )
    )


def telemetry_rows(conn: Connection, project_id: int) -> list[tuple[int, int, int, int]]:
    """``(answer_id, worker_id, typed_chars, pasted_chars)`` of the project's answers."""
    rows = conn.execute(
        select(t.AnswerTelemetry.answer_id, t.AnswerTelemetry.worker_id,
               t.AnswerTelemetry.typed_chars, t.AnswerTelemetry.pasted_chars)
        .where(t.AnswerTelemetry.project_id == project_id)
        .order_by(t.AnswerTelemetry.answer_id)
    ).all()
    return [(int(a), int(w), int(ty), int(p)) for a, w, ty, p in rows]


@dataclass(frozen=True, slots=True)
class AnswerEvidence:
    answer_id: int
    worker_id: int
    item_id: int
    value: Any
    presentation: Any
    gold: Any


def iter_project_answers(
    conn: Connection, project_id: int, *, batch: int = 5000
) -> Iterator[AnswerEvidence]:
    """Every answer of the project with its assignment's presentation and its item's gold,
    in answer id order, read a batch at a time (keyset on the answer id)."""
    after = 0
    while True:
        rows = conn.execute(
            select(
                t.Answer.id, t.Answer.worker_id, t.Answer.item_id, t.Answer.value,
                t.Assignment.presentation, t.Item.gold,
            )
            .join(t.Assignment, t.Assignment.id == t.Answer.assignment_id)
            .join(t.Item, t.Item.id == t.Answer.item_id)
            .where(t.Answer.project_id == project_id, t.Answer.id > after)
            .order_by(t.Answer.id)
            .limit(batch)
        ).all()
        for row in rows:
            yield AnswerEvidence(*row)
        if len(rows) < batch:
            return
        after = rows[-1][0]
