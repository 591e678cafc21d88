"""Bonus rules' rows, and the per-period figures they pay on."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Connection, Table, Text, and_, case, func, insert, select, update
from sqlalchemy import cast as sql_cast

from expertloop.domain import ReviewOutcome
from expertloop.store import tables as t
from expertloop.store.pay import ANSWER, REVIEW

__all__ = [
    "BonusRuleRow",
    "MeasureRow",
    "answers_with_consensus",
    "answers_with_gold",
    "disable_rule",
    "insert_measures",
    "insert_rule",
    "measures",
    "project_task",
    "review_acceptance",
    "rules",
]

RULE = cast(Table, t.PayBonusRule.__table__)
MEASURE = cast(Table, t.PayBonusMeasure.__table__)
ITEM = cast(Table, t.Item.__table__)
LINE = cast(Table, t.ConsensusItem.__table__)
_PAGE = 5000


@dataclass(frozen=True, slots=True)
class BonusRuleRow:
    id: int
    project_id: int
    metric: str
    period: str
    threshold_bp: int
    min_count: int
    amount_minor: int
    currency: str
    created_by: int | None
    created_at: datetime
    disabled_at: datetime | None

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "project_id": self.project_id, "metric": self.metric,
                "period": self.period, "threshold_bp": self.threshold_bp,
                "min_count": self.min_count, "amount_minor": self.amount_minor,
                "currency": self.currency, "created_at": self.created_at.isoformat(),
                "disabled_at": None if self.disabled_at is None
                else self.disabled_at.isoformat()}


def insert_rule(conn: Connection, values: dict[str, Any]) -> int:
    return int(conn.execute(insert(RULE).returning(RULE.c.id), values).scalar_one())


def rules(conn: Connection, project_id: int | None = None) -> list[BonusRuleRow]:
    query = select(RULE).order_by(RULE.c.id)
    if project_id is not None:
        query = query.where(RULE.c.project_id == project_id)
    return [BonusRuleRow(**row._mapping) for row in conn.execute(query)]


def disable_rule(conn: Connection, project_id: int, rule_id: int, now: datetime) -> bool:
    """Disable an enabled rule of the project; False if there is none."""
    done = conn.execute(
        update(RULE)
        .where(RULE.c.id == rule_id, RULE.c.project_id == project_id,
               RULE.c.disabled_at.is_(None))
        .values(disabled_at=now)
    )
    return bool(done.rowcount)


def review_acceptance(
    conn: Connection, project_id: int, start: datetime, end: datetime
) -> dict[int, tuple[int, int]]:
    """Per worker: reviews of their answers in the project decided in [start, end), and how
    many of those accepted or fixed the answer."""
    kept = func.sum(case((REVIEW.c.outcome == ReviewOutcome.REJECTED.value, 0), else_=1))
    rows = conn.execute(
        select(ANSWER.c.worker_id, func.count(), kept)
        .select_from(REVIEW.join(ANSWER, ANSWER.c.id == REVIEW.c.answer_id))
        .where(ANSWER.c.project_id == project_id, REVIEW.c.decided_at >= start,
               REVIEW.c.decided_at < end)
        .group_by(ANSWER.c.worker_id)
    )
    return {int(w): (int(n), int(k or 0)) for w, n, k in rows}


def project_task(conn: Connection, project_id: int) -> tuple[str, dict[str, Any]]:
    """The project's task type and configuration."""
    p = t.Project.__table__
    row = conn.execute(select(p.c.task_type, p.c.config).where(p.c.id == project_id)).one()
    return str(row[0]), dict(row[1] or {})


def answers_with_gold(
    conn: Connection, project_id: int, start: datetime, end: datetime
) -> Iterator[list[tuple[int, dict[str, Any], dict[str, Any]]]]:
    """(worker, answer, gold) of the project's answers created in [start, end) on gold
    items, a page at a time (``ix_answers_project_id_id``)."""
    after = 0
    while True:
        rows = conn.execute(
            select(ANSWER.c.id, ANSWER.c.worker_id, ANSWER.c.value, ITEM.c.gold)
            .select_from(ANSWER.join(ITEM, ITEM.c.id == ANSWER.c.item_id))
            .where(ANSWER.c.project_id == project_id, ANSWER.c.id > after,
                   ANSWER.c.created_at >= start, ANSWER.c.created_at < end,
                   ITEM.c.gold.is_not(None), sql_cast(ITEM.c.gold, Text) != "null")
            .order_by(ANSWER.c.id)
            .limit(_PAGE)
        ).all()
        if not rows:
            return
        yield [(int(w), v, g) for _, w, v, g in rows if g is not None]
        after = rows[-1][0]


def answers_with_consensus(
    conn: Connection, project_id: int, generation: int, start: datetime, end: datetime
) -> Iterator[list[tuple[int, dict[str, Any], dict[str, Any]]]]:
    """(worker, answer, consensus line) of the project's answers created in [start, end)
    whose item has a line in the snapshot generation (without gold), a page at a time."""
    after = 0
    while True:
        rows = conn.execute(
            select(ANSWER.c.id, ANSWER.c.worker_id, ANSWER.c.value, LINE.c.line)
            .select_from(ANSWER.join(LINE, and_(
                LINE.c.project_id == ANSWER.c.project_id, LINE.c.include_gold.is_(False),
                LINE.c.generation == generation, LINE.c.item_id == ANSWER.c.item_id)))
            .where(ANSWER.c.project_id == project_id, ANSWER.c.id > after,
                   ANSWER.c.created_at >= start, ANSWER.c.created_at < end)
            .order_by(ANSWER.c.id)
            .limit(_PAGE)
        ).all()
        if not rows:
            return
        yield [(int(w), v, line) for _, w, v, line in rows]
        after = rows[-1][0]


@dataclass(frozen=True, slots=True)
class MeasureRow:
    rule_id: int
    period: str
    worker_id: int
    counted: int
    hits: int
    generation: int | None
    measured_at: datetime


def insert_measures(conn: Connection, rows: list[MeasureRow]) -> None:
    """Record a paid period's measures (once: the caller holds the rule's cursor)."""
    if rows:
        conn.execute(insert(MEASURE), [
            {"rule_id": r.rule_id, "period": r.period, "worker_id": r.worker_id,
             "counted": r.counted, "hits": r.hits, "generation": r.generation,
             "measured_at": r.measured_at} for r in rows
        ])


def measures(conn: Connection, rule_id: int, period: str) -> list[MeasureRow]:
    rows = conn.execute(
        select(MEASURE).where(MEASURE.c.rule_id == rule_id, MEASURE.c.period == period)
        .order_by(MEASURE.c.worker_id)
    )
    return [MeasureRow(**row._mapping) for row in rows]
