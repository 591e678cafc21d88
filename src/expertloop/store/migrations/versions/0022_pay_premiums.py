"""pay premiums and bonuses: a rate's premiums by skill level or verified credential, what
a credit used (``pay_transactions.meta``), and bonus rules over periods

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None

_JSON = sa.JSON(none_as_null=True).with_variant(JSONB(none_as_null=True), "postgresql")


def upgrade() -> None:
    op.create_table(
        "pay_rate_premiums",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("rate_id", sa.Integer(), nullable=False),
        sa.Column("skill", sa.String(length=64), nullable=True),
        sa.Column("min_level", sa.Integer(), nullable=True),
        sa.Column("credential_kind", sa.String(length=32), nullable=True),
        sa.Column("basis_points", sa.Integer(), nullable=True),
        sa.Column("amount_minor", sa.BigInteger(), nullable=True),
        sa.CheckConstraint(
            "(skill IS NOT NULL AND min_level IS NOT NULL AND credential_kind IS NULL) OR "
            "(skill IS NULL AND min_level IS NULL AND credential_kind IS NOT NULL)",
            name=op.f("ck_pay_rate_premiums_one_condition"),
        ),
        sa.CheckConstraint(
            "(basis_points IS NULL) <> (amount_minor IS NULL)",
            name=op.f("ck_pay_rate_premiums_one_value"),
        ),
        sa.CheckConstraint(
            "min_level IS NULL OR (min_level >= 1 AND min_level <= 5)",
            name=op.f("ck_pay_rate_premiums_level_range"),
        ),
        sa.CheckConstraint(
            "credential_kind IS NULL OR credential_kind IN ('degree', 'licence', "
            "'certification', 'membership', 'employment', 'other')",
            name=op.f("ck_pay_rate_premiums_credential_kind"),
        ),
        sa.CheckConstraint(
            "basis_points IS NULL OR (basis_points >= 0 AND basis_points <= 100000)",
            name=op.f("ck_pay_rate_premiums_basis_points_range"),
        ),
        sa.CheckConstraint(
            "amount_minor IS NULL OR amount_minor >= 0",
            name=op.f("ck_pay_rate_premiums_amount_nonnegative"),
        ),
        sa.ForeignKeyConstraint(
            ["rate_id"], ["pay_rates.id"], name=op.f("fk_pay_rate_premiums_rate_id_pay_rates"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pay_rate_premiums")),
    )
    op.create_index(
        op.f("ix_pay_rate_premiums_rate_id"), "pay_rate_premiums", ["rate_id"], unique=False
    )
    op.add_column("pay_transactions", sa.Column("meta", _JSON, nullable=True))
    op.create_table(
        "pay_bonus_rules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("metric", sa.String(length=32), nullable=False),
        sa.Column("period", sa.String(length=8), nullable=False),
        sa.Column("threshold_bp", sa.Integer(), nullable=False),
        sa.Column("min_count", sa.Integer(), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("disabled_at", sa.DateTime(), nullable=True),
        sa.CheckConstraint("metric IN ('review_acceptance')",
                           name=op.f("ck_pay_bonus_rules_metric")),
        sa.CheckConstraint("period IN ('week', 'month')", name=op.f("ck_pay_bonus_rules_period")),
        sa.CheckConstraint("threshold_bp >= 0 AND threshold_bp <= 10000",
                           name=op.f("ck_pay_bonus_rules_threshold_range")),
        sa.CheckConstraint("min_count >= 1", name=op.f("ck_pay_bonus_rules_min_count_positive")),
        sa.CheckConstraint("amount_minor >= 0",
                           name=op.f("ck_pay_bonus_rules_amount_nonnegative")),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"],
                                name=op.f("fk_pay_bonus_rules_project_id_projects"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["created_by"], ["users.id"],
                                name=op.f("fk_pay_bonus_rules_created_by_users"),
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pay_bonus_rules")),
    )
    op.create_index(op.f("ix_pay_bonus_rules_project_id"), "pay_bonus_rules", ["project_id"],
                    unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_pay_bonus_rules_project_id"), table_name="pay_bonus_rules")
    op.drop_table("pay_bonus_rules")
    op.drop_column("pay_transactions", "meta")
    op.drop_index(op.f("ix_pay_rate_premiums_rate_id"), table_name="pay_rate_premiums")
    op.drop_table("pay_rate_premiums")
