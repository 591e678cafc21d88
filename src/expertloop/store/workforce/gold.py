"""What the annotator loop counts in a workforce project: the worker's counters (read before
each claim, counted at each answer), gold items' open slots, and items' votes, disputes
and escalations."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, DateTime, bindparam, select, text

from expertloop.domain import ReviewSource
from expertloop.store import tables as t
from expertloop.store.counters import note_project_changed
from expertloop.store.driver import DriverStatement

__all__ = [
    "AnswerCounted",
    "StatsRow",
    "WorkerCounters",
    "add_vote",
    "count_answer",
    "escalate_item",
    "item_progress",
    "mark_disputed",
    "open_gold_targets",
    "record_worker_answer",
    "reopen_gold_slot",
    "votes",
    "worker_counters",
    "worker_stats",
]


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
