"""Budgets' rows: the amount, what the ledger spent, what live leases commit, the flag
the claim reads."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import cast

from sqlalchemy import Connection, Table, case, delete, func, select, update

from expertloop.domain import LedgerAccount
from expertloop.store import tables as t
from expertloop.store.dialects import insert_ignoring_conflicts
from expertloop.store.pay import POSTING

__all__ = [
    "BudgetRow",
    "add_spend",
    "blocks",
    "budget",
    "budgets",
    "live_leases",
    "live_leases_by_worker",
    "members",
    "project_lease_seconds",
    "project_spend",
    "save_blocks",
    "save_budget",
    "set_budget_state",
]

BUDGET = cast(Table, t.PayBudget.__table__)
BLOCK = cast(Table, t.PayBudgetBlock.__table__)


@dataclass(frozen=True, slots=True)
class BudgetRow:
    project_id: int
    amount_minor: int
    currency: str
    spent_minor: int
    committed_minor: int
    stopped: bool
    stopped_at: datetime | None
    updated_at: datetime


def budget(conn: Connection, project_id: int) -> BudgetRow | None:
    row = conn.execute(select(BUDGET).where(BUDGET.c.project_id == project_id)).first()
    return None if row is None else BudgetRow(**row._mapping)


def budgets(conn: Connection) -> list[BudgetRow]:
    return [BudgetRow(**row._mapping) for row in conn.execute(select(BUDGET))]


def save_budget(
    conn: Connection, *, project_id: int, amount_minor: int, currency: str, now: datetime
) -> None:
    conn.execute(
        insert_ignoring_conflicts(conn, BUDGET, ["project_id"]),
        {
            "project_id": project_id, "amount_minor": amount_minor, "currency": currency,
            "spent_minor": 0, "committed_minor": 0, "stopped": False, "stopped_at": None,
            "updated_at": now,
        },
    )
    conn.execute(
        update(BUDGET)
        .where(BUDGET.c.project_id == project_id)
        .values(amount_minor=amount_minor, currency=currency, updated_at=now)
    )


def project_spend(conn: Connection, project_id: int, currency: str) -> int:
    """What the project's budget account has paid out (minus what came back)."""
    total = conn.execute(
        select(func.coalesce(func.sum(POSTING.c.amount), 0)).where(
            POSTING.c.project_id == project_id,
            POSTING.c.account == LedgerAccount.BUDGET.value,
            POSTING.c.currency == currency,
        )
    ).scalar_one()
    return -int(total)


def live_leases(conn: Connection, project_id: int, now: datetime) -> int:
    """Live leases of the project (``ix_assignments_live_by_expiry``)."""
    a = t.Assignment.__table__
    return int(
        conn.execute(
            select(func.count()).where(
                a.c.project_id == project_id, a.c.status == "leased", a.c.expires_at >= now
            )
        ).scalar_one()
    )


def set_budget_state(
    conn: Connection,
    *,
    project_id: int,
    spent_minor: int,
    committed_minor: int,
    stopped: bool,
    now: datetime,
) -> bool:
    """Store what the budget has spent and committed and whether claims stop; ``True``
    when ``stopped`` changed."""
    changed = conn.execute(
        update(BUDGET)
        .where(BUDGET.c.project_id == project_id, BUDGET.c.stopped != stopped)
        .values(stopped=stopped, stopped_at=now if stopped else None)
    ).rowcount
    conn.execute(
        update(BUDGET)
        .where(BUDGET.c.project_id == project_id)
        .values(
            spent_minor=spent_minor, committed_minor=committed_minor, updated_at=now,
            stopped_at=case((BUDGET.c.stopped, BUDGET.c.stopped_at), else_=None),
        )
    )
    return bool(changed)


def add_spend(conn: Connection, spend: dict[int, int]) -> None:
    """Add what the ledger just took from (or gave back to) each project's budget."""
    for project_id, delta in sorted(spend.items()):
        if delta:
            conn.execute(
                update(BUDGET)
                .where(BUDGET.c.project_id == project_id)
                .values(spent_minor=BUDGET.c.spent_minor + delta)
            )


def project_lease_seconds(conn: Connection, project_id: int) -> int | None:
    p = t.Project.__table__
    found = conn.execute(select(p.c.lease_seconds).where(p.c.id == project_id)).scalar()
    return None if found is None else int(found)


def live_leases_by_worker(conn: Connection, project_id: int, now: datetime) -> dict[int, int]:
    """Live leases of the project per worker (``ix_assignments_live_by_expiry``)."""
    a = t.Assignment.__table__
    rows = conn.execute(
        select(a.c.worker_id, func.count())
        .where(a.c.project_id == project_id, a.c.status == "leased", a.c.expires_at >= now)
        .group_by(a.c.worker_id)
    )
    return {int(w): int(n) for w, n in rows}


def members(conn: Connection, project_id: int) -> list[int]:
    m = t.ProjectMember.__table__
    return [int(u) for u in conn.execute(
        select(m.c.user_id).where(m.c.project_id == project_id).order_by(m.c.user_id)
    ).scalars()]


def blocks(conn: Connection, project_id: int) -> dict[int, int]:
    """Workers the budget cannot afford a lease of, with that lease's expected cost."""
    return {int(w): int(u) for w, u in conn.execute(
        select(BLOCK.c.worker_id, BLOCK.c.unit_minor).where(BLOCK.c.project_id == project_id)
    )}


def save_blocks(
    conn: Connection, project_id: int, blocked: dict[int, int], now: datetime
) -> tuple[list[int], list[int]]:
    """Make the project's blocked workers exactly ``blocked``; (newly blocked, freed)."""
    before = blocks(conn, project_id)
    freed = sorted(set(before) - set(blocked))
    added = sorted(set(blocked) - set(before))
    if freed:
        conn.execute(delete(BLOCK).where(BLOCK.c.project_id == project_id,
                                         BLOCK.c.worker_id.in_(freed)))
    if added:
        conn.execute(
            insert_ignoring_conflicts(conn, BLOCK, ["project_id", "worker_id"]),
            [{"project_id": project_id, "worker_id": w, "unit_minor": blocked[w], "since": now}
             for w in added],
        )
    return added, freed
