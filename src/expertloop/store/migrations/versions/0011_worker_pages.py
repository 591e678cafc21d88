"""item reports, lease extensions (a per-project limit and a count per lease), and an index
for a worker's own answers

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

_REASONS = "'broken', 'ambiguous', 'harmful', 'outside_expertise'"
_RESOLUTIONS = "'resolved', 'disabled'"

# Two new NOT NULL columns with defaults. On SQLite they are added in place with their CHECK
# in the column definition (no rebuild of a large assignments table); on PostgreSQL the
# CHECK is a named constraint, as tables.py declares it.
_COLUMNS = (
    ("projects", "max_lease_extensions", "2",
     "max_lease_extensions >= 0 AND max_lease_extensions <= 100", "max_lease_extensions_range"),
    ("assignments", "extensions", "0", "extensions >= 0", "extensions_nonnegative"),
)


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    for table, column, default, check, name in _COLUMNS:
        if sqlite:
            op.execute(
                f"ALTER TABLE {table} ADD COLUMN {column} INTEGER DEFAULT {default} NOT NULL "
                f"CONSTRAINT ck_{table}_{name} CHECK ({check})"
            )
        else:
            op.add_column(
                table,
                sa.Column(column, sa.Integer(), server_default=sa.text(default), nullable=False),
            )
            op.create_check_constraint(op.f(f"ck_{table}_{name}"), table, check)
    op.create_index(
        "ix_answers_worker_id_project_id_id", "answers", ["worker_id", "project_id", "id"]
    )
    big_id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
    op.create_table(
        "item_reports",
        sa.Column("id", big_id, nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("item_id", big_id, nullable=False),
        sa.Column("worker_id", sa.Integer(), nullable=False),
        sa.Column("assignment_id", big_id, nullable=True),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("resolved_at", sa.DateTime(), nullable=True),
        sa.Column("resolved_by", sa.Integer(), nullable=True),
        sa.Column("resolution", sa.String(length=16), nullable=True),
        sa.CheckConstraint(f"reason IN ({_REASONS})", name=op.f("ck_item_reports_reason")),
        sa.CheckConstraint(
            f"resolution IS NULL OR resolution IN ({_RESOLUTIONS})",
            name=op.f("ck_item_reports_resolution"),
        ),
        sa.CheckConstraint(
            "(resolved_at IS NULL) = (resolution IS NULL)",
            name=op.f("ck_item_reports_resolved_iff_resolution"),
        ),
        sa.ForeignKeyConstraint(
            ["project_id"], ["projects.id"], name=op.f("fk_item_reports_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["item_id"], ["items.id"], name=op.f("fk_item_reports_item_id_items"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["worker_id"], ["users.id"], name=op.f("fk_item_reports_worker_id_users"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["assignment_id"], ["assignments.id"],
            name=op.f("fk_item_reports_assignment_id_assignments"), ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["resolved_by"], ["users.id"], name=op.f("fk_item_reports_resolved_by_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_item_reports")),
        sa.UniqueConstraint("item_id", "worker_id", name=op.f("uq_item_reports_item_id_worker_id")),
    )
    op.create_index(
        "ix_item_reports_open",
        "item_reports",
        ["project_id", "item_id"],
        postgresql_where=sa.text("resolved_at IS NULL"),
        sqlite_where=sa.text("resolved_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_item_reports_open", table_name="item_reports")
    op.drop_table("item_reports")
    op.drop_index("ix_answers_worker_id_project_id_id", table_name="answers")
    for table, column, _default, _check, name in reversed(_COLUMNS):
        with op.batch_alter_table(table) as batch_op:
            batch_op.drop_constraint(op.f(f"ck_{table}_{name}"), type_="check")
            batch_op.drop_column(column)
