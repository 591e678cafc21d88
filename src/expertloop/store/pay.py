"""Pay's rows: rates, the append-only double-entry ledger, the sweep's cursors, budgets.

The ledger is only ever inserted into: nothing here updates or deletes a transaction or a
posting. :func:`post_entries` writes a batch of transactions whose keys are unique, so an
effect attempted twice (a retried sweep, two sweeps at once) is written once: the insert
of a transaction whose key exists does nothing, and postings go only to transactions that
have none yet, in the same database transaction.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    Connection,
    Table,
    and_,
    func,
    insert,
    or_,
    select,
    update,
)

from expertloop.domain import LedgerAccount, LedgerKind
from expertloop.store import tables as t
from expertloop.store.dialects import insert_ignoring_conflicts
from expertloop.store.pay_premiums import PremiumRow, premium_ids_of, premiums_of

__all__ = [
    "AnswerFacts",
    "Entry",
    "Leg",
    "RateRow",
    "TransactionRow",
    "answers_after",
    "balances",
    "cursor",
    "decided_reviews_after",
    "insert_rate",
    "is_member",
    "lock_cursor",
    "post_entries",
    "project_answers_after",
    "projects_with_review_windows",
    "rates",
    "reconcile_answers",
    "save_cursor",
    "transaction_id",
    "transactions",
]

TX = cast(Table, t.PayTransaction.__table__)
POSTING = cast(Table, t.PayPosting.__table__)
RATE = cast(Table, t.PayRate.__table__)
CURSOR = cast(Table, t.PayCursor.__table__)
ANSWER = cast(Table, t.Answer.__table__)
REVIEW = cast(Table, t.Review.__table__)


# --- rates -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RateRow:
    id: int
    project_id: int
    kind: str
    amount_minor: int
    currency: str
    max_seconds_per_item: int | None
    effective_from: datetime
    created_by: int | None
    created_at: datetime
    review_window_seconds: int | None = None
    premiums: tuple[PremiumRow, ...] = ()


def insert_rate(
    conn: Connection,
    *,
    project_id: int,
    kind: str,
    amount_minor: int,
    currency: str,
    max_seconds_per_item: int | None,
    effective_from: datetime,
    created_by: int | None,
    now: datetime,
    review_window_seconds: int | None = None,
) -> int:
    return int(
        conn.execute(
            insert(RATE).returning(RATE.c.id),
            {
                "project_id": project_id, "kind": kind, "amount_minor": amount_minor,
                "currency": currency, "max_seconds_per_item": max_seconds_per_item,
                "effective_from": effective_from, "created_by": created_by, "created_at": now,
                "review_window_seconds": review_window_seconds,
            },
        ).scalar_one()
    )


def rates(conn: Connection, project_ids: Sequence[int] | None = None) -> list[RateRow]:
    """Rates (of these projects, or all), oldest first per project."""
    query = select(RATE).order_by(RATE.c.project_id, RATE.c.effective_from, RATE.c.id)
    if project_ids is not None:
        query = query.where(RATE.c.project_id.in_(list(project_ids)))
    found = [RateRow(**row._mapping) for row in conn.execute(query)]
    premiums = premiums_of(conn, [r.id for r in found])
    return [replace(r, premiums=premiums[r.id]) if r.id in premiums else r for r in found]


# --- what the sweep reads ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AnswerFacts:
    """What an answer's pay depends on, and (for a decided review) the decision."""

    answer_id: int
    project_id: int
    worker_id: int
    duration_ms: int
    created_at: datetime
    review_id: int | None = None
    outcome: str | None = None
    decided_at: datetime | None = None
    credited: bool | None = None
    # The premiums the answer's credit uses (None: not known yet, the sweep works them out).
    premium_ids: tuple[int, ...] | None = None
    # Whether the ledger holds the answer's approval by its review window (reconcile only).
    auto_approved: bool | None = None


def answers_after(conn: Connection, after_id: int, limit: int) -> list[AnswerFacts]:
    """Answers with an id above ``after_id``, in id order (the primary key)."""
    rows = conn.execute(
        select(
            ANSWER.c.id, ANSWER.c.project_id, ANSWER.c.worker_id, ANSWER.c.duration_ms,
            ANSWER.c.created_at,
        )
        .where(ANSWER.c.id > after_id)
        .order_by(ANSWER.c.id)
        .limit(limit)
    )
    return [AnswerFacts(*row) for row in rows]


def decided_reviews_after(
    conn: Connection, after_at: datetime | None, after_id: int, limit: int
) -> list[AnswerFacts]:
    """Decided reviews after ``(after_at, after_id)`` in (decided_at, id) order, with their
    answers (``ix_reviews_decided_at``)."""
    query = (
        select(
            ANSWER.c.id, ANSWER.c.project_id, ANSWER.c.worker_id, ANSWER.c.duration_ms,
            ANSWER.c.created_at, REVIEW.c.id, REVIEW.c.outcome, REVIEW.c.decided_at,
        )
        .select_from(REVIEW.join(ANSWER, ANSWER.c.id == REVIEW.c.answer_id))
        .where(REVIEW.c.decided_at.is_not(None))
        .order_by(REVIEW.c.decided_at, REVIEW.c.id)
        .limit(limit)
    )
    if after_at is not None:
        query = query.where(
            or_(
                REVIEW.c.decided_at > after_at,
                and_(REVIEW.c.decided_at == after_at, REVIEW.c.id > after_id),
            )
        )
    return [AnswerFacts(*row) for row in conn.execute(query)]


