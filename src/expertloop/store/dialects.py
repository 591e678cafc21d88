"""The few statements whose SQL differs between SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.dialects import postgresql, sqlite

__all__ = ["insert_ignoring_conflicts"]


def insert_ignoring_conflicts(
    conn: Connection, table: Any, columns: Sequence[str] | None = None
) -> Any:
    """``INSERT ... ON CONFLICT [(columns)] DO NOTHING`` in the connection's dialect."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    return dialect.insert(table).on_conflict_do_nothing(index_elements=columns)
