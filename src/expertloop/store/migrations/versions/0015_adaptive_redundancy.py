"""adaptive redundancy: per-project settings, the worker model, item confidence, and the
claim order's uncertainty term; gold items open to every worker get a bounded target

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

_GOLD = "open_slots > 0 AND disabled_at IS NULL AND gold IS NOT NULL"
# Each claim-order index: (PostgreSQL predicate, SQLite predicate).
_INDEXES = {
    "ix_items_claim_order": (
        "open_slots > 0 AND disabled_at IS NULL", "open_slots > 0 AND disabled_at IS NULL"
    ),
    "ix_items_gold_claim_order": (_GOLD, _GOLD),
    "ix_items_disputed_claim_order": (
        "open_slots > 0 AND disabled_at IS NULL AND disputed",
        "open_slots > 0 AND disabled_at IS NULL AND disputed = 1",
    ),
}
# What migration 0013 gave gold items open to every worker (gold mixed in, exams), and the
# open slots they keep from now on (services/workforce/settings.GOLD_OPEN_SLOTS).
_OLD_OPEN_TARGET = 1_000_000
_GOLD_OPEN_SLOTS = 100


def _claim_indexes(columns: list[str | sa.TextClause]) -> None:
    for name, (pg_where, sqlite_where) in _INDEXES.items():
        op.drop_index(name, table_name="items")
        op.create_index(
            name, "items", columns,
            postgresql_where=sa.text(pg_where), sqlite_where=sa.text(sqlite_where),
        )


def _fk(column: str, table: str, source: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{table}.id"], name=op.f(f"fk_{source}_{column}_{table}"), ondelete="CASCADE"
    )


def upgrade() -> None:
    # Plain ADD COLUMN (no batch): on SQLite a batch rebuilds ``items`` from reflection and
    # loses the indexes' DESC (see migration 0013).
    op.add_column("items", sa.Column("confidence", sa.Float(), nullable=True))
    op.add_column(
        "items",
        sa.Column("uncertainty", sa.Float(), server_default=sa.text("0"), nullable=False),
    )
    _claim_indexes(
        ["project_id", "open_slots", sa.text("priority DESC"), sa.text("uncertainty DESC"), "id"]
    )
    # A bounded target for open gold: answers and live leases as they are, plus the open
    # slots every such item keeps (each answer to it opens one more).
    op.execute(
        sa.text(
            "UPDATE items SET target = target - open_slots + :slots, open_slots = :slots "
            "WHERE gold IS NOT NULL AND target >= :old"
        ).bindparams(slots=_GOLD_OPEN_SLOTS, old=_OLD_OPEN_TARGET)
    )
    op.create_table(
        "project_redundancy",
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("min_answers", sa.Integer(), nullable=False),
        sa.Column("max_answers", sa.Integer(), nullable=False),
        sa.Column("target_confidence", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint(
            "min_answers >= 1 AND min_answers <= max_answers",
            name=op.f("ck_project_redundancy_answers_range"),
        ),
        sa.CheckConstraint(
            "target_confidence >= 0.5 AND target_confidence < 1",
            name=op.f("ck_project_redundancy_confidence_range"),
        ),
        _fk("project_id", "projects", "project_redundancy"),
        sa.PrimaryKeyConstraint("project_id", name=op.f("pk_project_redundancy")),
    )
    json = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
    op.create_table(
        "redundancy_models",
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("classes", json, nullable=False),
        sa.Column("class_prior", json, nullable=False),
        sa.Column("default_confusion", json, nullable=False),
        sa.Column("answers", sa.BigInteger(), nullable=False),
        sa.Column("last_answer_id", sa.BigInteger(), nullable=False),
        sa.Column("fitted_at", sa.DateTime(), nullable=False),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        _fk("project_id", "projects", "redundancy_models"),
        sa.PrimaryKeyConstraint("project_id", name=op.f("pk_redundancy_models")),
    )
    op.create_table(
        "worker_reliability",
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("worker_id", sa.Integer(), nullable=False),
        sa.Column("confusion", json, nullable=False),
        sa.Column("accuracy", sa.Float(), nullable=False),
        sa.Column("answers", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "accuracy >= 0 AND accuracy <= 1", name=op.f("ck_worker_reliability_accuracy_range")
        ),
        sa.CheckConstraint(
            "answers >= 0", name=op.f("ck_worker_reliability_answers_nonnegative")
        ),
        _fk("project_id", "projects", "worker_reliability"),
        _fk("worker_id", "users", "worker_reliability"),
        sa.PrimaryKeyConstraint("project_id", "worker_id", name=op.f("pk_worker_reliability")),
    )


def downgrade() -> None:
    op.drop_table("worker_reliability")
    op.drop_table("redundancy_models")
    op.drop_table("project_redundancy")
    # Open gold gets the old open target back (what migration 0013's code expects).
    op.execute(
        sa.text(
            "UPDATE items SET open_slots = open_slots + (:old - target), target = :old "
            "WHERE gold IS NOT NULL AND target < :old AND id IN (SELECT i.id FROM items i "
            "JOIN project_workforce w ON w.project_id = i.project_id "
            "WHERE w.is_exam OR w.gold_share IS NOT NULL)"
        ).bindparams(old=_OLD_OPEN_TARGET)
    )
    _claim_indexes(["project_id", "open_slots", sa.text("priority DESC"), "id"])
    op.drop_column("items", "uncertainty")
    op.drop_column("items", "confidence")
