"""A worker's own work, for the My work page: their answers with review outcomes, and what
their agreement and gold accuracy are computed from. Every statement is restricted to one
worker and walks the (worker, project, id) index of answers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Text, cast, func, select

from expertloop.store import tables as t

__all__ = [
    "OwnAnswer",
    "answer_count",
    "consensus_lines",
    "gold_pairs",
    "outcome_counts",
    "own_answers",
    "recent_values",
]


@dataclass(frozen=True, slots=True)
class OwnAnswer:
    id: int
    item_id: int
    external_id: str | None
    payload: dict[str, Any]
    presentation: dict[str, Any] | None
    value: dict[str, Any]
    duration_ms: int
    created_at: datetime
    review_outcome: str | None
    review_pending: bool
    review_comment: str
    fixed_value: dict[str, Any] | None
    decided_at: datetime | None


def own_answers(
    conn: Connection, *, worker_id: int, project_id: int, before_id: int | None, limit: int
) -> list[OwnAnswer]:
    """The worker's answers in the project, newest first, older than ``before_id``."""
    query = (
        select(
            t.Answer.id,
            t.Answer.item_id,
            t.Item.external_id,
            t.Item.payload,
            t.Assignment.presentation,
            t.Answer.value,
            t.Answer.duration_ms,
            t.Answer.created_at,
            t.Review.outcome,
            t.Review.id.is_not(None) & t.Review.outcome.is_(None),
            func.coalesce(t.Review.comment, ""),
            t.Review.fixed_value,
            t.Review.decided_at,
        )
        .join(t.Item, t.Item.id == t.Answer.item_id)
        .join(t.Assignment, t.Assignment.id == t.Answer.assignment_id)
        .outerjoin(t.Review, t.Review.answer_id == t.Answer.id)
        .where(t.Answer.worker_id == worker_id, t.Answer.project_id == project_id)
        .order_by(t.Answer.id.desc())
        .limit(limit)
    )
    if before_id is not None:
        query = query.where(t.Answer.id < before_id)
    return [
        OwnAnswer(
            id=r[0], item_id=r[1], external_id=r[2], payload=r[3], presentation=r[4],
            value=r[5], duration_ms=r[6], created_at=r[7], review_outcome=r[8],
            review_pending=bool(r[9]), review_comment=r[10], fixed_value=r[11],
            decided_at=r[12],
        )
        for r in conn.execute(query).all()
    ]


def answer_count(conn: Connection, *, worker_id: int, project_id: int) -> int:
    return int(
        conn.execute(
            select(func.count()).where(
                t.Answer.worker_id == worker_id, t.Answer.project_id == project_id
            )
        ).scalar_one()
    )


def outcome_counts(conn: Connection, *, worker_id: int, project_id: int) -> dict[str, int]:
    """The worker's reviewed answers by outcome, and ``pending`` for those in the queue."""
    outcome = func.coalesce(t.Review.outcome, "pending")
    rows = conn.execute(
        select(outcome, func.count())
        .select_from(t.Answer)
        .join(t.Review, t.Review.answer_id == t.Answer.id)
        .where(t.Answer.worker_id == worker_id, t.Answer.project_id == project_id)
        .group_by(outcome)
    ).all()
    return {str(name): int(n) for name, n in rows}


def recent_values(
    conn: Connection, *, worker_id: int, project_id: int, limit: int
) -> list[tuple[int, dict[str, Any]]]:
    """(item id, canonical answer) of the worker's latest ``limit`` answers."""
    rows = conn.execute(
        select(t.Answer.item_id, t.Answer.value)
        .where(t.Answer.worker_id == worker_id, t.Answer.project_id == project_id)
        .order_by(t.Answer.id.desc())
        .limit(limit)
    ).all()
    return [(r[0], r[1]) for r in rows]


def gold_pairs(
    conn: Connection, *, worker_id: int, project_id: int, limit: int
) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(canonical answer, gold) of the worker's latest ``limit`` answers on items with gold."""
    rows = conn.execute(
        select(t.Answer.value, t.Item.gold)
        .join(t.Item, t.Item.id == t.Answer.item_id)
        .where(
            t.Answer.worker_id == worker_id,
            t.Answer.project_id == project_id,
            t.Item.gold.is_not(None),
            # A JSON column may store "no gold" as JSON null.
            cast(t.Item.gold, Text) != "null",
        )
        .order_by(t.Answer.id.desc())
        .limit(limit)
    ).all()
    return [(r[0], r[1]) for r in rows if r[1] is not None]


def consensus_lines(
    conn: Connection, *, project_id: int, generation: int, item_ids: Sequence[int]
) -> dict[int, dict[str, Any]]:
    """The consensus lines of these items in a snapshot generation (without gold)."""
    found: dict[int, dict[str, Any]] = {}
    ids = sorted(set(item_ids))
    for start in range(0, len(ids), 500):
        rows = conn.execute(
            select(t.ConsensusItem.item_id, t.ConsensusItem.line).where(
                t.ConsensusItem.project_id == project_id,
                t.ConsensusItem.include_gold.is_(False),
                t.ConsensusItem.generation == generation,
                t.ConsensusItem.item_id.in_(ids[start : start + 500]),
            )
        ).all()
        found.update({r[0]: r[1] for r in rows})
    return found
