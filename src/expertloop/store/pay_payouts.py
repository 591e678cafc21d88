"""Payouts' rows: workers' approved balances, payout references, a batch's transactions."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import cast

from sqlalchemy import Connection, Table, func, select, update

from expertloop.domain import LedgerAccount, LedgerKind
from expertloop.store import tables as t
from expertloop.store.dialects import insert_ignoring_conflicts

__all__ = [
    "approved_balances",
    "batch_payouts",
    "payout_references",
    "set_payout_reference",
]

TX = cast(Table, t.PayTransaction.__table__)
POSTING = cast(Table, t.PayPosting.__table__)
ACCOUNT = cast(Table, t.PayoutAccount.__table__)


def approved_balances(conn: Connection, currency: str) -> list[tuple[int, int]]:
    """(worker, approved balance) for every worker with a positive one in the currency."""
    total = func.sum(POSTING.c.amount)
    rows = conn.execute(
        select(POSTING.c.worker_id, total)
        .where(POSTING.c.account == LedgerAccount.APPROVED.value,
               POSTING.c.currency == currency, POSTING.c.worker_id.is_not(None))
        .group_by(POSTING.c.worker_id)
        .having(total > 0)
        .order_by(POSTING.c.worker_id)
    )
    return [(int(w), int(a)) for w, a in rows]


def batch_payouts(conn: Connection, batch: str) -> list[tuple[int, int, str]]:
    """(worker, amount, currency) of every payout of the batch, by worker."""
    rows = conn.execute(
        select(TX.c.worker_id, POSTING.c.amount, POSTING.c.currency)
        .select_from(TX.join(POSTING, POSTING.c.transaction_id == TX.c.id))
        .where(TX.c.kind == LedgerKind.PAYOUT.value, TX.c.key.startswith(f"payout:{batch}:"),
               POSTING.c.account == LedgerAccount.PAID.value)
        .order_by(TX.c.worker_id)
    )
    return [(int(w), int(a), c) for w, a, c in rows]


def payout_references(conn: Connection, worker_ids: Sequence[int]) -> dict[int, str]:
    rows = conn.execute(
        select(ACCOUNT.c.worker_id, ACCOUNT.c.reference)
        .where(ACCOUNT.c.worker_id.in_(list(worker_ids)))
    )
    return {int(w): r for w, r in rows}


def set_payout_reference(conn: Connection, worker_id: int, reference: str, now: datetime) -> None:
    conn.execute(
        insert_ignoring_conflicts(conn, ACCOUNT, ["worker_id"]),
        {"worker_id": worker_id, "reference": reference, "updated_at": now},
    )
    conn.execute(
        update(ACCOUNT).where(ACCOUNT.c.worker_id == worker_id)
        .values(reference=reference, updated_at=now)
    )
