"""The ledger's aggregates for balances and the reconciliation."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, and_, func, or_, select

from expertloop.domain import LedgerAccount, LedgerKind
from expertloop.store.pay import ANSWER, POSTING, REVIEW, TX

__all__ = [
    "Owner",
    "account_totals",
    "account_totals_of_budgets",
    "duplicate_effects",
    "ledger_balances",
    "manual_totals",
    "postings_of_young_effects",
    "project_worker_pay",
    "project_worker_time",
    "unbalanced_transactions",
]


def ledger_balances(conn: Connection) -> dict[tuple[int, str, str], int]:
    """Every worker's balance per (worker, account, currency)."""
    rows = conn.execute(
        select(POSTING.c.worker_id, POSTING.c.account, POSTING.c.currency,
               func.sum(POSTING.c.amount))
        .where(POSTING.c.worker_id.is_not(None))
        .group_by(POSTING.c.worker_id, POSTING.c.account, POSTING.c.currency)
    )
    return {(int(r[0]), r[1], r[2]): int(r[3]) for r in rows}


def unbalanced_transactions(conn: Connection, limit: int = 100) -> list[int]:
    """Transactions whose postings do not sum to zero in some currency (or have none)."""
    summed = conn.execute(
        select(POSTING.c.transaction_id)
        .group_by(POSTING.c.transaction_id, POSTING.c.currency)
        .having(func.sum(POSTING.c.amount) != 0)
        .limit(limit)
    ).scalars().all()
    bare = conn.execute(
        select(TX.c.id)
        .where(~select(POSTING.c.id).where(POSTING.c.transaction_id == TX.c.id).exists())
        .limit(limit)
    ).scalars().all()
    return sorted({int(i) for i in (*summed, *bare)})


def duplicate_effects(conn: Connection) -> int:
    """Answers with more than one transaction of a kind (the unique keys forbid it; only a
    hand-edited ledger has any)."""
    dup = (
        select(TX.c.answer_id)
        .where(TX.c.answer_id.is_not(None))
        .group_by(TX.c.answer_id, TX.c.kind)
        .having(func.count() > 1)
        .subquery()
    )
    return int(conn.execute(select(func.count()).select_from(dup)).scalar_one())


Owner = tuple[str, int, str, str]  # ("worker" | "project", id, account, currency)


def _owner(worker_id: int | None, project_id: int | None, account: str, currency: str) -> Owner:
    if worker_id is None:
        return ("project", int(project_id or 0), account, currency)
    return ("worker", int(worker_id), account, currency)


def account_totals(conn: Connection) -> dict[Owner, int]:
    """Every account's balance: workers' by (worker, account, currency), budgets' by
    (project, "budget", currency)."""
    rows = conn.execute(
        select(POSTING.c.worker_id, POSTING.c.project_id, POSTING.c.account,
               POSTING.c.currency, func.sum(POSTING.c.amount))
        .group_by(POSTING.c.worker_id, POSTING.c.project_id, POSTING.c.account,
                  POSTING.c.currency)
    )
    totals: dict[Owner, int] = {}
    for w, p, account, currency, amount in rows:
        key = _owner(w, p if w is None else None, account, currency)
        totals[key] = totals.get(key, 0) + int(amount)
    return totals


def postings_of_young_effects(conn: Connection, as_of: datetime) -> dict[Owner, int]:
    """Balances of the transactions written after ``as_of`` for answers created, or review
    decisions made, after it (the reconciliation leaves them out: their facts are too young
    to be expected in the ledger yet)."""
    young = (
        select(TX.c.id)
        .select_from(
            TX.outerjoin(ANSWER, ANSWER.c.id == TX.c.answer_id)
            .outerjoin(REVIEW, REVIEW.c.id == TX.c.review_id)
        )
        .where(
            TX.c.created_at > as_of,
            or_(
                and_(TX.c.kind == LedgerKind.CREDIT.value, ANSWER.c.created_at > as_of),
                and_(TX.c.review_id.is_not(None), REVIEW.c.decided_at > as_of),
            ),
        )
    )
    rows = conn.execute(
        select(POSTING.c.worker_id, POSTING.c.project_id, POSTING.c.account,
               POSTING.c.currency, func.sum(POSTING.c.amount))
        .where(POSTING.c.transaction_id.in_(young))
        .group_by(POSTING.c.worker_id, POSTING.c.project_id, POSTING.c.account,
                  POSTING.c.currency)
    )
    totals: dict[Owner, int] = {}
    for w, p, account, currency, amount in rows:
        key = _owner(w, p if w is None else None, account, currency)
        totals[key] = totals.get(key, 0) + int(amount)
    return totals


def manual_totals(conn: Connection) -> dict[Owner, int]:
    """Balances moved by manual adjustments (inputs to the reconciliation, like reviews)."""
    rows = conn.execute(
        select(POSTING.c.worker_id, POSTING.c.project_id, POSTING.c.account,
               POSTING.c.currency, func.sum(POSTING.c.amount))
        .select_from(POSTING.join(TX, TX.c.id == POSTING.c.transaction_id))
        # Bonuses are recomputed from their rules (services/pay_bonuses), not taken as input.
        .where(TX.c.kind == LedgerKind.ADJUSTMENT.value, ~TX.c.key.startswith("bonus:"))
        .group_by(POSTING.c.worker_id, POSTING.c.project_id, POSTING.c.account,
                  POSTING.c.currency)
    )
    totals: dict[Owner, int] = {}
    for w, p, account, currency, amount in rows:
        key = _owner(w, p if w is None else None, account, currency)
        totals[key] = totals.get(key, 0) + int(amount)
    return totals


def account_totals_of_budgets(conn: Connection) -> dict[tuple[int, str], int]:
    """Each project's budget account balance per currency."""
    rows = conn.execute(
        select(POSTING.c.project_id, POSTING.c.currency, func.sum(POSTING.c.amount))
        .where(POSTING.c.account == LedgerAccount.BUDGET.value)
        .group_by(POSTING.c.project_id, POSTING.c.currency)
    )
    return {(int(r[0]), r[1]): int(r[2]) for r in rows}


def project_worker_pay(conn: Connection, project_id: int) -> dict[tuple[int, str], int]:
    """Each worker's net pay for answers in the project (credits minus reversals, whether
    a reversal takes back pending or, after the review window, approved money), by
    (worker, currency)."""
    rows = conn.execute(
        select(POSTING.c.worker_id, POSTING.c.currency, func.sum(POSTING.c.amount))
        .select_from(POSTING.join(TX, TX.c.id == POSTING.c.transaction_id))
        .where(TX.c.project_id == project_id,
               TX.c.kind.in_([LedgerKind.CREDIT.value, LedgerKind.REVERSAL.value]),
               POSTING.c.account.in_([LedgerAccount.PENDING.value,
                                      LedgerAccount.APPROVED.value]))
        .group_by(POSTING.c.worker_id, POSTING.c.currency)
    )
    return {(int(w), c): int(a) for w, c, a in rows}


def project_worker_time(conn: Connection, project_id: int) -> dict[int, tuple[int, int]]:
    """Each worker's credited answers in the project and their time on task (ms)."""
    credited = select(TX.c.id).where(
        TX.c.answer_id == ANSWER.c.id, TX.c.kind == LedgerKind.CREDIT.value
    ).exists()
    rows = conn.execute(
        select(ANSWER.c.worker_id, func.count(), func.sum(ANSWER.c.duration_ms))
        .where(ANSWER.c.project_id == project_id, credited)
        .group_by(ANSWER.c.worker_id)
    )
    return {int(w): (int(n), int(ms or 0)) for w, n, ms in rows}
