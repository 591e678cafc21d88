"""imports keep other tools' labels: item metadata workers never see, and model suggestions

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("items", schema=None) as batch_op:
        batch_op.add_column(sa.Column("meta", _JSON, nullable=True))
    op.create_table(
        "suggestions",
        sa.Column("id", _BIG_ID, nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("item_id", _BIG_ID, nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("agent", sa.String(length=255), nullable=False),
        sa.Column("value", _JSON, nullable=False),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["item_id"], ["items.id"], name=op.f("fk_suggestions_item_id_items"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_suggestions_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_suggestions")),
        sa.CheckConstraint(
            "source IN ('label-studio', 'argilla', 'import')", name=op.f("ck_suggestions_source")
        ),
    )
    op.create_index("ix_suggestions_item_id", "suggestions", ["item_id"])


def downgrade() -> None:
    op.drop_index("ix_suggestions_item_id", table_name="suggestions")
    op.drop_table("suggestions")
    with op.batch_alter_table("items", schema=None) as batch_op:
        batch_op.drop_column("meta")
