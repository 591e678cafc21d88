"""How the annotator loop's statements run: PostgreSQL's on the driver's cursor (also on the
event loop), SQLite's textual ones matched to their columns by position."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import Integer, text
from sqlalchemy.exc import DataError

from db_fixtures import Env
from expertloop.store import Database
from expertloop.store import answers as answer_store
from expertloop.store import redundancy as redundancy_store
from expertloop.store.dialects import ordered_columns
from expertloop.store.driver import DriverStatement


def test_a_driver_statement_must_return_rows() -> None:
    with pytest.raises(ValueError, match="must return rows"):
        DriverStatement(text("UPDATE items SET target = 1 WHERE id = :item_id"))
    DriverStatement(text("UPDATE items SET target = 1 WHERE id = :item_id RETURNING id"))


def test_ordered_columns_refuses_a_type_for_a_column_it_does_not_name() -> None:
    with pytest.raises(ValueError, match="payload"):
        ordered_columns(text("SELECT id, payload FROM items"), "id", payload=Integer())


_SERIES = DriverStatement(text("SELECT n FROM generate_series(1, :k) AS n ORDER BY n"))
_NOTHING = DriverStatement(text("SELECT 1 WHERE :k < 0"))
_BROKEN = DriverStatement(text("SELECT 1 / :k"))


def _first_rows(db: Database) -> tuple[Any, Any]:
    with db.statements() as conn:
        return _SERIES.first(conn, {"k": 3}), _NOTHING.first(conn, {"k": 1})


def _divide_by_zero(db: Database) -> Any:
    with db.statements() as conn:
        return _BROKEN.first(conn, {"k": 0})


def test_a_driver_statement_gives_its_first_row_or_none_and_sqlalchemy_errors(env: Env) -> None:
    if env.db.is_sqlite:
        pytest.skip("driver statements are PostgreSQL's")
    # Blocking (jobs, the CLI) and on the event loop (Database.run: the asyncio driver).
    assert _first_rows(env.db) == ((1,), None)
    with pytest.raises(DataError):
        _divide_by_zero(env.db)

    async def on_the_loop() -> tuple[Any, Any]:
        db = Database(env.backend.url, pool_size=2)
        try:
            rows = await db.run(_first_rows)
            with pytest.raises(DataError):
                await db.run(_divide_by_zero)
            # The connection that failed went back to the pool in a usable state.
            assert await db.run(_first_rows) == rows
            return rows
        finally:
            await db.dispose_async()

    assert asyncio.run(on_the_loop()) == ((1,), None)


@pytest.mark.parametrize(
    ("statement", "params"),
    [
        (answer_store._TARGET, {"assignment_id": 0}),
        (redundancy_store._ITEM_UNLOCKED, {"item_id": 0}),
        (redundancy_store._ANSWERS, {"item_id": 0}),
    ],
    ids=["answer target", "item with settings and model", "item answers"],
)
def test_the_loops_textual_statements_keep_their_result_metadata(
    env: Env, statement: Any, params: dict[str, Any]
) -> None:
    """Columns named in order: SQLAlchemy caches how rows map to them with the compiled
    statement, instead of matching the cursor's column names on every call."""
    with env.db.read() as conn:
        result = conn.execute(statement, params)
        assert result.all() == []
        assert result.context.compiled._cached_metadata is not None
