"""Pay: rates and premiums, the double-entry ledger, bonus rules, budgets and payout accounts
(docs/pay.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from expertloop.domain import (
    BonusMetric,
    BonusPeriod,
    CredentialKind,
    LedgerAccount,
    LedgerKind,
    PayRateKind,
)
from expertloop.store.tables._base import Base, BigId, NullableJson, sql_values
from expertloop.store.tables.work import Review
from expertloop.store.tables.workforce import MAX_SKILL_LEVEL


class PayRate(Base):
    """A project's rate from ``effective_from`` on: the rate an answer earns is the newest
    one in effect when it was created (rates are never edited; a change is a new row, so
    the reconciliation can recompute any answer's pay). Amounts in minor units."""

    __tablename__ = "pay_rates"
    __table_args__ = (
        CheckConstraint(f"kind IN ({sql_values(PayRateKind)})", name="kind"),
        CheckConstraint("amount_minor >= 0", name="amount_nonnegative"),
        CheckConstraint(
            "max_seconds_per_item IS NULL OR max_seconds_per_item >= 1",
            name="max_seconds_positive",
        ),
        CheckConstraint(
            "review_window_seconds IS NULL OR review_window_seconds >= 1",
            name="review_window_positive",
        ),
        Index("ix_pay_rates_project_id_effective_from", "project_id", "effective_from", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    # Hourly rates: time on task counted per answer is capped at this many seconds.
    max_seconds_per_item: Mapped[int | None] = mapped_column(Integer)
    effective_from: Mapped[datetime] = mapped_column(DateTime)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    # The review window: an answer's pending pay is approved this long after the answer
    # unless a review rejected it first (NULL: only a review approves).
    review_window_seconds: Mapped[int | None] = mapped_column(Integer)


class PayTransaction(Base):
    """One ledger transaction. Append-only: rows are never updated or deleted (a mistake
    is mended by a new transaction). ``key`` is unique, so each effect (``answer:7:credit``)
    is written once however often it is attempted. No foreign keys: the ledger outlives
    the answers, users and projects it mentions."""

    __tablename__ = "pay_transactions"
    __table_args__ = (
        CheckConstraint(f"kind IN ({sql_values(LedgerKind)})", name="kind"),
        Index("ix_pay_transactions_worker_id_created_at", "worker_id", "created_at", "id"),
        Index("ix_pay_transactions_project_id_id", "project_id", "id"),
        Index("ix_pay_transactions_answer_id", "answer_id"),
        Index("ix_pay_transactions_created_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    project_id: Mapped[int | None] = mapped_column(Integer)
    worker_id: Mapped[int | None] = mapped_column(Integer)
    answer_id: Mapped[int | None] = mapped_column(BigInteger)
    review_id: Mapped[int | None] = mapped_column(BigInteger)
    created_by: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    memo: Mapped[str] = mapped_column(Text, default="")
    # What a credit was computed from ({"rate_id": 5, "premium_ids": [2]}), so the
    # reconciliation recomputes the same amount whatever the worker's skills are now.
    meta: Mapped[dict[str, Any] | None] = mapped_column(NullableJson)


class PayPosting(Base):
    """One leg of a transaction: ``amount`` (minor units, signed) into an account. A
    worker's accounts are (kind, worker); a project's budget is (budget, project). The legs
    of a transaction sum to zero per currency."""

    __tablename__ = "pay_postings"
    __table_args__ = (
        CheckConstraint(f"account IN ({sql_values(LedgerAccount)})", name="account"),
        CheckConstraint(
            f"(account = '{LedgerAccount.BUDGET}') = (worker_id IS NULL)", name="owner"
        ),
        # A worker's balances summed from the index alone (statements, earnings).
        Index("ix_pay_postings_worker_balances", "worker_id", "account", "currency", "amount",
              "transaction_id"),
        Index("ix_pay_postings_project_id_account", "project_id", "account"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    transaction_id: Mapped[int] = mapped_column(
        ForeignKey("pay_transactions.id", ondelete="RESTRICT"), index=True
    )
    account: Mapped[str] = mapped_column(String(16))
    project_id: Mapped[int | None] = mapped_column(Integer)
    worker_id: Mapped[int | None] = mapped_column(Integer)
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))


class PayRatePremium(Base):
    """A premium on a rate: a worker with ``skill`` at ``min_level`` or more, or with a
    verified credential of ``credential_kind``, earns ``basis_points`` more (100 = 1 %) or
    ``amount_minor`` more per answer. Written with its rate, never edited."""

    __tablename__ = "pay_rate_premiums"
    __table_args__ = (
        CheckConstraint(
            "(skill IS NOT NULL AND min_level IS NOT NULL AND credential_kind IS NULL) OR "
            "(skill IS NULL AND min_level IS NULL AND credential_kind IS NOT NULL)",
            name="one_condition",
        ),
        CheckConstraint("(basis_points IS NULL) <> (amount_minor IS NULL)", name="one_value"),
        CheckConstraint(
            f"min_level IS NULL OR (min_level >= 1 AND min_level <= {MAX_SKILL_LEVEL})",
            name="level_range",
        ),
        CheckConstraint(
            f"credential_kind IS NULL OR credential_kind IN ({sql_values(CredentialKind)})",
            name="credential_kind",
        ),
        CheckConstraint(
            "basis_points IS NULL OR (basis_points >= 0 AND basis_points <= 100000)",
            name="basis_points_range",
        ),
        CheckConstraint("amount_minor IS NULL OR amount_minor >= 0", name="amount_nonnegative"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    rate_id: Mapped[int] = mapped_column(
        ForeignKey("pay_rates.id", ondelete="CASCADE"), index=True
    )
    skill: Mapped[str | None] = mapped_column(String(64))
    min_level: Mapped[int | None] = mapped_column(Integer)
    credential_kind: Mapped[str | None] = mapped_column(String(32))
    basis_points: Mapped[int | None] = mapped_column(Integer)
    amount_minor: Mapped[int | None] = mapped_column(BigInteger)


class PayBonusRule(Base):
    """A bonus a project's manager set: each worker whose ``metric`` over a calendar
    ``period`` (UTC) reaches ``threshold_bp`` (basis points of 1) on at least ``min_count``
    observations earns ``amount_minor``. The ``pay.bonus`` job pays each closed period once
    (the cursor ``bonus:{id}``); a disabled rule pays no period ending after it was
    disabled. Never edited otherwise."""

    __tablename__ = "pay_bonus_rules"
    __table_args__ = (
        CheckConstraint(f"metric IN ({sql_values(BonusMetric)})", name="metric"),
        CheckConstraint(f"period IN ({sql_values(BonusPeriod)})", name="period"),
        CheckConstraint("threshold_bp >= 0 AND threshold_bp <= 10000", name="threshold_range"),
        CheckConstraint("min_count >= 1", name="min_count_positive"),
        CheckConstraint("amount_minor >= 0", name="amount_nonnegative"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    metric: Mapped[str] = mapped_column(String(32))
    period: Mapped[str] = mapped_column(String(8))
    threshold_bp: Mapped[int] = mapped_column(Integer)
    min_count: Mapped[int] = mapped_column(Integer)
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    disabled_at: Mapped[datetime | None] = mapped_column(DateTime)


class PayCursor(Base):
    """How far the crediting sweep has read a stream (answers by id, decided reviews by
    time). Everything past the cursor is read again: the ledger's unique keys make a
    second pass write nothing."""

    __tablename__ = "pay_cursors"

    name: Mapped[str] = mapped_column(String(50), primary_key=True)
    last_id: Mapped[int] = mapped_column(BigInteger, default=0)
    last_at: Mapped[datetime | None] = mapped_column(DateTime)


class PayBudget(Base):
    """A project's budget and what the claim reads of it: ``stopped`` is set (by the
    crediting sweep) when spend plus the expected cost of live leases would pass
    ``amount_minor``, and the claim then leases nothing in the project."""

    __tablename__ = "pay_budgets"
    __table_args__ = (CheckConstraint("amount_minor >= 0", name="amount_nonnegative"),)

    project_id: Mapped[int] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    )
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    spent_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    committed_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    stopped: Mapped[bool] = mapped_column(Boolean, default=False)
    stopped_at: Mapped[datetime | None] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime)


class PayoutAccount(Base):
    """Where a worker's payouts go: a reference the payment provider understands (an IBAN,
    a PayPal address, a vendor id), written to payout files."""

    __tablename__ = "payout_accounts"

    worker_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    reference: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[datetime] = mapped_column(DateTime)


# The crediting sweep reads decisions in the order they were made.
Index(
    "ix_reviews_decided_at",
    Review.decided_at,
    postgresql_where=text("decided_at IS NOT NULL"),
    sqlite_where=text("decided_at IS NOT NULL"),
)


class PayBudgetBlock(Base):
    """A worker whose next lease in a budgeted project would cost more than the budget has
    left (their premiums make it dearer than the base rate that still fits): the claim
    leases them nothing there (scheduling rule ``WITHIN_BUDGET``). Kept by the budget's
    refresh (services/pay_budget), with the expected cost of their lease."""

    __tablename__ = "pay_budget_blocks"

    project_id: Mapped[int] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    )
    worker_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    unit_minor: Mapped[int] = mapped_column(BigInteger)
    since: Mapped[datetime] = mapped_column(DateTime)


class PayBonusMeasure(Base):
    """What a bonus rule measured for a worker over a paid period, when the measure rests
    on something that changes later (the consensus snapshot it was compared with, of
    ``generation``): the reconciliation recomputes the bonus from it. Written once, with
    the period's bonuses."""

    __tablename__ = "pay_bonus_measures"

    rule_id: Mapped[int] = mapped_column(
        ForeignKey("pay_bonus_rules.id", ondelete="CASCADE"), primary_key=True
    )
    period: Mapped[str] = mapped_column(String(16), primary_key=True)
    worker_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    counted: Mapped[int] = mapped_column(BigInteger)
    hits: Mapped[int] = mapped_column(BigInteger)
    generation: Mapped[int | None] = mapped_column(BigInteger)
    measured_at: Mapped[datetime] = mapped_column(DateTime)
