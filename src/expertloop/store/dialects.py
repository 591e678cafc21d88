"""The few statements whose SQL differs between SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, column
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.elements import TextClause
from sqlalchemy.sql.selectable import TextualSelect
from sqlalchemy.types import TypeEngine

__all__ = ["insert_ignoring_conflicts", "ordered_columns"]


def insert_ignoring_conflicts(
    conn: Connection, table: Any, columns: Sequence[str] | None = None
) -> Any:
    """``INSERT ... ON CONFLICT [(columns)] DO NOTHING`` in the connection's dialect."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    return dialect.insert(table).on_conflict_do_nothing(index_elements=columns)


def ordered_columns(clause: TextClause, names: str, **types: TypeEngine[Any]) -> TextualSelect:
    """``clause.columns(...)`` with every result column named, in order (``names``, separated
    by spaces), and ``types`` for those that need one: rows are matched to them by position,
    so SQLAlchemy caches the result's metadata with the compiled statement instead of
    matching the cursor's column names on every execution, as it does for ``columns`` given
    by keyword only (a loop statement on SQLite paid that on each call)."""
    keys = names.split()
    unknown = set(types) - set(keys)
    if unknown:
        raise ValueError(f"types for columns not named: {sorted(unknown)}")
    return clause.columns(*(column(key, types.get(key)) for key in keys))
