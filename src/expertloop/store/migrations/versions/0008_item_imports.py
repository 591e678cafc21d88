"""item_imports: uploaded item files and how their imports went (batches resume after a crash)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
# The enums' values when this migration was written (domain.ImportFormat, ImportStatus).
_FORMATS = "'json', 'ndjson', 'csv', 'label-studio', 'argilla'"
_STATUSES = "'queued', 'importing', 'succeeded', 'rejected', 'failed'"


def upgrade() -> None:
    op.create_table(
        "item_imports",
        sa.Column("id", _BIG_ID, nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("job_id", _BIG_ID, nullable=True),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("format", sa.String(length=16), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("items_total", sa.BigInteger(), nullable=True),
        sa.Column("items_done", sa.BigInteger(), nullable=False),
        sa.Column("total_errors", sa.BigInteger(), nullable=False),
        sa.Column("errors", _JSON, nullable=True),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.CheckConstraint(f"format IN ({_FORMATS})", name=op.f("ck_item_imports_format")),
        sa.CheckConstraint(f"status IN ({_STATUSES})", name=op.f("ck_item_imports_status")),
        sa.CheckConstraint(
            "items_done >= 0", name=op.f("ck_item_imports_items_done_nonnegative")
        ),
        sa.CheckConstraint(
            "total_errors >= 0", name=op.f("ck_item_imports_total_errors_nonnegative")
        ),
        sa.ForeignKeyConstraint(
            ["project_id"], ["projects.id"], name=op.f("fk_item_imports_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["job_id"], ["jobs.id"], name=op.f("fk_item_imports_job_id_jobs"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_item_imports_created_by_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_item_imports")),
    )
    with op.batch_alter_table("item_imports", schema=None) as batch_op:
        batch_op.create_index(
            "ix_item_imports_project_id_id", ["project_id", "id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("item_imports", schema=None) as batch_op:
        batch_op.drop_index("ix_item_imports_project_id_id")
    op.drop_table("item_imports")
