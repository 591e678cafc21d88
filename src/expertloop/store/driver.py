"""PostgreSQL statements of the annotator loop, run on the driver's cursor.

Each request of the loop runs two short statements. Through SQLAlchemy's ``execute`` every
one also pays for a result object, column metadata and parameter processing, together
about as much CPU as the driver's own work. :class:`DriverStatement` keeps the SQL written
as a SQLAlchemy ``text()`` clause (compiled once, to the driver's parameter style) and runs
it on the driver's own cursor of a pooled connection, translating driver errors to
SQLAlchemy's exception classes as ``execute`` would, so callers handle errors in one way.

On the event loop (``Database.run``) the pooled connection is SQLAlchemy's asyncio adapter,
whose cursor fetches every row and builds the column descriptions after each statement;
the statement runs on the adapted ``psycopg.AsyncConnection`` directly instead, awaited
through the greenlet bridge. Every statement here returns rows (a ``SELECT`` or a write
with ``RETURNING``), so its first row is fetched without asking for the description, which
psycopg builds anew, one object per column, on every access.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, cast

import psycopg
from sqlalchemy import Connection
from sqlalchemy.dialects.postgresql import psycopg as pg_psycopg
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.elements import TextClause
from sqlalchemy.sql.selectable import TextualSelect
from sqlalchemy.util import await_

__all__ = ["DriverStatement"]

_DIALECT = pg_psycopg.dialect()  # type: ignore[no-untyped-call]
_RETURNS_ROWS = re.compile(r"\b(SELECT|RETURNING)\b", re.IGNORECASE)


class DriverStatement:
    """A PostgreSQL ``text()`` statement that returns rows, of which the first is of interest."""

    __slots__ = ("sql",)

    def __init__(self, clause: TextClause | TextualSelect) -> None:
        self.sql = str(clause.compile(dialect=_DIALECT))
        if not _RETURNS_ROWS.search(self.sql):
            raise ValueError("a driver statement must return rows (SELECT or RETURNING)")

    def first(self, conn: Connection, params: Mapping[str, Any]) -> tuple[Any, ...] | None:
        """The statement's first row as a tuple (``None`` when it returns none)."""
        dbapi_connection = conn.connection
        driver = dbapi_connection.driver_connection
        try:
            if isinstance(driver, psycopg.AsyncConnection):
                return cast(tuple[Any, ...] | None, await_(self._first_async(driver, params)))
            with cast(psycopg.Connection[Any], driver).cursor() as cursor:
                cursor.execute(self.sql, params)
                return cast(tuple[Any, ...] | None, cursor.fetchone())
        except psycopg.Error as exc:
            if conn.dialect.is_disconnect(cast(Any, exc), dbapi_connection, None):
                conn.invalidate(exc)
            raise DBAPIError.instance(self.sql, dict(params), exc, psycopg.Error) from exc

    async def _first_async(
        self, driver: psycopg.AsyncConnection[Any], params: Mapping[str, Any]
    ) -> Any:
        async with driver.cursor() as cursor:
            await cursor.execute(self.sql, params)
            return await cursor.fetchone()
