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

    One statement, read from indexes alone: the worker's postings from
    ``ix_pay_postings_worker_balances`` (account, currency, amount, transaction), each
    counted in the period or after it by whether its transaction is among the period's (or
    the later) ones of ``ix_pay_transactions_worker_id_created_at`` (a hashed list). The
    account's whole balance less what came after the period and in it is the opening: no
    join over the worker's history, whichever month is asked for."""
    amount, tx_id = POSTING.c.amount, POSTING.c.transaction_id
    columns: list[ColumnElement[Any]] = [func.sum(amount), func.count()]
    for where in (_in_period(worker_id, since, until) if since is not None else None,
                  _in_period(worker_id, until, None) if until is not None else None):
        if where is None:
            columns += [literal(0), literal(0)]
            continue
        inside = tx_id.in_(select(TX.c.id).where(*where))
        columns += [func.sum(case((inside, amount), else_=0)),
                    func.sum(case((inside, 1), else_=0))]
    rows = conn.execute(
        select(POSTING.c.account, POSTING.c.currency, *columns)
        .where(POSTING.c.worker_id == worker_id)
        .group_by(POSTING.c.account, POSTING.c.currency)
        .order_by(POSTING.c.currency, POSTING.c.account)
    )
    found = []
    for account, currency, *sums in rows:
        balance, n, moved, n_period, after, n_after = (int(v) for v in sums)
        if since is None:  # the period is everything before ``until``
            moved, n_period = balance - after, n - n_after
        n_before = n - n_period - n_after
        if n_before or n_period:
            found.append((account, currency, n_before > 0, balance - after - moved, moved))
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
        # The worker's legs of their transactions are those not to a budget; said so rather
        # than by the postings' worker, SQLite reaches them by transaction, not through the
        # worker's whole history in ``ix_pay_postings_worker_balances``.
        .select_from(chosen.outerjoin(POSTING, and_(
            POSTING.c.transaction_id == chosen.c.id,
            POSTING.c.account != LedgerAccount.BUDGET.value)))
        .order_by(*order, POSTING.c.id)
    )
    return cast(list[LineRow], [tuple(row) for row in rows])
