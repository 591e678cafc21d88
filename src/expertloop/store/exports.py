"""Streaming reads for exports: a project's answers and items, in batches, in constant memory.

Every function yields *lists* of plain tuples (one batch at a time), so a caller can work a
batch at once. The hot reads (:func:`iter_answer_batches`, :func:`iter_answer_code_batches`,
:func:`iter_item_batches`) go through the driver's own cursor (:func:`_driver_batches`): at a
million rows, SQLAlchemy's row objects cost more than the query. JSON columns come back as
undecoded text (``CAST(... AS TEXT)``, a no-op on SQLite): exports decode only what they use,
with a fast decoder, and never pay for decoding twice.

Items are read in id order along the primary key (see :func:`iter_item_batches`), and an
item's answers follow it in worker order (the join walks the unique ``(item_id, worker_id)``
index).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import Connection, DateTime, TextClause, text

__all__ = [
    "count_answered_items",
    "count_project_answers",
    "iter_answer_batches",
    "iter_answer_code_batches",
    "iter_gold",
    "iter_item_answer_batches",
    "iter_item_batches",
]

BATCH = 5000
CODE_BATCH = 20_000  # rows of a few integers: larger batches, less overhead per batch

_cursor_names = itertools.count(1)


def _driver_batches(
    conn: Connection, query: TextClause, params: dict[str, Any], *, batch: int
) -> Iterator[list[tuple[Any, ...]]]:
    """The rows of ``query`` as plain tuples, ``batch`` at a time, from the driver's cursor.

    Runs inside the connection's transaction (begun here if need be, so SQLite reads the
    same snapshot as the SQLAlchemy statements around it). On PostgreSQL the cursor is a
    server-side (named) cursor, so rows stream instead of arriving all at once.
    """
    compiled = query.compile(dialect=conn.dialect)
    values = compiled.construct_params(params)
    bound: Any = (
        [values[name] for name in compiled.positiontup or ()] if compiled.positional else values
    )
    if not conn.in_transaction():
        conn.begin()
    driver = conn.connection.driver_connection
    assert driver is not None
    if conn.dialect.name == "postgresql":
        cursor = driver.cursor(name=f"expertloop_export_{next(_cursor_names)}")
    else:
        cursor = driver.cursor()
    try:
        cursor.execute(str(compiled), bound)
        while rows := cursor.fetchmany(batch):
            yield rows
    finally:
        cursor.close()


_ANSWERS = text(
    "SELECT item_id, worker_id, CAST(value AS TEXT) FROM answers "
    "WHERE project_id = :project_id ORDER BY id"
)


def iter_answer_batches(
    conn: Connection, project_id: int, *, batch: int = BATCH
) -> Iterator[list[tuple[Any, ...]]]:
    """Every answer as ``(item_id, worker_id, value_json)``, in answer id order."""
    yield from _driver_batches(conn, _ANSWERS, {"project_id": project_id}, batch=batch)


def _field_sql(dialect: str, path: Sequence[str], name: str) -> tuple[str, Any]:
    """SQL for one JSON field of ``answers.value`` as text (NULL where absent), and its
    bound parameter."""
    if dialect == "postgresql":
        return f"(value #>> :{name})", list(path)
    if any('"' in key for key in path):
        raise ValueError(f"JSON key with a double quote: {path!r}")
    return f"CAST(json_extract(value, :{name}) AS TEXT)", "$" + "".join(f'."{key}"' for key in path)


def iter_answer_code_batches(
    conn: Connection,
    project_id: int,
    fields: Sequence[tuple[Sequence[str], Sequence[str | None]]],
    *,
    batch: int = CODE_BATCH,
) -> Iterator[list[tuple[Any, ...]]]:
    """Every answer as ``(item_id, worker_id, code_1, ...)``, in answer id order.

    Each field is a JSON path into the answer (``["choice"]``, ``["criteria", name]``) and
    the texts of its classes: its code is the position of the field's text among them, and
    ``-1`` where the field is absent or matches none (``None`` matches nothing). The database
    extracts and codes the fields, so no answer is decoded and no string is built here.
    """
    columns = []
    params: dict[str, Any] = {"project_id": project_id}
    for n, (path, texts) in enumerate(fields):
        sql, params[f"path_{n}"] = _field_sql(conn.dialect.name, path, f"path_{n}")
        cases = []
        for code, value in enumerate(texts):
            if value is not None:
                params[f"text_{n}_{code}"] = value
                cases.append(f" WHEN :text_{n}_{code} THEN {code}")
        columns.append(f"CASE {sql}{''.join(cases)} ELSE -1 END" if cases else "-1")
    query = text(
        f"SELECT item_id, worker_id{''.join(', ' + c for c in columns)} FROM answers "
        "WHERE project_id = :project_id ORDER BY id"
    )
    yield from _driver_batches(conn, query, params, batch=batch)


_GOLD = text(
    "SELECT id, CAST(gold AS TEXT) FROM items WHERE project_id = :project_id "
    "AND gold IS NOT NULL AND CAST(gold AS TEXT) <> 'null'"
)


def iter_gold(conn: Connection, project_id: int) -> Iterator[tuple[int, str]]:
    """``(item_id, gold_json)`` of the project's gold items. A JSON ``null`` (how a JSON
    column may store "no gold") is left out in SQL: a project without gold returns no row,
    however many items it has."""
    for row in conn.execute(_GOLD, {"project_id": project_id}):
        yield int(row[0]), row[1]


_GOLD_FILTER = " AND (i.gold IS NULL OR CAST(i.gold AS TEXT) = 'null')"

_ITEM_RANGE = text("SELECT min(id), max(id) FROM items WHERE project_id = :project_id")

# The id range plus a unary ``+`` (which keeps SQLite from searching the (project_id,
# external_id) index and then sorting every row by id) make both databases walk the
# primary key: items arrive in id order, unsorted.
_ITEMS = (
    "SELECT i.id, i.external_id, CAST(i.payload AS TEXT), i.n_answers FROM items i "
    "WHERE i.id BETWEEN :first AND :last AND +i.project_id = :project_id "
    "AND i.n_answers > 0{gold} ORDER BY i.id"
)


def iter_item_batches(
    conn: Connection, project_id: int, *, include_gold: bool, batch: int = BATCH
) -> Iterator[list[tuple[Any, ...]]]:
    """Answered items as ``(item_id, external_id, payload_json, n_answers)``, in id order."""
    first, last = conn.execute(_ITEM_RANGE, {"project_id": project_id}).one()
    if first is None:
        return
    query = text(_ITEMS.format(gold="" if include_gold else _GOLD_FILTER))
    params = {"project_id": project_id, "first": first, "last": last}
    yield from _driver_batches(conn, query, params, batch=batch)


_ITEM_ANSWERS = (
    "SELECT i.id, i.external_id, CAST(i.payload AS TEXT), i.n_answers, a.id, a.worker_id, "
    "CAST(a.value AS TEXT), a.duration_ms, a.created_at "
    "FROM items i JOIN answers a ON a.item_id = i.id "
    "WHERE i.project_id = :project_id{gold} ORDER BY i.id, a.worker_id"
)


def iter_item_answer_batches(
    conn: Connection, project_id: int, *, include_gold: bool, batch: int = BATCH
) -> Iterator[Sequence[Any]]:
    """Every answer with its item: ``(item_id, external_id, payload_json, n_answers,
    answer_id, worker_id, value_json, duration_ms, created_at)``, by item then worker.

    A batch may end in the middle of an item's answers; the next batch continues it.
    """
    query = text(_ITEM_ANSWERS.format(gold="" if include_gold else _GOLD_FILTER)).columns(
        created_at=DateTime()
    )
    # .columns() needs every column named; positional access below keeps them in order.
    result = conn.execution_options(yield_per=batch).execute(query, {"project_id": project_id})
    yield from result.partitions(batch)


def count_project_answers(conn: Connection, project_id: int) -> int:
    return int(
        conn.execute(
            text("SELECT count(*) FROM answers WHERE project_id = :p"), {"p": project_id}
        ).scalar_one()
    )


def count_answered_items(conn: Connection, project_id: int, *, include_gold: bool) -> int:
    gold = "" if include_gold else _GOLD_FILTER
    query = text(f"SELECT count(*) FROM items i WHERE i.project_id = :p AND i.n_answers > 0{gold}")
    return int(conn.execute(query, {"p": project_id}).scalar_one())
