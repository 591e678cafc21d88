"""The review queue: answers queued for review, leased to reviewers, and their decisions.

A review row exists per queued answer (unique ``answer_id``). Pending reviews are found
through the partial index ``ix_reviews_pending`` (project, id), so taking the next one
reads a few rows whatever the project's size. A reviewer holds a review until
``lease_expires_at``; on PostgreSQL the claim skips rows another reviewer is claiming at
the same moment (``SKIP LOCKED``), on SQLite the write transaction serialises claims.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, DateTime, bindparam, text

from expertloop.domain import ReviewOutcome, ReviewSource, ReviewStatus, Role
from expertloop.store import tables as t
from expertloop.store.counters import note_item_changed
from expertloop.store.exports import NOT_GOLD

__all__ = [
    "ReviewRow",
    "WorkerOutcomes",
    "count_available_reviews",
    "count_unqueued_answers",
    "decide_review",
    "held_review",
    "lease_next_review",
    "list_reviews",
    "load_review",
    "outcome_counts",
    "project_answer_ids",
    "queue_answers",
    "queue_sample",
    "reopen_slot",
    "worker_outcomes",
]



@dataclass(frozen=True, slots=True)
class ReviewRow:
    """A review with the answer and item it is about (canonical terms)."""

    id: int
    project_id: int
    answer_id: int
    source: str
    requested_at: datetime
    reviewer_id: int | None
    lease_expires_at: datetime | None
    outcome: str | None
    comment: str
    fixed_value: dict[str, Any] | None
    decided_at: datetime | None
    item_id: int
    external_id: str | None
    worker_id: int
    answer: dict[str, Any]
    duration_ms: int
    answered_at: datetime
    payload: dict[str, Any]
    guidelines_version: int


_REVIEW_SELECT = (
    "SELECT r.id, r.project_id, r.answer_id, r.source, r.requested_at, r.reviewer_id, "
    "r.lease_expires_at, r.outcome, r.comment, r.fixed_value, r.decided_at, a.item_id, "
    "i.external_id, a.worker_id, a.value, a.duration_ms, a.created_at, i.payload, "
    "a.guidelines_version "
    "FROM reviews r JOIN answers a ON a.id = r.answer_id JOIN items i ON i.id = a.item_id "
)
_REVIEW_TYPES: dict[str, Any] = {
    "requested_at": DateTime(),
    "lease_expires_at": DateTime(),
    "fixed_value": t.Json,
    "decided_at": DateTime(),
    "value": t.Json,
    "created_at": DateTime(),
    "payload": t.Json,
}


def _review_query(where: str) -> Any:
    return text(_REVIEW_SELECT + where).columns(**_REVIEW_TYPES)


_BY_ID = _review_query("WHERE r.id = :review_id")


def load_review(conn: Connection, review_id: int) -> ReviewRow | None:
    row = conn.execute(_BY_ID, {"review_id": review_id}).first()
    return None if row is None else ReviewRow(*row)


_LIST = {
    status: _review_query(
        "WHERE r.project_id = :project_id AND r.id > :after"
        + ("" if status is None else " AND r.outcome IS NULL" if status == ReviewStatus.PENDING
           else " AND r.outcome = :status")
        + " ORDER BY r.id LIMIT :limit"
    )
    for status in (None, ReviewStatus.PENDING, "decided")
}


def list_reviews(
    conn: Connection, project_id: int, *, status: str | None, after: int, limit: int
) -> list[ReviewRow]:
    """The project's reviews in id order after id ``after``: all of them (``status`` None),
    the pending ones (``"pending"``), or those of one outcome."""
    query = _LIST[status if status in (None, ReviewStatus.PENDING) else "decided"]
    params = {"project_id": project_id, "after": after, "limit": limit, "status": status}
    return [ReviewRow(*row) for row in conn.execute(query, params)]


# --- queueing ----------------------------------------------------------------------------

_UNQUEUED = (
    "FROM answers a JOIN items i ON i.id = a.item_id "
    "WHERE a.project_id = :project_id AND " + NOT_GOLD + " "
    "AND NOT EXISTS (SELECT 1 FROM reviews r WHERE r.answer_id = a.id){worker}"
)


def _unqueued(worker_id: int | None) -> str:
    return _UNQUEUED.format(worker="" if worker_id is None else " AND a.worker_id = :worker_id")


def count_unqueued_answers(conn: Connection, project_id: int, *, worker_id: int | None) -> int:
    """Answers (outside gold items) not yet queued for review, of one worker or all."""
    query = text("SELECT count(*) " + _unqueued(worker_id))
    return int(
        conn.execute(query, {"project_id": project_id, "worker_id": worker_id}).scalar_one()
    )


def queue_sample(
    conn: Connection,
    project_id: int,
    *,
    size: int,
    worker_id: int | None,
    requested_by: int,
    now: datetime,
) -> int:
    """Queue ``size`` answers drawn uniformly at random from those not yet queued (gold
    items' answers are checked against gold, not sampled); returns how many were queued."""
    query = text(
        "INSERT INTO reviews (project_id, answer_id, worker_id, source, requested_by, "
        f"requested_at, comment) SELECT a.project_id, a.id, a.worker_id, '{ReviewSource.SAMPLE}', "
        ":requested_by, :now, '' "
        + _unqueued(worker_id)
        + " ORDER BY random() LIMIT :size ON CONFLICT DO NOTHING"
    )
    params = {
        "project_id": project_id,
        "worker_id": worker_id,
        "requested_by": requested_by,
        "now": now,
        "size": size,
    }
    return conn.execute(query, params).rowcount


_ANSWERS_OF_PROJECT = text(
    "SELECT id FROM answers WHERE project_id = :project_id AND id IN :answer_ids"
).bindparams(bindparam("answer_ids", expanding=True))


def project_answer_ids(conn: Connection, project_id: int, answer_ids: Sequence[int]) -> set[int]:
    """Which of ``answer_ids`` are answers of the project."""
    params = {"project_id": project_id, "answer_ids": list(answer_ids)}
    return {int(r[0]) for r in conn.execute(_ANSWERS_OF_PROJECT, params)}


_QUEUE_GIVEN = text(
    "INSERT INTO reviews (project_id, answer_id, worker_id, source, requested_by, requested_at, "
    f"comment) SELECT project_id, id, worker_id, '{ReviewSource.REQUEST}', :requested_by, :now, "
    "'' FROM answers a "
    "WHERE project_id = :project_id AND id IN :answer_ids "
    "AND NOT EXISTS (SELECT 1 FROM reviews r WHERE r.answer_id = a.id) ON CONFLICT DO NOTHING"
).bindparams(bindparam("answer_ids", expanding=True))


def queue_answers(
    conn: Connection,
    project_id: int,
    answer_ids: Sequence[int],
    *,
    requested_by: int,
    now: datetime,
) -> int:
    """Queue those of ``answer_ids`` that are the project's answers and not queued yet;
    returns how many were queued."""
    params = {
        "project_id": project_id,
        "answer_ids": list(answer_ids),
        "requested_by": requested_by,
        "now": now,
    }
    return conn.execute(_QUEUE_GIVEN, params).rowcount


# --- the reviewer's queue ----------------------------------------------------------------

_HELD = text(
    "SELECT id FROM reviews WHERE project_id = :project_id AND outcome IS NULL "
    "AND reviewer_id = :reviewer_id AND lease_expires_at >= :now ORDER BY id LIMIT 1"
)


def held_review(conn: Connection, project_id: int, reviewer_id: int, now: datetime) -> int | None:
    """The pending review the reviewer holds in the project, if any (a reload gets it back)."""
    params = {"project_id": project_id, "reviewer_id": reviewer_id, "now": now}
    return conn.execute(_HELD, params).scalar()


_FREE = (
    "r.outcome IS NULL AND (r.lease_expires_at IS NULL OR r.lease_expires_at < :now)"
)
_NEXT_FREE = (
    "SELECT r.id FROM reviews r JOIN answers a ON a.id = r.answer_id "
    "WHERE r.project_id = :project_id AND " + _FREE + " AND a.worker_id <> :reviewer_id "
    "ORDER BY r.id LIMIT 1{lock}"
)
_NEXT = {
    "sqlite": text(_NEXT_FREE.format(lock="")),
    "postgresql": text(_NEXT_FREE.format(lock=" FOR UPDATE OF r SKIP LOCKED")),
}
_AVAILABLE = text(
    "SELECT count(*) FROM (SELECT 1 FROM reviews r JOIN answers a ON a.id = r.answer_id "
    "WHERE r.project_id = :project_id AND r.outcome IS NULL AND (r.lease_expires_at IS NULL "
    "OR r.lease_expires_at < :now OR r.reviewer_id = :reviewer_id) "
    "AND a.worker_id <> :reviewer_id LIMIT :cap) available"
)


def count_available_reviews(
    conn: Connection, project_id: int, *, reviewer_id: int, now: datetime, cap: int
) -> int:
    """Pending reviews the reviewer could be given now (free or held by them, never their
    own answers), counted up to ``cap``: the work reads at most ``cap`` queue rows."""
    params = {"project_id": project_id, "reviewer_id": reviewer_id, "now": now, "cap": cap}
    return int(conn.execute(_AVAILABLE, params).scalar_one())


_TAKE = text(
    "UPDATE reviews SET reviewer_id = :reviewer_id, lease_expires_at = :expires_at "
    "WHERE id = :review_id AND outcome IS NULL "
    "AND (lease_expires_at IS NULL OR lease_expires_at < :now)"
)


def lease_next_review(
    conn: Connection, project_id: int, *, reviewer_id: int, now: datetime, expires_at: datetime
) -> int | None:
    """Lease the oldest free pending review of the project to the reviewer (never one of
    their own answers); its id, or ``None`` when none is free. Run in a write transaction."""
    params = {
        "project_id": project_id,
        "reviewer_id": reviewer_id,
        "now": now,
        "expires_at": expires_at,
    }
    review_id = conn.execute(_NEXT[conn.dialect.name], params).scalar()
    if review_id is None:
        return None
    if conn.execute(_TAKE, {**params, "review_id": review_id}).rowcount != 1:
        return None  # not reachable under the row lock (PostgreSQL) or writer lock (SQLite)
    return int(review_id)


_DECIDE = {
    dialect: text(
        "UPDATE reviews SET outcome = :outcome, comment = :comment, "
        f"fixed_value = {value}, reviewer_id = :reviewer_id, decided_at = :now, "
        "lease_expires_at = NULL WHERE id = :review_id AND outcome IS NULL "
        "AND (reviewer_id = :reviewer_id OR lease_expires_at IS NULL "
        "OR lease_expires_at < :now)"
    )
    for dialect, value in (
        ("sqlite", "CAST(:fixed_value AS TEXT)"),
        ("postgresql", "CAST(:fixed_value AS jsonb)"),
    )
}


def decide_review(
    conn: Connection,
    review_id: int,
    *,
    reviewer_id: int,
    outcome: str,
    comment: str,
    fixed_value: dict[str, Any] | None,
    now: datetime,
) -> bool:
    """Record the decision on a pending review that no other reviewer holds; ``False`` if it
    was decided already or is held by someone else."""
    params = {
        "review_id": review_id,
        "reviewer_id": reviewer_id,
        "outcome": outcome,
        "comment": comment,
        # SQL NULL (not JSON null) when there is no fixed answer: the check constraint
        # ties a fixed value to the outcome "fixed".
        "fixed_value": None if fixed_value is None else json.dumps(fixed_value),
        "now": now,
    }
    return conn.execute(_DECIDE[conn.dialect.name], params).rowcount == 1


_REOPEN = text(
    "UPDATE items SET target = target + 1, open_slots = open_slots + 1 WHERE id = :item_id"
)


def reopen_slot(conn: Connection, item_id: int) -> None:
    """One more answer for the item: its target and open slots grow by one (a rejected
    answer is replaced, so the item still ends with the answers it was meant to have)."""
    conn.execute(_REOPEN, {"item_id": item_id})
    note_item_changed(conn, item_id)


# --- counts ------------------------------------------------------------------------------

_OUTCOMES = text(
    "SELECT outcome, count(*) FROM reviews WHERE project_id = :project_id GROUP BY outcome"
)


def outcome_counts(conn: Connection, project_id: int) -> dict[str, int]:
    """Reviews by outcome, with ``pending`` for those not decided yet; every key present."""
    counts = dict.fromkeys((status.value for status in ReviewStatus), 0)
    for outcome, n in conn.execute(_OUTCOMES, {"project_id": project_id}):
        counts[outcome or ReviewStatus.PENDING.value] = int(n)
    return counts


@dataclass(frozen=True, slots=True)
class WorkerOutcomes:
    worker_id: int
    username: str
    accepted: int
    rejected: int
    fixed: int
    pending: int


_BY_WORKER = text(
    "SELECT r.worker_id, u.username, "
    f"sum(CASE WHEN r.outcome = '{ReviewOutcome.ACCEPTED}' THEN 1 ELSE 0 END), "
    f"sum(CASE WHEN r.outcome = '{ReviewOutcome.REJECTED}' THEN 1 ELSE 0 END), "
    f"sum(CASE WHEN r.outcome = '{ReviewOutcome.FIXED}' THEN 1 ELSE 0 END), "
    "sum(CASE WHEN r.outcome IS NULL THEN 1 ELSE 0 END) "
    "FROM reviews r JOIN users u ON u.id = r.worker_id "
    "WHERE r.project_id = :project_id GROUP BY r.worker_id, u.username ORDER BY r.worker_id"
)


def worker_outcomes(conn: Connection, project_id: int) -> list[WorkerOutcomes]:
    """Per worker whose answers were queued: how their reviews came out."""
    return [
        WorkerOutcomes(int(w), name, int(acc), int(rej), int(fix), int(pend))
        for w, name, acc, rej, fix, pend in conn.execute(_BY_WORKER, {"project_id": project_id})
    ]


@dataclass(frozen=True, slots=True)
class Candidate:
    user_id: int
    username: str
    role: str


def sample_candidates(conn: Connection, project_id: int) -> list[Candidate]:
    """The project's members whose answers a manager may sample for review (workers and
    reviewers), by username: the members index, not the answers."""
    rows = conn.execute(
        text(
            "SELECT u.id, u.username, u.role FROM project_members m JOIN users u "
            "ON u.id = m.user_id WHERE m.project_id = :project_id "
            f"AND u.role IN ('{Role.WORKER}', '{Role.REVIEWER}') ORDER BY u.username"
        ),
        {"project_id": project_id},
    )
    return [Candidate(int(i), name, role) for i, name, role in rows]

