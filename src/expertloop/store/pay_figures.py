"""A project's pay figures for its manager, from the ledger's aggregates: what it spent,
how many answers it paid and kept, and how many of its items are finished."""

from __future__ import annotations

from typing import cast

from sqlalchemy import Connection, Table, func, select

from expertloop.domain import LedgerAccount
from expertloop.store import tables as t
from expertloop.store.pay import POSTING, TX

__all__ = ["finished_items", "project_spend", "project_transaction_counts"]

ITEM = cast(Table, t.Item.__table__)


def project_spend(conn: Connection, project_id: int) -> dict[str, int]:
    """What the project's budget account paid out, net, per currency
    (``ix_pay_postings_project_id_account``)."""
    rows = conn.execute(
        select(POSTING.c.currency, func.sum(POSTING.c.amount))
        .where(POSTING.c.project_id == project_id,
               POSTING.c.account == LedgerAccount.BUDGET.value)
        .group_by(POSTING.c.currency)
    )
    return {currency: -int(total) for currency, total in rows}


def project_transaction_counts(conn: Connection, project_id: int) -> dict[str, int]:
    """The project's transactions per kind (``ix_pay_transactions_project_id_id``)."""
    rows = conn.execute(
        select(TX.c.kind, func.count()).where(TX.c.project_id == project_id).group_by(TX.c.kind)
    )
    return {kind: int(n) for kind, n in rows}


def finished_items(conn: Connection, project_id: int) -> int:
    """Items with all the answers they want (the partial index ``ix_items_complete``)."""
    return int(conn.execute(
        select(func.count()).select_from(ITEM)
        .where(ITEM.c.project_id == project_id, ITEM.c.n_answers >= ITEM.c.target)
    ).scalar_one())
