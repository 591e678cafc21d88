"""live triage and the re-target sweep: ``items.retarget_due`` (events the item's target has
not followed yet, with a partial index the sweep job walks) and ``redundancy_models.judges``
(the model judges fitted with the experts)

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None

_JSON = sa.JSON(none_as_null=True).with_variant(JSONB(none_as_null=True), "postgresql")


def upgrade() -> None:
    # A column with a constant default is a plain ALTER TABLE ADD COLUMN on both databases
    # (no batch copy of ``items`` on SQLite, so its claim-order indexes are untouched).
    op.add_column(
        "items",
        sa.Column("retarget_due", sa.Integer(), server_default=sa.text("0"), nullable=False),
    )
    op.create_index(
        "ix_items_retarget_due", "items", ["project_id", "id"], unique=False,
        postgresql_where=sa.text("retarget_due > 0"), sqlite_where=sa.text("retarget_due > 0"),
    )
    op.add_column("redundancy_models", sa.Column("judges", _JSON, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("redundancy_models") as batch:
        batch.drop_column("judges")
    op.drop_index("ix_items_retarget_due", table_name="items")
    # SQLite drops a column in place (3.35+) when no index or constraint names it.
    op.drop_column("items", "retarget_due")
