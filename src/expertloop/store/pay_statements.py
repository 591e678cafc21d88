"""A worker's statement read from the ledger: balances summed in SQL, lines a page at a time.

A statement covers the transactions whose ``worker_id`` is the worker (every posting to a
worker's account belongs to a transaction of that worker: :class:`expertloop.store.pay.Entry`
refuses any other), in ``(created_at, id)`` order: the index
``ix_pay_transactions_worker_id_created_at`` serves a period's range, its count and a page
after a keyset cursor without reading the rest of the worker's history. Amounts are summed by
the database over integer minor units (``bigint``; PostgreSQL's ``sum`` is ``numeric``):
exact. Rows come back as plain tuples.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    Connection,
    Select,
    Table,
    and_,
    case,
    func,
    literal,
    select,
    true,
    tuple_,
)

from expertloop.domain import LedgerAccount
from expertloop.store import tables as t

__all__ = ["LineRow", "balances", "line_count", "lines", "position"]

TX = cast(Table, t.PayTransaction.__table__)
POSTING = cast(Table, t.PayPosting.__table__)

# (transaction id, created_at, kind, project, answer, memo, account, amount, currency): one
# row per posting of the worker (the account, amount and currency are None for a
# transaction without one).
LineRow = tuple[int, datetime, str, int | None, int | None, str, str | None, int | None,
                str | None]


def _in_period(
    worker_id: int, since: datetime | None, until: datetime | None
) -> list[ColumnElement[bool]]:
    where = [TX.c.worker_id == worker_id]
    if since is not None:
        where.append(TX.c.created_at >= since)
    if until is not None:
        where.append(TX.c.created_at < until)
    return where


def balances(
    conn: Connection, worker_id: int, since: datetime | None, until: datetime | None
) -> list[tuple[str, str, bool, int, int]]:
    """Per (account, currency) of the worker: whether it has postings before ``since``, the
    opening balance (their sum) and the movement in ``[since, until)``.

    Read as the account's whole balance (an index-only sum over
    ``ix_pay_postings_worker_balances``) less what was written from ``since`` on (a range of
    the worker's transactions by time): the current month costs its own postings plus one
    index entry per posting of the worker's history, never a join over that history. (Run
    in one snapshot: ``Database.read(snapshot=True)``.)"""
    total: dict[tuple[str, str], list[int]] = {
        (account, currency): [int(amount), int(n)]
        for account, currency, amount, n in conn.execute(
            select(POSTING.c.account, POSTING.c.currency, func.sum(POSTING.c.amount),
                   func.count())
            .where(POSTING.c.worker_id == worker_id)
            .group_by(POSTING.c.account, POSTING.c.currency)
        )
    }
    # From ``since`` on (or ``until`` for a period open at the start): the movement in the
    # period, what came after it, and how many postings of each.
    later: dict[tuple[str, str], tuple[int, int, int, int]] = {}
    start = since if since is not None else until
    if start is not None:
        amount = POSTING.c.amount
        in_period = TX.c.created_at < until if until is not None else true()
        for account, currency, moved, after_until, n_later, n_period in conn.execute(
            select(
                POSTING.c.account, POSTING.c.currency,
                func.sum(case((in_period, amount), else_=0)),
                func.sum(case((in_period, 0), else_=amount)),
                func.count(),
                func.sum(case((in_period, 1), else_=0)),
            )
            .select_from(TX.join(POSTING, POSTING.c.transaction_id == TX.c.id))
            # The worker's legs of their transactions are those not to a budget. Said so
            # rather than by the postings' worker, the plan starts from the period's
            # transactions (with the worker's index SQLite walks their whole history).
            .where(TX.c.worker_id == worker_id, TX.c.created_at >= start,
                   POSTING.c.account != LedgerAccount.BUDGET.value)
            .group_by(POSTING.c.account, POSTING.c.currency)
        ):
            later[(account, currency)] = (int(moved), int(after_until), int(n_later),
                                          int(n_period))
    found = []
    for (account, currency), (balance, n) in sorted(total.items(), key=lambda kv: kv[0][::-1]):
        moved, after_until, n_later, n_period = later.get((account, currency), (0, 0, 0, 0))
        if since is None:  # a period open at the start: no opening, all before ``until``
            if n > n_later:
                found.append((account, currency, False, 0, balance - after_until))
        elif n > n_later or n_period:
            opening = balance - after_until - moved
            found.append((account, currency, n > n_later, opening, moved))
    return found


def line_count(
    conn: Connection, worker_id: int, since: datetime | None, until: datetime | None
) -> int:
    """How many transactions of the worker the period holds (an index-only count)."""
    return int(conn.execute(
        select(func.count()).select_from(TX).where(*_in_period(worker_id, since, until))
    ).scalar_one())


def position(conn: Connection, worker_id: int, transaction_id: int) -> datetime | None:
    """When the worker's transaction was written (a cursor's place), or None if it is not
    one of theirs."""
    found: datetime | None = conn.execute(
        select(TX.c.created_at).where(TX.c.id == transaction_id, TX.c.worker_id == worker_id)
    ).scalar_one_or_none()
    return found


def lines(
    conn: Connection,
    worker_id: int,
    since: datetime | None,
    until: datetime | None,
    *,
    limit: int,
    after: tuple[datetime, int] | None = None,
    newest_first: bool = False,
) -> list[LineRow]:
    """Up to ``limit`` of the period's transactions after the cursor ``(created_at, id)``,
    oldest first (or newest first), each with the worker's postings in it."""
    key = tuple_(TX.c.created_at, TX.c.id)
    page: Select[Any] = select(
        TX.c.id, TX.c.created_at, TX.c.kind, TX.c.project_id, TX.c.answer_id, TX.c.memo,
    ).where(*_in_period(worker_id, since, until))
    if after is not None:
        mark = tuple_(literal(after[0], TX.c.created_at.type), literal(after[1], TX.c.id.type))
        page = page.where(key < mark if newest_first else key > mark)
    if newest_first:
        page = page.order_by(TX.c.created_at.desc(), TX.c.id.desc())
    else:
        page = page.order_by(TX.c.created_at, TX.c.id)
    chosen = page.limit(limit).subquery()
    order = ((chosen.c.created_at.desc(), chosen.c.id.desc()) if newest_first
             else (chosen.c.created_at, chosen.c.id))
    rows = conn.execute(
        select(chosen, POSTING.c.account, POSTING.c.amount, POSTING.c.currency)
        .select_from(chosen.outerjoin(POSTING, and_(
            POSTING.c.transaction_id == chosen.c.id, POSTING.c.worker_id == worker_id)))
        .order_by(*order, POSTING.c.id)
    )
    return cast(list[LineRow], [tuple(row) for row in rows])
