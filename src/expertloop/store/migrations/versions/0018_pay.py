"""pay: rates, the double-entry ledger, crediting cursors, budgets, payout accounts

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _fk(column: str, table: str, source: str, ondelete: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{table}.id"], name=op.f(f"fk_{source}_{column}_{table}"), ondelete=ondelete
    )


def upgrade() -> None:
    op.create_table(
        "pay_rates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("max_seconds_per_item", sa.Integer(), nullable=True),
        sa.Column("effective_from", sa.DateTime(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint("kind IN ('piece', 'hourly')", name=op.f("ck_pay_rates_kind")),
        sa.CheckConstraint("amount_minor >= 0", name=op.f("ck_pay_rates_amount_nonnegative")),
        sa.CheckConstraint(
            "max_seconds_per_item IS NULL OR max_seconds_per_item >= 1",
            name=op.f("ck_pay_rates_max_seconds_positive"),
        ),
        _fk("project_id", "projects", "pay_rates", "CASCADE"),
        _fk("created_by", "users", "pay_rates", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pay_rates")),
    )
    op.create_index(
        "ix_pay_rates_project_id_effective_from",
        "pay_rates",
        ["project_id", "effective_from", "id"],
        unique=False,
    )
    op.create_table(
        "pay_transactions",
        sa.Column("id", _BIG_ID, nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=True),
        sa.Column("worker_id", sa.Integer(), nullable=True),
        sa.Column("answer_id", sa.BigInteger(), nullable=True),
        sa.Column("review_id", sa.BigInteger(), nullable=True),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("memo", sa.Text(), nullable=False),
        sa.CheckConstraint(
            "kind IN ('credit', 'reversal', 'approval', 'adjustment', 'payout')",
            name=op.f("ck_pay_transactions_kind"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pay_transactions")),
        sa.UniqueConstraint("key", name=op.f("uq_pay_transactions_key")),
    )
    op.create_index(
        "ix_pay_transactions_worker_id_id", "pay_transactions", ["worker_id", "id"], unique=False
    )
    op.create_index(
        "ix_pay_transactions_project_id_id", "pay_transactions", ["project_id", "id"],
        unique=False,
    )
    op.create_index(
        "ix_pay_transactions_answer_id", "pay_transactions", ["answer_id"], unique=False
    )
    op.create_index(
        "ix_pay_transactions_created_at", "pay_transactions", ["created_at"], unique=False
    )
    op.create_table(
        "pay_postings",
        sa.Column("id", _BIG_ID, nullable=False),
        sa.Column("transaction_id", _BIG_ID, nullable=False),
        sa.Column("account", sa.String(length=16), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=True),
        sa.Column("worker_id", sa.Integer(), nullable=True),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.CheckConstraint(
            "account IN ('budget', 'pending', 'approved', 'paid')",
            name=op.f("ck_pay_postings_account"),
        ),
        sa.CheckConstraint(
            "(account = 'budget') = (worker_id IS NULL)", name=op.f("ck_pay_postings_owner")
        ),
        _fk("transaction_id", "pay_transactions", "pay_postings", "RESTRICT"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pay_postings")),
    )
    op.create_index(
        "ix_pay_postings_worker_id_account", "pay_postings", ["worker_id", "account"],
        unique=False,
    )
    op.create_index(
        "ix_pay_postings_project_id_account", "pay_postings", ["project_id", "account"],
        unique=False,
    )
    op.create_index(
        op.f("ix_pay_postings_transaction_id"), "pay_postings", ["transaction_id"], unique=False
    )
    op.create_table(
        "pay_cursors",
        sa.Column("name", sa.String(length=50), nullable=False),
        sa.Column("last_id", sa.BigInteger(), nullable=False),
        sa.Column("last_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_pay_cursors")),
    )
    op.create_table(
        "pay_budgets",
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("spent_minor", sa.BigInteger(), nullable=False),
        sa.Column("committed_minor", sa.BigInteger(), nullable=False),
        sa.Column("stopped", sa.Boolean(), nullable=False),
        sa.Column("stopped_at", sa.DateTime(), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint("amount_minor >= 0", name=op.f("ck_pay_budgets_amount_nonnegative")),
        _fk("project_id", "projects", "pay_budgets", "CASCADE"),
        sa.PrimaryKeyConstraint("project_id", name=op.f("pk_pay_budgets")),
    )
    op.create_table(
        "payout_accounts",
        sa.Column("worker_id", sa.Integer(), nullable=False),
        sa.Column("reference", sa.String(length=200), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        _fk("worker_id", "users", "payout_accounts", "CASCADE"),
        sa.PrimaryKeyConstraint("worker_id", name=op.f("pk_payout_accounts")),
    )
    op.create_index(
        "ix_reviews_decided_at",
        "reviews",
        ["decided_at"],
        postgresql_where=sa.text("decided_at IS NOT NULL"),
        sqlite_where=sa.text("decided_at IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_reviews_decided_at", table_name="reviews")
    op.drop_table("payout_accounts")
    op.drop_table("pay_budgets")
    op.drop_table("pay_cursors")
    op.drop_index(op.f("ix_pay_postings_transaction_id"), table_name="pay_postings")
    op.drop_index("ix_pay_postings_project_id_account", table_name="pay_postings")
    op.drop_index("ix_pay_postings_worker_id_account", table_name="pay_postings")
    op.drop_table("pay_postings")
    op.drop_index("ix_pay_transactions_created_at", table_name="pay_transactions")
    op.drop_index("ix_pay_transactions_answer_id", table_name="pay_transactions")
    op.drop_index("ix_pay_transactions_project_id_id", table_name="pay_transactions")
    op.drop_index("ix_pay_transactions_worker_id_id", table_name="pay_transactions")
    op.drop_table("pay_transactions")
    op.drop_table("pay_rates")