def project_answers_after(
    conn: Connection, project_id: int, after_id: int, limit: int
) -> list[AnswerFacts]:
    """The project's answers after ``after_id`` in id order (``ix_answers_project_id_id``),
    with their review's decision if any (the review window's pass)."""
    rows = conn.execute(
        select(
            ANSWER.c.id, ANSWER.c.project_id, ANSWER.c.worker_id, ANSWER.c.duration_ms,
            ANSWER.c.created_at, REVIEW.c.id, REVIEW.c.outcome, REVIEW.c.decided_at,
        )
        .select_from(ANSWER.outerjoin(REVIEW, REVIEW.c.answer_id == ANSWER.c.id))
        .where(ANSWER.c.project_id == project_id, ANSWER.c.id > after_id)
        .order_by(ANSWER.c.id)
        .limit(limit)
    )
    return [AnswerFacts(*row) for row in rows]


def reconcile_answers(
    conn: Connection, project_ids: Sequence[int], after_id: int, limit: int
) -> list[AnswerFacts]:
    """Answers of these projects after ``after_id`` with their review's decision (if any)
    and whether the ledger holds their credit."""
    is_credit = and_(TX.c.answer_id == ANSWER.c.id, TX.c.kind == LedgerKind.CREDIT.value)
    credited = select(TX.c.id).where(is_credit).exists()
    # The first credit's record of its premiums (a duplicate credit is reported apart).
    meta = select(TX.c.meta).where(is_credit).order_by(TX.c.id).limit(1).scalar_subquery()
    # An approval without a review: the review window's (see services/pay.answer_entries).
    auto = select(TX.c.id).where(
        TX.c.answer_id == ANSWER.c.id, TX.c.kind == LedgerKind.APPROVAL.value,
        TX.c.review_id.is_(None),
    ).exists()
    rows = conn.execute(
        select(
            ANSWER.c.id, ANSWER.c.project_id, ANSWER.c.worker_id, ANSWER.c.duration_ms,
            ANSWER.c.created_at, REVIEW.c.id, REVIEW.c.outcome, REVIEW.c.decided_at, credited,
            meta, auto,
        )
        .select_from(ANSWER.outerjoin(REVIEW, REVIEW.c.answer_id == ANSWER.c.id))
        .where(ANSWER.c.id > after_id, ANSWER.c.project_id.in_(list(project_ids)))
        .order_by(ANSWER.c.id)
        .limit(limit)
    )
    # An uncredited answer is reconciled without premiums: it is a missing credit anyway.
    return [
        AnswerFacts(a, p, w, ms, at, review, outcome, decided, credited=bool(credited),
                    premium_ids=premium_ids_of(meta), auto_approved=bool(auto))
        for a, p, w, ms, at, review, outcome, decided, credited, meta, auto in rows
    ]


def projects_with_review_windows(conn: Connection) -> list[int]:
    """Projects with a rate that has a review window."""
    return [int(p) for p in conn.execute(
        select(RATE.c.project_id).where(RATE.c.review_window_seconds.is_not(None))
        .distinct().order_by(RATE.c.project_id)
    ).scalars()]


def cursor(conn: Connection, name: str) -> tuple[int, datetime | None]:
    row = conn.execute(
        select(CURSOR.c.last_id, CURSOR.c.last_at).where(CURSOR.c.name == name)
    ).first()
    return (0, None) if row is None else (int(row[0]), row[1])


def save_cursor(conn: Connection, name: str, last_id: int, last_at: datetime | None) -> None:
    """Move the cursor forward (never back: two sweeps at once keep the furthest)."""
    conn.execute(
        insert_ignoring_conflicts(conn, CURSOR, ["name"]),
        {"name": name, "last_id": 0, "last_at": None},
    )
    if last_at is None:
        conn.execute(
            update(CURSOR)
            .where(CURSOR.c.name == name, CURSOR.c.last_id < last_id)
            .values(last_id=last_id)
        )
        return
    conn.execute(
        update(CURSOR)
        .where(
            CURSOR.c.name == name,
            or_(
                CURSOR.c.last_at.is_(None),
                CURSOR.c.last_at < last_at,
                and_(CURSOR.c.last_at == last_at, CURSOR.c.last_id < last_id),
            ),
        )
        .values(last_id=last_id, last_at=last_at)
    )


# --- the ledger --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Leg:
    account: LedgerAccount
    amount: int
    currency: str
    project_id: int | None
    worker_id: int | None


