"""red-teaming: the turns of the conversations experts hold with a target model

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "redteam_turns",
        sa.Column("id", _BIG_ID, nullable=False),
        sa.Column("assignment_id", _BIG_ID, nullable=False),
        sa.Column("idx", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("call_id", _BIG_ID, nullable=True),
        sa.Column("provider", sa.String(length=200), nullable=True),
        sa.Column("model", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint("role IN ('user', 'assistant')", name=op.f("ck_redteam_turns_role")),
        sa.CheckConstraint("idx >= 0", name=op.f("ck_redteam_turns_idx_nonnegative")),
        sa.ForeignKeyConstraint(
            ["assignment_id"], ["assignments.id"],
            name=op.f("fk_redteam_turns_assignment_id_assignments"), ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["call_id"], ["llm_calls.id"],
            name=op.f("fk_redteam_turns_call_id_llm_calls"), ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_redteam_turns")),
        sa.UniqueConstraint(
            "assignment_id", "idx", name=op.f("uq_redteam_turns_assignment_id_idx")
        ),
    )


def downgrade() -> None:
    op.drop_table("redteam_turns")
