"""llm: model providers and the record of every call to them

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
_NULLABLE_JSON = sa.JSON(none_as_null=True).with_variant(
    postgresql.JSONB(none_as_null=True), "postgresql"
)


def upgrade() -> None:
    op.create_table(
        "llm_providers",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("base_url", sa.String(length=500), nullable=False),
        sa.Column("model", sa.String(length=200), nullable=False),
        sa.Column("params", _JSON, nullable=False),
        sa.Column("timeout_seconds", sa.Float(), nullable=False),
        sa.Column("max_retries", sa.Integer(), nullable=False),
        sa.Column("concurrency", sa.Integer(), nullable=False),
        sa.Column("api_key_env", sa.String(length=200), nullable=True),
        sa.Column("api_key_encrypted", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint("timeout_seconds > 0", name="ck_llm_providers_timeout_positive"),
        sa.CheckConstraint("max_retries >= 0", name="ck_llm_providers_max_retries_nonnegative"),
        sa.CheckConstraint("concurrency >= 1", name="ck_llm_providers_concurrency_positive"),
        sa.CheckConstraint(
            "api_key_env IS NULL OR api_key_encrypted IS NULL",
            name="ck_llm_providers_one_key_source",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_llm_providers"),
        sa.UniqueConstraint("name", name="uq_llm_providers_name"),
    )
    op.create_table(
        "llm_calls",
        sa.Column("id", _BIG_ID, autoincrement=True, nullable=False),
        sa.Column("provider_id", sa.Integer(), nullable=True),
        sa.Column("provider", sa.String(length=64), nullable=False),
        sa.Column("model", sa.String(length=200), nullable=False),
        sa.Column("messages", _JSON, nullable=False),
        sa.Column("params", _JSON, nullable=False),
        sa.Column("seed", sa.BigInteger(), nullable=True),
        sa.Column("cache_key", sa.String(length=64), nullable=False),
        sa.Column("purpose", sa.String(length=64), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=True),
        sa.Column("item_id", _BIG_ID, nullable=True),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("finish_reason", sa.String(length=32), nullable=True),
        sa.Column("prompt_tokens", sa.Integer(), nullable=True),
        sa.Column("completion_tokens", sa.Integer(), nullable=True),
        sa.Column("latency_ms", sa.Float(), nullable=False),
        sa.Column("cost", sa.Float(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["provider_id"], ["llm_providers.id"], name="fk_llm_calls_provider_id_llm_providers",
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["project_id"], ["projects.id"], name="fk_llm_calls_project_id_projects",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["item_id"], ["items.id"], name="fk_llm_calls_item_id_items", ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_llm_calls"),
    )
    op.create_index("ix_llm_calls_cache_key", "llm_calls", ["cache_key"])
    op.create_index("ix_llm_calls_project_id_id", "llm_calls", ["project_id", "id"])
    op.create_index("ix_llm_calls_item_id", "llm_calls", ["item_id"])
    op.create_table(
        "llm_verdicts",
        sa.Column("id", _BIG_ID, autoincrement=True, nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("item_id", _BIG_ID, nullable=False),
        sa.Column("judge", sa.String(length=100), nullable=False),
        sa.Column("provider", sa.String(length=64), nullable=False),
        sa.Column("model", sa.String(length=200), nullable=False),
        sa.Column("value", _NULLABLE_JSON, nullable=True),
        sa.Column("unsure", sa.Boolean(), nullable=False),
        sa.Column("details", _JSON, nullable=False),
        sa.Column("call_ids", _JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"], ["projects.id"], name="fk_llm_verdicts_project_id_projects",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["item_id"], ["items.id"], name="fk_llm_verdicts_item_id_items", ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_llm_verdicts"),
        sa.UniqueConstraint("item_id", "judge", name="uq_llm_verdicts_item_id_judge"),
    )
    op.create_index(
        "ix_llm_verdicts_project_id_judge_item_id", "llm_verdicts",
        ["project_id", "judge", "item_id"],
    )
    op.create_table(
        "llm_project_settings",
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("show_verdicts", sa.Boolean(), nullable=False),
        sa.Column("triage", _NULLABLE_JSON, nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("updated_by", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["project_id"], ["projects.id"], name="fk_llm_project_settings_project_id_projects",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["updated_by"], ["users.id"], name="fk_llm_project_settings_updated_by_users",
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("project_id", name="pk_llm_project_settings"),
    )


def downgrade() -> None:
    op.drop_table("llm_project_settings")
    op.drop_table("llm_verdicts")
    op.drop_table("llm_calls")
    op.drop_table("llm_providers")
