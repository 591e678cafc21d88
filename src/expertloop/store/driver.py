"""PostgreSQL statements of the annotator loop, run on the driver's cursor.

Each request of the loop runs two short statements. Through SQLAlchemy's ``execute`` every
one also pays for a result object, column metadata and parameter processing, together
about as much CPU as the driver's own work. :class:`DriverStatement` keeps the SQL written
as a SQLAlchemy ``text()`` clause (compiled once, to the driver's parameter style) and runs
it on the DBAPI cursor of a pooled connection, translating driver errors to SQLAlchemy's
exception classes as ``execute`` would, so callers handle errors in one way.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

import psycopg
from sqlalchemy import Connection
from sqlalchemy.dialects.postgresql import psycopg as pg_psycopg
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.elements import TextClause
from sqlalchemy.sql.selectable import TextualSelect

__all__ = ["DriverStatement"]

_DIALECT = pg_psycopg.dialect()  # type: ignore[no-untyped-call]


class DriverStatement:
    """A PostgreSQL ``text()`` statement that returns at most one row of interest."""

    __slots__ = ("sql",)

    def __init__(self, clause: TextClause | TextualSelect) -> None:
        self.sql = str(clause.compile(dialect=_DIALECT))

    def first(self, conn: Connection, params: Mapping[str, Any]) -> tuple[Any, ...] | None:
        """The statement's first row as a tuple (``None`` when it returns none)."""
        dbapi_connection = conn.connection
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(self.sql, params)
            return None if cursor.description is None else cursor.fetchone()
        except psycopg.Error as exc:
            if conn.dialect.is_disconnect(cast(Any, exc), dbapi_connection, cursor):
                conn.invalidate(exc)
            raise DBAPIError.instance(self.sql, dict(params), exc, psycopg.Error) from exc
        finally:
            cursor.close()
