"""projects can be edited and archived; guidelines are versioned, and every assignment and
answer records the version it was given under; usernames are searchable

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

# Guidelines could not be edited before this revision, so every existing project is at
# version 1 (its text as it is now) and every existing assignment and answer was given under
# it: a constant default, which both databases add without rewriting a large table.


def upgrade() -> None:
    with op.batch_alter_table("projects", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("guidelines_version", sa.Integer(), server_default="1", nullable=False)
        )
        batch_op.add_column(sa.Column("archived_at", sa.DateTime(), nullable=True))
    op.create_table(
        "project_guidelines",
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.CheckConstraint("version >= 1", name="ck_project_guidelines_version_positive"),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name="fk_project_guidelines_project_id_projects",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["users.id"],
            name="fk_project_guidelines_created_by_users",
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("project_id", "version", name="pk_project_guidelines"),
    )
    op.execute(
        "INSERT INTO project_guidelines (project_id, version, text, created_at, created_by) "
        "SELECT id, 1, guidelines, created_at, created_by FROM projects"
    )
    with op.batch_alter_table("assignments", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("guidelines_version", sa.Integer(), server_default="1", nullable=False)
        )
    with op.batch_alter_table("answers", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("guidelines_version", sa.Integer(), server_default="1", nullable=False)
        )
    op.create_index("ix_users_username_lower", "users", [sa.text("lower(username)")])


def downgrade() -> None:
    op.drop_index("ix_users_username_lower", table_name="users")
    with op.batch_alter_table("answers", schema=None) as batch_op:
        batch_op.drop_column("guidelines_version")
    with op.batch_alter_table("assignments", schema=None) as batch_op:
        batch_op.drop_column("guidelines_version")
    op.drop_table("project_guidelines")
    with op.batch_alter_table("projects", schema=None) as batch_op:
        batch_op.drop_column("archived_at")
        batch_op.drop_column("guidelines_version")
