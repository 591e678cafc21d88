"""a worker's statement read by period: ``pay_transactions (worker_id, created_at, id)``
replaces ``(worker_id, id)``, so a month's lines, their count and a page after a
``(created_at, id)`` cursor read only that range; ``pay_postings (worker_id, account,
currency, amount, transaction_id)`` replaces ``(worker_id, account)``, so a worker's balances
at any time are summed from the indexes alone

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-04
"""

from __future__ import annotations

from alembic import op

revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_pay_transactions_worker_id_created_at", "pay_transactions",
        ["worker_id", "created_at", "id"], unique=False,
    )
    op.drop_index("ix_pay_transactions_worker_id_id", table_name="pay_transactions")
    op.create_index(
        "ix_pay_postings_worker_balances", "pay_postings",
        ["worker_id", "account", "currency", "amount", "transaction_id"], unique=False,
    )
    op.drop_index("ix_pay_postings_worker_id_account", table_name="pay_postings")


def downgrade() -> None:
    op.create_index(
        "ix_pay_postings_worker_id_account", "pay_postings", ["worker_id", "account"],
        unique=False,
    )
    op.drop_index("ix_pay_postings_worker_balances", table_name="pay_postings")
    op.create_index(
        "ix_pay_transactions_worker_id_id", "pay_transactions", ["worker_id", "id"], unique=False
    )
    op.drop_index("ix_pay_transactions_worker_id_created_at", table_name="pay_transactions")
