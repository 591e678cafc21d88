"""Bonus rules' rows, and the per-period figures they pay on."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Connection, Table, case, func, insert, select, update

from expertloop.domain import ReviewOutcome
from expertloop.store import tables as t
from expertloop.store.pay import ANSWER, REVIEW

__all__ = ["BonusRuleRow", "disable_rule", "insert_rule", "review_acceptance", "rules"]

RULE = cast(Table, t.PayBonusRule.__table__)


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
