"""project counters: items and answers counted off the hot path

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # No rows: a project without one is counted at its first read or refresh job.
    op.create_table(
        "project_counters",
        sa.Column("project_id", sa.Integer(), nullable=False),
        *(
            sa.Column(name, sa.BigInteger(), nullable=False)
            for name in (
                "items", "items_open", "items_complete", "items_disabled", "items_gold",
                "answers", "remaining_answers", "last_answer_id", "last_item_id",
            )
        ),
        sa.Column("changes", sa.Integer(), nullable=False),
        sa.Column("counted_changes", sa.Integer(), nullable=False),
        sa.Column("counted_at", sa.DateTime(), nullable=False),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"], ["projects.id"],
            name=op.f("fk_project_counters_project_id_projects"), ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("project_id", name=op.f("pk_project_counters")),
    )


def downgrade() -> None:
    op.drop_table("project_counters")
