"""reviews: answers queued for review and the reviewers' decisions

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "reviews",
        sa.Column("id", _BIG_ID, nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("answer_id", _BIG_ID, nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("requested_by", sa.Integer(), nullable=True),
        sa.Column("requested_at", sa.DateTime(), nullable=False),
        sa.Column("reviewer_id", sa.Integer(), nullable=True),
        sa.Column("lease_expires_at", sa.DateTime(), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("fixed_value", _JSON, nullable=True),
        sa.Column("decided_at", sa.DateTime(), nullable=True),
        sa.CheckConstraint("source IN ('sample', 'request')", name=op.f("ck_reviews_source")),
        sa.CheckConstraint(
            "outcome IS NULL OR outcome IN ('accepted', 'rejected', 'fixed')",
            name=op.f("ck_reviews_outcome"),
        ),
        sa.CheckConstraint(
            "(outcome = 'fixed') = (fixed_value IS NOT NULL)",
            name=op.f("ck_reviews_fixed_value_iff_fixed"),
        ),
        sa.ForeignKeyConstraint(
            ["answer_id"], ["answers.id"], name=op.f("fk_reviews_answer_id_answers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["project_id"], ["projects.id"], name=op.f("fk_reviews_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["requested_by"], ["users.id"], name=op.f("fk_reviews_requested_by_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["reviewer_id"], ["users.id"], name=op.f("fk_reviews_reviewer_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reviews")),
        sa.UniqueConstraint("answer_id", name=op.f("uq_reviews_answer_id")),
    )
    with op.batch_alter_table("reviews", schema=None) as batch_op:
        batch_op.create_index(
            "ix_reviews_pending",
            ["project_id", "id"],
            unique=False,
            postgresql_where=sa.text("outcome IS NULL"),
            sqlite_where=sa.text("outcome IS NULL"),
        )
        batch_op.create_index(
            "ix_reviews_held",
            ["reviewer_id", "project_id"],
            unique=False,
            postgresql_where=sa.text("outcome IS NULL"),
            sqlite_where=sa.text("outcome IS NULL"),
        )
        batch_op.create_index(
            "ix_reviews_project_id_outcome_id", ["project_id", "outcome", "id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("reviews", schema=None) as batch_op:
        batch_op.drop_index("ix_reviews_project_id_outcome_id")
        batch_op.drop_index("ix_reviews_held")
        batch_op.drop_index("ix_reviews_pending")
    op.drop_table("reviews")
