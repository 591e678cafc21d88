"""the manager's console: indexed consensus numbers, per-worker snapshots, hourly answer
roll-ups, the item browser's indexes and its search text

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
# The trigram index exists only where the pg_trgm extension could be created; the item
# browser looks for it and falls back to a capped scan without it.
TRIGRAM_INDEX = "ix_item_search_text_trgm"
_SEARCH_CHARS = 4000  # as expertloop.store.console_items.SEARCH_TEXT_CHARS, frozen here


def _strings(value: Any, out: list[str]) -> None:
    if isinstance(value, str):
        out.append(value)
    elif isinstance(value, dict):
        for v in value.values():
            _strings(v, out)
    elif isinstance(value, list):
        for v in value:
            _strings(v, out)


def _search_text(external_id: str | None, payload: Any) -> str:
    parts = [external_id or ""]
    _strings(payload, parts)
    return "\n".join(parts).lower()[:_SEARCH_CHARS]


def upgrade() -> None:
    with op.batch_alter_table("consensus_snapshots", schema=None) as batch_op:
        batch_op.add_column(sa.Column("stats", _JSON, nullable=True))
    with op.batch_alter_table("consensus_items", schema=None) as batch_op:
        batch_op.add_column(sa.Column("confidence", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("disagreement", sa.Float(), nullable=True))
        batch_op.create_index(
            "ix_consensus_items_by_confidence",
            ["project_id", "include_gold", "generation", "confidence", "item_id"],
        )
        batch_op.create_index(
            "ix_consensus_items_by_disagreement",
            ["project_id", "include_gold", "generation", "disagreement", "item_id"],
        )
    op.create_index("ix_items_project_id_id", "items", ["project_id", "id"])
    for name, where in (
        ("ix_items_gold", "gold IS NOT NULL AND CAST(gold AS TEXT) <> 'null'"),
        ("ix_items_disabled", "disabled_at IS NOT NULL"),
        ("ix_items_complete", "n_answers >= target"),
    ):
        op.create_index(
            name, "items", ["project_id", "id"],
            postgresql_where=sa.text(where), sqlite_where=sa.text(where),
        )
    op.create_table(
        "consensus_workers",
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("include_gold", sa.Boolean(), nullable=False),
        sa.Column("generation", sa.BigInteger(), nullable=False),
        sa.Column("worker_id", sa.Integer(), nullable=False),
        sa.Column("answers", sa.BigInteger(), nullable=False),
        sa.Column("median_ms", sa.BigInteger(), nullable=True),
        sa.Column("compared", sa.BigInteger(), nullable=False),
        sa.Column("agreement", sa.Float(), nullable=True),
        sa.Column("reliability", sa.Float(), nullable=True),
        sa.Column("gold_answers", sa.BigInteger(), nullable=False),
        sa.Column("gold_correct", sa.BigInteger(), nullable=False),
        sa.Column("gold_mean", sa.Float(), nullable=True),
        sa.Column("gold_low", sa.Float(), nullable=True),
        sa.Column("gold_high", sa.Float(), nullable=True),
        sa.Column("reviews_decided", sa.BigInteger(), nullable=False),
        sa.Column("reviews_accepted", sa.BigInteger(), nullable=False),
        sa.Column("position_decisive", sa.BigInteger(), nullable=False),
        sa.Column("position_first", sa.BigInteger(), nullable=False),
        sa.Column("position_p", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(
            ["project_id"], ["projects.id"],
            name=op.f("fk_consensus_workers_project_id_projects"), ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "project_id", "include_gold", "generation", "worker_id",
            name=op.f("pk_consensus_workers"),
        ),
    )
    op.create_table(
        "answer_hours",
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("hour", sa.DateTime(), nullable=False),
        sa.Column("answers", sa.BigInteger(), nullable=False),
        sa.Column("duration_ms", sa.BigInteger(), nullable=False),
        sa.Column("items_complete", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["project_id"], ["projects.id"],
            name=op.f("fk_answer_hours_project_id_projects"), ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("project_id", "hour", name=op.f("pk_answer_hours")),
    )
    op.create_table(
        "answer_rollup_marks",
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("last_answer_id", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"], ["projects.id"],
            name=op.f("fk_answer_rollup_marks_project_id_projects"), ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("project_id", name=op.f("pk_answer_rollup_marks")),
    )
    op.create_table(
        "item_search",
        sa.Column("item_id", _BIG_ID, nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["item_id"], ["items.id"],
            name=op.f("fk_item_search_item_id_items"), ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["project_id"], ["projects.id"],
            name=op.f("fk_item_search_project_id_projects"), ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("item_id", name=op.f("pk_item_search")),
    )
    op.create_index(
        "ix_item_search_project_id_item_id", "item_search", ["project_id", "item_id"]
    )
    _backfill_search()
    _create_trigram_index()


def _backfill_search() -> None:
    conn = op.get_bind()
    after = 0
    insert = sa.text(
        "INSERT INTO item_search (item_id, project_id, text) VALUES (:item_id, :project_id, :text)"
    )
    while True:
        rows = conn.execute(
            sa.text(
                "SELECT id, project_id, external_id, payload FROM items WHERE id > :after "
                "ORDER BY id LIMIT 5000"
            ),
            {"after": after},
        ).all()
        if not rows:
            return
        batch = []
        for item_id, project_id, external_id, payload in rows:
            value = json.loads(payload) if isinstance(payload, str) else payload
            batch.append(
                {"item_id": item_id, "project_id": project_id,
                 "text": _search_text(external_id, value)}
            )
        conn.execute(insert, batch)
        after = rows[-1][0]


def _create_trigram_index() -> None:
    conn = op.get_bind()
    if conn.dialect.name != "postgresql":
        return
    try:
        with conn.begin_nested():
            conn.execute(sa.text("CREATE EXTENSION IF NOT EXISTS pg_trgm"))
    except sa.exc.DBAPIError:
        return  # not installed, or not allowed: the browser's search scans, capped
    conn.execute(
        sa.text(
            f"CREATE INDEX IF NOT EXISTS {TRIGRAM_INDEX} ON item_search "
            "USING gin (text gin_trgm_ops)"
        )
    )


def downgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text(f"DROP INDEX IF EXISTS {TRIGRAM_INDEX}"))
    op.drop_index("ix_item_search_project_id_item_id", table_name="item_search")
    op.drop_table("item_search")
    op.drop_table("answer_rollup_marks")
    op.drop_table("answer_hours")
    op.drop_table("consensus_workers")
    for name in ("ix_items_complete", "ix_items_disabled", "ix_items_gold",
                 "ix_items_project_id_id"):
        op.drop_index(name, table_name="items")
    with op.batch_alter_table("consensus_items", schema=None) as batch_op:
        batch_op.drop_index("ix_consensus_items_by_disagreement")
        batch_op.drop_index("ix_consensus_items_by_confidence")
        batch_op.drop_column("disagreement")
        batch_op.drop_column("confidence")
    with op.batch_alter_table("consensus_snapshots", schema=None) as batch_op:
        batch_op.drop_column("stats")
