"""constitutions: principles (draft), published versions, proposals, statements and votes

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
_NULLABLE_JSON = sa.JSON(none_as_null=True).with_variant(
    postgresql.JSONB(none_as_null=True, astext_type=sa.Text()), "postgresql"
)


def _fk(column: str, table: str, source: str, ondelete: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{table}.id"], name=op.f(f"fk_{source}_{column}_{table}"), ondelete=ondelete
    )


def upgrade() -> None:
    op.create_table(
        "constitutions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("latest_version", sa.Integer(), nullable=False),
        sa.Column("draft_changed", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint(
            "latest_version >= 0", name=op.f("ck_constitutions_latest_version_nonnegative")
        ),
        _fk("created_by", "users", "constitutions", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_constitutions")),
        sa.UniqueConstraint("name", name=op.f("uq_constitutions_name")),
    )
    op.create_table(
        "constitution_principles",
        sa.Column("constitution_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("rationale", sa.Text(), nullable=False),
        sa.Column("examples", _JSON, nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        _fk("constitution_id", "constitutions", "constitution_principles", "CASCADE"),
        sa.PrimaryKeyConstraint("constitution_id", "key", name=op.f("pk_constitution_principles")),
    )
    op.create_table(
        "constitution_versions",
        sa.Column("constitution_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("principles", _JSON, nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("published_by", sa.Integer(), nullable=True),
        sa.Column("published_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint("version >= 1", name=op.f("ck_constitution_versions_version_positive")),
        _fk("constitution_id", "constitutions", "constitution_versions", "CASCADE"),
        _fk("published_by", "users", "constitution_versions", "SET NULL"),
        sa.PrimaryKeyConstraint(
            "constitution_id", "version", name=op.f("pk_constitution_versions")
        ),
    )
    op.create_table(
        "constitution_proposals",
        sa.Column("id", _BIG_ID, nullable=False),
        sa.Column("constitution_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("principle_key", sa.String(length=64), nullable=False),
        sa.Column("proposed", _NULLABLE_JSON, nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("proposed_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("decided_by", sa.Integer(), nullable=True),
        sa.Column("decided_at", sa.DateTime(), nullable=True),
        sa.Column("decision_note", sa.Text(), nullable=False),
        sa.CheckConstraint(
            "kind IN ('add', 'amend', 'remove')", name=op.f("ck_constitution_proposals_kind")
        ),
        sa.CheckConstraint(
            "status IN ('open', 'accepted', 'rejected')",
            name=op.f("ck_constitution_proposals_status"),
        ),
        _fk("constitution_id", "constitutions", "constitution_proposals", "CASCADE"),
        _fk("proposed_by", "users", "constitution_proposals", "SET NULL"),
        _fk("decided_by", "users", "constitution_proposals", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_constitution_proposals")),
    )
    op.create_index(
        "ix_constitution_proposals_constitution_id_status",
        "constitution_proposals",
        ["constitution_id", "status"],
    )
    op.create_table(
        "constitution_statements",
        sa.Column("id", _BIG_ID, nullable=False),
        sa.Column("constitution_id", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        _fk("constitution_id", "constitutions", "constitution_statements", "CASCADE"),
        _fk("created_by", "users", "constitution_statements", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_constitution_statements")),
    )
    op.create_index(
        op.f("ix_constitution_statements_constitution_id"),
        "constitution_statements",
        ["constitution_id"],
    )
    op.create_table(
        "statement_votes",
        sa.Column("statement_id", _BIG_ID, nullable=False),
        sa.Column("voter_id", sa.Integer(), nullable=False),
        sa.Column("vote", sa.String(length=8), nullable=False),
        sa.Column("voted_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint(
            "vote IN ('agree', 'disagree', 'pass')", name=op.f("ck_statement_votes_vote")
        ),
        _fk("statement_id", "constitution_statements", "statement_votes", "CASCADE"),
        _fk("voter_id", "users", "statement_votes", "CASCADE"),
        sa.PrimaryKeyConstraint("statement_id", "voter_id", name=op.f("pk_statement_votes")),
    )
    op.create_index(op.f("ix_statement_votes_voter_id"), "statement_votes", ["voter_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_statement_votes_voter_id"), table_name="statement_votes")
    op.drop_table("statement_votes")
    op.drop_index(
        op.f("ix_constitution_statements_constitution_id"), table_name="constitution_statements"
    )
    op.drop_table("constitution_statements")
    op.drop_index(
        "ix_constitution_proposals_constitution_id_status", table_name="constitution_proposals"
    )
    op.drop_table("constitution_proposals")
    op.drop_table("constitution_versions")
    op.drop_table("constitution_principles")
    op.drop_table("constitutions")
