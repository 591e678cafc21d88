"""the workforce: skills, credentials, required skills, exams, gold counters, routing

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

_CLAIM_COLUMNS: list[str | sa.TextClause] = [
    "project_id", "open_slots", sa.text("priority DESC"), "id"
]
# The predicates as each dialect renders the tier's condition (SQLite has no boolean type:
# ``disputed = 1``), so each database sees the query implies the index's predicate.
_GOLD = "open_slots > 0 AND disabled_at IS NULL AND gold IS NOT NULL"
_TIERS = {
    "ix_items_gold_claim_order": (_GOLD, _GOLD),
    "ix_items_disputed_claim_order": (
        "open_slots > 0 AND disabled_at IS NULL AND disputed",
        "open_slots > 0 AND disabled_at IS NULL AND disputed = 1",
    ),
}


def _restore_claim_order_index() -> None:
    """On SQLite a batch that rebuilds ``items`` re-creates its indexes from reflection,
    which reads ``priority DESC`` as ``priority``: the claim then sorts every open item
    (three times the CPU per loop). Put the index back as migration 0006 made it."""
    if op.get_bind().dialect.name != "sqlite":
        return
    op.drop_index("ix_items_claim_order", table_name="items")
    op.create_index(
        "ix_items_claim_order",
        "items",
        _CLAIM_COLUMNS,
        sqlite_where=sa.text("open_slots > 0 AND disabled_at IS NULL"),
    )


def _fk(column: str, table: str, source: str, ondelete: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{table}.id"], name=op.f(f"fk_{source}_{column}_{table}"), ondelete=ondelete
    )


def upgrade() -> None:
    # An item without gold holds SQL NULL from now on (it held a JSON null): "gold item" is
    # ``gold IS NOT NULL``, the predicate of the gold tier's partial index.
    op.execute("UPDATE items SET gold = NULL WHERE CAST(gold AS TEXT) = 'null'")
    with op.batch_alter_table("items", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("disputed", sa.Boolean(), server_default=sa.text("false"), nullable=False)
        )
    _restore_claim_order_index()
    for name, (pg_where, sqlite_where) in _TIERS.items():
        op.create_index(
            name, "items", _CLAIM_COLUMNS,
            postgresql_where=sa.text(pg_where), sqlite_where=sa.text(sqlite_where),
        )
    with op.batch_alter_table("reviews", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_reviews_source"), type_="check")
        batch_op.create_check_constraint(
            "source", "source IN ('sample', 'request', 'escalation')"
        )

    op.create_table(
        "user_skills",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("skill", sa.String(length=64), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint("level >= 0 AND level <= 5", name=op.f("ck_user_skills_level_range")),
        _fk("user_id", "users", "user_skills", "CASCADE"),
        sa.PrimaryKeyConstraint("user_id", "skill", name=op.f("pk_user_skills")),
    )
    op.create_table(
        "user_credentials",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("evidence", sa.Text(), nullable=False),
        sa.Column("recorded_by", sa.Integer(), nullable=True),
        sa.Column("recorded_at", sa.DateTime(), nullable=False),
        sa.Column("verified_by", sa.Integer(), nullable=True),
        sa.Column("verified_at", sa.DateTime(), nullable=True),
        sa.CheckConstraint(
            "kind IN ('degree', 'licence', 'certification', 'membership', 'employment', "
            "'other')",
            name=op.f("ck_user_credentials_kind"),
        ),
        sa.CheckConstraint(
            "(verified_by IS NULL AND verified_at IS NULL) OR verified_at IS NOT NULL",
            name=op.f("ck_user_credentials_verified_with_time"),
        ),
        _fk("user_id", "users", "user_credentials", "CASCADE"),
        _fk("recorded_by", "users", "user_credentials", "SET NULL"),
        _fk("verified_by", "users", "user_credentials", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_credentials")),
    )
    op.create_index(
        op.f("ix_user_credentials_user_id"), "user_credentials", ["user_id"], unique=False
    )
    op.create_table(
        "project_skills",
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("skill", sa.String(length=64), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "level >= 1 AND level <= 5", name=op.f("ck_project_skills_level_range")
        ),
        _fk("project_id", "projects", "project_skills", "CASCADE"),
        sa.PrimaryKeyConstraint("project_id", "skill", name=op.f("pk_project_skills")),
    )
    op.create_table(
        "project_workforce",
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("gold_share", sa.Float(), nullable=True),
        sa.Column("exam_project_id", sa.Integer(), nullable=True),
        sa.Column("pass_mark", sa.Float(), nullable=True),
        sa.Column("retry_after_seconds", sa.Integer(), nullable=False),
        sa.Column("is_exam", sa.Boolean(), nullable=False),
        sa.Column("route_min_accuracy", sa.Float(), nullable=True),
        sa.Column("escalate", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint(
            "gold_share >= 0 AND gold_share <= 1",
            name=op.f("ck_project_workforce_gold_share_range"),
        ),
        sa.CheckConstraint(
            "pass_mark >= 0 AND pass_mark <= 1", name=op.f("ck_project_workforce_pass_mark_range")
        ),
        sa.CheckConstraint(
            "retry_after_seconds >= 0", name=op.f("ck_project_workforce_retry_after_nonnegative")
        ),
        sa.CheckConstraint(
            "route_min_accuracy >= 0 AND route_min_accuracy <= 1",
            name=op.f("ck_project_workforce_route_min_accuracy_range"),
        ),
        sa.CheckConstraint(
            "exam_project_id <> project_id",
            name=op.f("ck_project_workforce_exam_is_another_project"),
        ),
        _fk("project_id", "projects", "project_workforce", "CASCADE"),
        _fk("exam_project_id", "projects", "project_workforce", "SET NULL"),
        sa.PrimaryKeyConstraint("project_id", name=op.f("pk_project_workforce")),
    )
    op.create_index(
        op.f("ix_project_workforce_exam_project_id"),
        "project_workforce",
        ["exam_project_id"],
        unique=False,
    )
    op.create_table(
        "worker_stats",
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("worker_id", sa.Integer(), nullable=False),
        sa.Column("answers", sa.BigInteger(), nullable=False),
        sa.Column("gold_answers", sa.BigInteger(), nullable=False),
        sa.Column("gold_correct", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("answers >= 0", name=op.f("ck_worker_stats_answers_nonnegative")),
        sa.CheckConstraint(
            "gold_correct >= 0", name=op.f("ck_worker_stats_gold_correct_nonnegative")
        ),
        sa.CheckConstraint(
            "gold_correct <= gold_answers", name=op.f("ck_worker_stats_gold_correct_within")
        ),
        sa.CheckConstraint(
            "gold_answers <= answers", name=op.f("ck_worker_stats_gold_answers_within")
        ),
        _fk("project_id", "projects", "worker_stats", "CASCADE"),
        _fk("worker_id", "users", "worker_stats", "CASCADE"),
        sa.PrimaryKeyConstraint("project_id", "worker_id", name=op.f("pk_worker_stats")),
    )
    op.create_table(
        "exam_results",
        sa.Column("exam_project_id", sa.Integer(), nullable=False),
        sa.Column("worker_id", sa.Integer(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("answered", sa.Integer(), nullable=False),
        sa.Column("correct", sa.Integer(), nullable=False),
        sa.Column("last_score", sa.Float(), nullable=True),
        sa.Column("best_score", sa.Float(), nullable=True),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.Column("retry_at", sa.DateTime(), nullable=True),
        sa.CheckConstraint("answered >= 0", name=op.f("ck_exam_results_answered_nonnegative")),
        sa.CheckConstraint(
            "correct >= 0 AND correct <= answered", name=op.f("ck_exam_results_correct_within")
        ),
        sa.CheckConstraint("attempts >= 0", name=op.f("ck_exam_results_attempts_nonnegative")),
        _fk("exam_project_id", "projects", "exam_results", "CASCADE"),
        _fk("worker_id", "users", "exam_results", "CASCADE"),
        sa.PrimaryKeyConstraint("exam_project_id", "worker_id", name=op.f("pk_exam_results")),
    )
    op.create_table(
        "item_votes",
        sa.Column("item_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("value", sa.String(length=200), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        _fk("item_id", "items", "item_votes", "CASCADE"),
        sa.PrimaryKeyConstraint("item_id", "value", name=op.f("pk_item_votes")),
    )


def downgrade() -> None:
    op.drop_table("item_votes")
    op.drop_table("exam_results")
    op.drop_table("worker_stats")
    op.drop_index(op.f("ix_project_workforce_exam_project_id"), table_name="project_workforce")
    op.drop_table("project_workforce")
    op.drop_table("project_skills")
    op.drop_index(op.f("ix_user_credentials_user_id"), table_name="user_credentials")
    op.drop_table("user_credentials")
    op.drop_table("user_skills")
    op.execute("DELETE FROM reviews WHERE source = 'escalation'")
    with op.batch_alter_table("reviews", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_reviews_source"), type_="check")
        batch_op.create_check_constraint("source", "source IN ('sample', 'request')")
    for name in _TIERS:
        op.drop_index(name, table_name="items")
    with op.batch_alter_table("items", schema=None) as batch_op:
        batch_op.drop_column("disputed")
    _restore_claim_order_index()
