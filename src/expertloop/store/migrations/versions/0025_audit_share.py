"""adaptive redundancy's audit sample: ``project_redundancy.audit_share``, the share of items
that get one answer more than ``min_answers`` whatever their confidence

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # project_redundancy has a row per adaptive project: the batch copy SQLite needs for the
    # CHECK constraint is small.
    with op.batch_alter_table("project_redundancy") as batch:
        batch.add_column(
            sa.Column("audit_share", sa.Float(), server_default=sa.text("0"), nullable=False)
        )
        batch.create_check_constraint(
            op.f("ck_project_redundancy_audit_share_range"),
            "audit_share >= 0 AND audit_share <= 1",
        )


def downgrade() -> None:
    with op.batch_alter_table("project_redundancy") as batch:
        batch.drop_constraint(op.f("ck_project_redundancy_audit_share_range"), type_="check")
        batch.drop_column("audit_share")
