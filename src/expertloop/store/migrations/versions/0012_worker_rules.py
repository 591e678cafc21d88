"""worker rules: a project's rules, worker flags, pauses, and answer telemetry

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
_RULES = "'gold_accuracy', 'spammer_score', 'too_fast', 'straight_lining', " \
    "'near_duplicate', 'pasted_text'"
_ACTIONS = "'reinstated', 'dismissed'"


def upgrade() -> None:
    op.add_column("project_members", sa.Column("paused_at", sa.DateTime(), nullable=True))
    op.add_column("project_members", sa.Column("pause_reason", sa.Text(), nullable=True))
    op.create_table(
        "project_rules",
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("rules", _JSON, nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("updated_by", sa.Integer(), nullable=True),
        sa.Column("evaluated_answer_id", sa.BigInteger(), nullable=False),
        sa.Column("evaluated_at", sa.DateTime(), nullable=True),
        sa.Column("evaluation_ms", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"], ["projects.id"], name="fk_project_rules_project_id_projects",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["updated_by"], ["users.id"], name="fk_project_rules_updated_by_users",
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("project_id", name="pk_project_rules"),
    )
    op.create_table(
        "worker_flags",
        sa.Column("id", _BIG_ID, autoincrement=True, nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("worker_id", sa.Integer(), nullable=False),
        sa.Column("rule", sa.String(length=32), nullable=False),
        sa.Column("details", _JSON, nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("n_events", sa.Integer(), nullable=False),
        sa.Column("paused", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("resolved_at", sa.DateTime(), nullable=True),
        sa.Column("resolved_by", sa.Integer(), nullable=True),
        sa.Column("action", sa.String(length=16), nullable=True),
        sa.Column("resolved_answer_id", sa.BigInteger(), nullable=True),
        sa.CheckConstraint(f"rule IN ({_RULES})", name="ck_worker_flags_rule"),
        sa.CheckConstraint(f"action IN ({_ACTIONS})", name="ck_worker_flags_action"),
        sa.CheckConstraint(
            "(resolved_at IS NULL) = (action IS NULL)", name="ck_worker_flags_resolved_with_action"
        ),
        sa.CheckConstraint("n_events >= 1", name="ck_worker_flags_n_events_positive"),
        sa.ForeignKeyConstraint(
            ["project_id"], ["projects.id"], name="fk_worker_flags_project_id_projects",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["worker_id"], ["users.id"], name="fk_worker_flags_worker_id_users",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["resolved_by"], ["users.id"], name="fk_worker_flags_resolved_by_users",
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_worker_flags"),
    )
    op.create_index(
        "ix_worker_flags_open", "worker_flags", ["project_id", "worker_id", "rule"], unique=True,
        postgresql_where=sa.text("resolved_at IS NULL"),
        sqlite_where=sa.text("resolved_at IS NULL"),
    )
    op.create_index("ix_worker_flags_project_id_id", "worker_flags", ["project_id", "id"])
    op.create_table(
        "answer_telemetry",
        sa.Column("answer_id", _BIG_ID, nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("worker_id", sa.Integer(), nullable=False),
        sa.Column("typed_chars", sa.Integer(), nullable=False),
        sa.Column("pasted_chars", sa.Integer(), nullable=False),
        sa.Column("typing_ms", sa.BigInteger(), nullable=False),
        sa.CheckConstraint(
            "typed_chars >= 0 AND pasted_chars >= 0 AND typing_ms >= 0",
            name="ck_answer_telemetry_nonnegative",
        ),
        sa.ForeignKeyConstraint(
            ["answer_id"], ["answers.id"], name="fk_answer_telemetry_answer_id_answers",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["project_id"], ["projects.id"], name="fk_answer_telemetry_project_id_projects",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["worker_id"], ["users.id"], name="fk_answer_telemetry_worker_id_users",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("answer_id", name="pk_answer_telemetry"),
    )
    op.create_index(
        "ix_answer_telemetry_project_id_answer_id", "answer_telemetry",
        ["project_id", "answer_id"],
    )


def downgrade() -> None:
    op.drop_index("ix_answer_telemetry_project_id_answer_id", table_name="answer_telemetry")
    op.drop_table("answer_telemetry")
    op.drop_index("ix_worker_flags_project_id_id", table_name="worker_flags")
    op.drop_index("ix_worker_flags_open", table_name="worker_flags")
    op.drop_table("worker_flags")
    op.drop_table("project_rules")
    with op.batch_alter_table("project_members") as batch:
        batch.drop_column("pause_reason")
        batch.drop_column("paused_at")
