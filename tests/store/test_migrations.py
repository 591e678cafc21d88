"""The migrations build exactly the schema the tables declare, and step down and up again."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text

from db_fixtures import Env
from expertloop.store import Database, upgrade
from expertloop.store.migrate import alembic_config, current_revision, head_revision
from expertloop.store.tables import Base

# Alembic cannot compare an index over an expression (``priority DESC``) on SQLite: it
# reports it removed and added again. It is still checked on PostgreSQL.
_EXPRESSION_INDEXES = {
    "ix_items_claim_order",
    "ix_items_gold_claim_order",
    "ix_items_disputed_claim_order",
    "ix_users_username_lower",
}
# Created by migration 0010 only where PostgreSQL's pg_trgm extension is available, so it
# is not declared in the tables (the item browser checks for it at run time).
_OPTIONAL_INDEXES = {"ix_item_search_text_trgm"}


def _differences(database: Database) -> list[Any]:
    with database.engine.connect() as conn, warnings.catch_warnings():
        # SQLite's reflection skips an index over an expression only (lower(username)).
        warnings.filterwarnings("ignore", "Skipped unsupported reflection of expression-based")
        warnings.filterwarnings("ignore", "autogenerate skipping metadata-specified expression")
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        found = compare_metadata(context, Base.metadata)
    found = [
        d for d in found
        if not (d[0] == "remove_index" and d[1].name in _OPTIONAL_INDEXES)
    ]
    if database.is_sqlite:
        found = [
            d for d in found
            if not (d[0] in ("add_index", "remove_index") and d[1].name in _EXPRESSION_INDEXES)
        ]
    return found


def test_the_migrated_schema_matches_the_declared_tables(env: Env) -> None:
    assert current_revision(env.db) == head_revision()
    assert _differences(env.db) == []


def test_the_migrations_step_down_and_up_again(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'steps.db'}")
    try:
        upgrade(database)
        upgrade_to = head_revision()
        config = alembic_config()
        with database.engine.begin() as conn:
            config.attributes["connection"] = conn
            command.downgrade(config, "0001")
        assert current_revision(database) == "0001"
        upgrade(database)
        assert current_revision(database) == upgrade_to
        assert _differences(database) == []
    finally:
        database.dispose()


def test_the_migrated_claim_order_indexes_keep_their_descending_priority(tmp_path: Path) -> None:
    # A batch migration on SQLite rebuilds a table from reflection, which reads an index's
    # "priority DESC" as "priority": the claim then sorts every open item. The comparison
    # above skips expression indexes, so this reads their SQL.
    database = Database(f"sqlite:///{tmp_path / 'claim.db'}")
    try:
        upgrade(database)
        with database.engine.connect() as conn:
            found = dict(
                conn.execute(
                    text(
                        "SELECT name, sql FROM sqlite_master WHERE type = 'index' "
                        "AND name LIKE 'ix_items_%claim_order'"
                    )
                ).all()
            )
    finally:
        database.dispose()
    assert set(found) == {
        "ix_items_claim_order",
        "ix_items_gold_claim_order",
        "ix_items_disputed_claim_order",
    }
    for name, sql in found.items():
        assert "priority DESC" in sql, (name, sql)
