"""pay: a rate's review window, workers a budget cannot afford, bonus rules on gold
accuracy and consensus agreement (with what they measured)

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None

_OLD = "'review_acceptance'"
_NEW = "'review_acceptance', 'gold_accuracy', 'consensus_agreement'"


def _replace_metric_check(values: str) -> None:
    # SQLite cannot alter a constraint: batch mode rebuilds the (small) rules table.
    with op.batch_alter_table("pay_bonus_rules", recreate="auto") as batch:
        batch.drop_constraint(op.f("ck_pay_bonus_rules_metric"), type_="check")
        batch.create_check_constraint(op.f("ck_pay_bonus_rules_metric"), f"metric IN ({values})")


def upgrade() -> None:
    with op.batch_alter_table("pay_rates", recreate="auto") as batch:
        batch.add_column(sa.Column("review_window_seconds", sa.Integer(), nullable=True))
        batch.create_check_constraint(
            op.f("ck_pay_rates_review_window_positive"),
            "review_window_seconds IS NULL OR review_window_seconds >= 1",
        )
    _replace_metric_check(_NEW)
    op.create_table(
        "pay_budget_blocks",
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("worker_id", sa.Integer(), nullable=False),
        sa.Column("unit_minor", sa.BigInteger(), nullable=False),
        sa.Column("since", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_pay_budget_blocks_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["worker_id"],
            ["users.id"],
            name=op.f("fk_pay_budget_blocks_worker_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("project_id", "worker_id", name=op.f("pk_pay_budget_blocks")),
    )
    op.create_table(
        "pay_bonus_measures",
        sa.Column("rule_id", sa.Integer(), nullable=False),
        sa.Column("period", sa.String(length=16), nullable=False),
        sa.Column("worker_id", sa.Integer(), nullable=False),
        sa.Column("counted", sa.BigInteger(), nullable=False),
        sa.Column("hits", sa.BigInteger(), nullable=False),
        sa.Column("generation", sa.BigInteger(), nullable=True),
        sa.Column("measured_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["rule_id"],
            ["pay_bonus_rules.id"],
            name=op.f("fk_pay_bonus_measures_rule_id_pay_bonus_rules"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["worker_id"],
            ["users.id"],
            name=op.f("fk_pay_bonus_measures_worker_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "rule_id", "period", "worker_id", name=op.f("pk_pay_bonus_measures")
        ),
    )


def downgrade() -> None:
    op.drop_table("pay_bonus_measures")
    op.drop_table("pay_budget_blocks")
    op.execute("DELETE FROM pay_bonus_rules WHERE metric <> 'review_acceptance'")
    _replace_metric_check(_OLD)
    with op.batch_alter_table("pay_rates", recreate="auto") as batch:
        batch.drop_constraint(op.f("ck_pay_rates_review_window_positive"), type_="check")
        batch.drop_column("review_window_seconds")