@dataclass(frozen=True, slots=True)
class Entry:
    """A transaction to write: its unique key, what it records, and its legs (which sum to
    zero per currency: checked here, before anything is written)."""

    key: str
    kind: LedgerKind
    legs: tuple[Leg, ...]
    project_id: int | None = None
    worker_id: int | None = None
    answer_id: int | None = None
    review_id: int | None = None
    created_by: int | None = None
    memo: str = ""
    meta: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        totals: dict[str, int] = {}
        for leg in self.legs:
            totals[leg.currency] = totals.get(leg.currency, 0) + leg.amount
        if any(totals.values()) or not self.legs:
            raise ValueError(f"transaction {self.key!r} does not balance: {totals}")
        # A worker's statement reads their transactions by ``worker_id``: it must hold every
        # posting to their accounts.
        if any(leg.worker_id not in (None, self.worker_id) for leg in self.legs):
            raise ValueError(f"transaction {self.key!r} moves another worker's money")


def post_entries(conn: Connection, entries: Sequence[Entry], *, now: datetime) -> list[Entry]:
    """Write the entries not written yet; return those this call wrote."""
    if not entries:
        return []
    by_key = {entry.key: entry for entry in entries}
    conn.execute(
        insert_ignoring_conflicts(conn, TX, ["key"]),
        [
            {
                "key": e.key, "kind": e.kind.value, "project_id": e.project_id,
                "worker_id": e.worker_id, "answer_id": e.answer_id, "review_id": e.review_id,
                "created_by": e.created_by, "created_at": now, "memo": e.memo,
                "meta": e.meta,
            }
            for e in by_key.values()
        ],
    )
    has_postings = select(POSTING.c.id).where(POSTING.c.transaction_id == TX.c.id).exists()
    fresh = conn.execute(
        select(TX.c.id, TX.c.key).where(TX.c.key.in_(list(by_key)), ~has_postings)
    ).all()
    if not fresh:
        return []
    conn.execute(
        insert(POSTING),
        [
            {
                "transaction_id": tx_id, "account": leg.account.value,
                "project_id": leg.project_id, "worker_id": leg.worker_id,
                "amount": leg.amount, "currency": leg.currency,
            }
            for tx_id, key in fresh
            for leg in by_key[key].legs
        ],
    )
    return [by_key[key] for _, key in fresh]


def balances(
    conn: Connection, *, worker_id: int | None = None, project_id: int | None = None
) -> list[tuple[int | None, int | None, str, str, int]]:
    """Sums of postings as (worker, project, account, currency, amount), for one worker
    (``ix_pay_postings_worker_balances``), one project, or everyone."""
    query = select(
        POSTING.c.worker_id, POSTING.c.project_id, POSTING.c.account, POSTING.c.currency,
        func.sum(POSTING.c.amount),
    ).group_by(POSTING.c.worker_id, POSTING.c.project_id, POSTING.c.account, POSTING.c.currency)
    if worker_id is not None:
        query = query.where(POSTING.c.worker_id == worker_id)
    if project_id is not None:
        query = query.where(POSTING.c.project_id == project_id)
    return [(r[0], r[1], r[2], r[3], int(r[4])) for r in conn.execute(query)]


@dataclass(frozen=True, slots=True)
class TransactionRow:
    id: int
    key: str
    kind: str
    project_id: int | None
    worker_id: int | None
    answer_id: int | None
    created_at: datetime
    memo: str
    postings: tuple[tuple[str, int | None, int | None, int, str], ...]


def transactions(conn: Connection, *, batch: int = 5000) -> Iterator[TransactionRow]:
    """Every transaction in id order with its postings (account, project, worker, amount,
    currency), in batches (a worker's statement reads ``store/pay_statements.py``)."""
    after = 0
    while True:
        query = select(TX).where(TX.c.id > after).order_by(TX.c.id).limit(batch)
        rows = conn.execute(query).all()
        if not rows:
            return
        ids = [row.id for row in rows]
        legs: dict[int, list[tuple[str, int | None, int | None, int, str]]] = {}
        for p in conn.execute(
            select(POSTING).where(POSTING.c.transaction_id.in_(ids)).order_by(POSTING.c.id)
        ):
            legs.setdefault(p.transaction_id, []).append(
                (p.account, p.project_id, p.worker_id, int(p.amount), p.currency)
            )
        for row in rows:
            yield TransactionRow(
                row.id, row.key, row.kind, row.project_id, row.worker_id, row.answer_id,
                row.created_at, row.memo, tuple(legs.get(row.id, ())),
            )
        after = ids[-1]


def transaction_id(conn: Connection, key: str) -> int:
    return int(conn.execute(select(TX.c.id).where(TX.c.key == key)).scalar_one())


def is_member(conn: Connection, project_id: int, user_id: int) -> bool:
    m = t.ProjectMember.__table__
    return conn.execute(
        select(m.c.user_id).where(m.c.project_id == project_id, m.c.user_id == user_id)
    ).first() is not None


def lock_cursor(conn: Connection, name: str) -> None:
    """Lock the cursor's row until the transaction ends (a no-op update takes the lock on
    PostgreSQL; SQLite's write transaction is exclusive already)."""
    conn.execute(update(CURSOR).where(CURSOR.c.name == name).values(last_id=CURSOR.c.last_id))
