"""project counters: items and answers counted off the hot path; reviews keep their
answer's worker

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
    # A review's worker, so outcomes per worker need no join to the answers. A plain added
    # column (nullable) on both databases: SQLite adds it without rebuilding the table.
    op.add_column("reviews", sa.Column("worker_id", sa.Integer(), nullable=True))
    op.execute(
        "UPDATE reviews SET worker_id = "
        "(SELECT a.worker_id FROM answers a WHERE a.id = reviews.answer_id)"
    )
    op.create_index(
        "ix_reviews_project_id_worker_id", "reviews", ["project_id", "worker_id", "outcome"]
    )


def downgrade() -> None:
    op.drop_index("ix_reviews_project_id_worker_id", table_name="reviews")
    op.drop_column("reviews", "worker_id")
    op.drop_table("project_counters")
