"""Streaming reads for exports: a project's answers and items, in batches, in constant memory.

Every function streams from a server-side cursor (``yield_per``) and yields *lists* of rows
(one partition at a time), so a caller can work a batch at once. JSON columns come back as
undecoded text (``CAST(... AS TEXT)``, a no-op on SQLite): exports decode only what they use,
with a fast decoder, and never pay for decoding twice.

Items are read in id order, and an item's answers follow it in worker order: the join walks
the unique ``(item_id, worker_id)`` index, so neither database sorts anything.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import Connection, DateTime, text

__all__ = [
    "count_answered_items",
    "count_project_answers",
    "iter_answer_batches",
    "iter_answer_field_batches",
    "iter_gold",
    "iter_item_answer_batches",
    "iter_item_batches",
]

BATCH = 5000

_ANSWERS = text(
    "SELECT item_id, worker_id, CAST(value AS TEXT) FROM answers "
    "WHERE project_id = :project_id ORDER BY id"
)


def iter_answer_batches(
    conn: Connection, project_id: int, *, batch: int = BATCH
) -> Iterator[Sequence[Any]]:
    """Every answer as ``(item_id, worker_id, value_json)``, in answer id order."""
    result = conn.execution_options(yield_per=batch).execute(_ANSWERS, {"project_id": project_id})
    yield from result.partitions(batch)


def _field_sql(dialect: str, path: Sequence[str], name: str) -> tuple[str, Any]:
    """SQL for one JSON field of ``answers.value`` as text (NULL where absent), and its
    bound parameter."""
    if dialect == "postgresql":
        return f"(value #>> :{name})", list(path)
    if any('"' in key for key in path):
        raise ValueError(f"JSON key with a double quote: {path!r}")
    return f"CAST(json_extract(value, :{name}) AS TEXT)", "$" + "".join(f'."{key}"' for key in path)


def iter_answer_field_batches(
    conn: Connection,
    project_id: int,
    paths: Sequence[Sequence[str]],
    *,
    batch: int = BATCH,
) -> Iterator[Sequence[Any]]:
    """Every answer as ``(item_id, worker_id, field_1, ...)``, in answer id order: each field
    the value at a JSON path of the answer (``["choice"]``, ``["criteria", name]``) as text,
    ``None`` where absent. The database extracts the fields, so no answer is decoded here."""
    columns = []
    params: dict[str, Any] = {"project_id": project_id}
    for n, path in enumerate(paths):
        sql, params[f"path_{n}"] = _field_sql(conn.dialect.name, path, f"path_{n}")
        columns.append(sql)
    query = text(
        f"SELECT item_id, worker_id{''.join(', ' + c for c in columns)} FROM answers "
        "WHERE project_id = :project_id ORDER BY id"
    )
    result = conn.execution_options(yield_per=batch).execute(query, params)
    yield from result.partitions(batch)


_GOLD = text(
    "SELECT id, CAST(gold AS TEXT) FROM items WHERE project_id = :project_id AND gold IS NOT NULL"
)


def iter_gold(conn: Connection, project_id: int) -> Iterator[tuple[int, str]]:
    """``(item_id, gold_json)`` of the project's gold items (JSON ``null`` included: skip it)."""
    for row in conn.execute(_GOLD, {"project_id": project_id}):
        yield int(row[0]), row[1]


_GOLD_FILTER = " AND (i.gold IS NULL OR CAST(i.gold AS TEXT) = 'null')"

_ITEMS = (
    "SELECT i.id, i.external_id, CAST(i.payload AS TEXT), i.n_answers FROM items i "
    "WHERE i.project_id = :project_id AND i.n_answers > 0{gold} ORDER BY i.id"
)


def iter_item_batches(
    conn: Connection, project_id: int, *, include_gold: bool, batch: int = BATCH
) -> Iterator[Sequence[Any]]:
    """Answered items as ``(item_id, external_id, payload_json, n_answers)``, in id order."""
    query = text(_ITEMS.format(gold="" if include_gold else _GOLD_FILTER))
    result = conn.execution_options(yield_per=batch).execute(query, {"project_id": project_id})
    yield from result.partitions(batch)


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
