"""Streaming reads for exports: a project's answers and items, in batches, in constant memory.

Every function yields *lists* of plain tuples (one batch at a time), so a caller can work a
batch at once. The hot reads (:func:`iter_answer_batches`, :func:`iter_answer_code_batches`,
:func:`iter_item_batches`) go through the driver's own cursor (:func:`_driver_batches`): at a
million rows, SQLAlchemy's row objects cost more than the query. JSON columns come back as
undecoded text (``CAST(... AS TEXT)``, a no-op on SQLite): exports decode only what they use,
with a fast decoder, and never pay for decoding twice.

Reviews change what an answer counts for (see :func:`review_scope`): a rejected answer is
left out, a fixed one counts with the reviewer's correction, and with ``reviewed_only`` only
accepted and fixed answers count. Where no review changes anything (the common case) the
reads take the answers table alone.

Items are read in id order along the primary key (see :func:`iter_item_batches`), and an
item's answers follow it in worker order (the join walks the unique ``(item_id, worker_id)``
index).
"""

from __future__ import annotations

import enum
import itertools
from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import Connection, DateTime, TextClause, text

from expertloop.domain import ReviewOutcome
from expertloop.store.tables import sql_values

__all__ = [
    "NOT_GOLD",
    "ReviewScope",
    "count_answered_items",
    "count_project_answers",
    "iter_answer_batches",
    "iter_answer_code_batches",
    "iter_gold",
    "iter_item_answer_batches",
    "iter_item_batches",
    "review_scope",
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


# The outcomes an export drops, and those it keeps, as SQL.
_REJECTED = sql_values([ReviewOutcome.REJECTED])
_KEPT = sql_values([ReviewOutcome.ACCEPTED, ReviewOutcome.FIXED])


class ReviewScope(enum.Enum):
    """Which answers an export counts, and as what."""

    ALL = "all"  # no review changes anything: every answer, as given
    REVIEWED = "reviewed"  # rejected answers left out, fixed ones corrected
    ACCEPTED = "accepted"  # only accepted and fixed answers, fixed ones corrected

    @property
    def source(self) -> str:
        """The FROM clause: answers ``a``, joined with their reviews ``r`` where needed
        (``ACCEPTED`` starts from the reviews: there are fewer of them)."""
        if self is ReviewScope.ALL:
            return "answers a"
        if self is ReviewScope.ACCEPTED:
            return "reviews r JOIN answers a ON a.id = r.answer_id"
        return "answers a LEFT JOIN reviews r ON r.answer_id = a.id"

    @property
    def answer_value(self) -> str:
        """The answer as it counts: the reviewer's fix in place of the worker's answer."""
        return "a.value" if self is ReviewScope.ALL else "COALESCE(r.fixed_value, a.value)"

    @property
    def condition(self) -> str:
        """The ``WHERE`` condition on the answers counted of project ``:project_id``.
        ``ACCEPTED`` names the project on the reviews, not on the answers, so the database
        walks the project's reviews rather than every answer."""
        if self is ReviewScope.ALL:
            return "a.project_id = :project_id"
        if self is ReviewScope.REVIEWED:
            return f"a.project_id = :project_id AND (r.outcome IS NULL OR r.outcome <> {_REJECTED})"
        return f"r.project_id = :project_id AND r.outcome IN ({_KEPT})"


_CHANGING_REVIEW = text(
    "SELECT 1 FROM reviews WHERE project_id = :project_id "
    f"AND outcome IN ({sql_values([ReviewOutcome.REJECTED, ReviewOutcome.FIXED])}) LIMIT 1"
)


def review_scope(conn: Connection, project_id: int, *, reviewed_only: bool) -> ReviewScope:
    """The scope of an export: ``ACCEPTED`` when asked for; else ``REVIEWED`` if some review
    rejected or fixed an answer of the project, and ``ALL`` if none did (one index probe)."""
    if reviewed_only:
        return ReviewScope.ACCEPTED
    changed = conn.execute(_CHANGING_REVIEW, {"project_id": project_id}).first() is not None
    return ReviewScope.REVIEWED if changed else ReviewScope.ALL


def iter_answer_batches(
    conn: Connection, project_id: int, *, scope: ReviewScope = ReviewScope.ALL,
    batch: int = BATCH,
) -> Iterator[list[tuple[Any, ...]]]:
    """Every answer counted as ``(item_id, worker_id, value_json)``, in answer id order."""
    query = text(
        f"SELECT a.item_id, a.worker_id, CAST({scope.answer_value} AS TEXT) FROM {scope.source} "
        f"WHERE {scope.condition} ORDER BY a.id"
    )
    yield from _driver_batches(conn, query, {"project_id": project_id}, batch=batch)


def _field_sql(dialect: str, value: str, path: Sequence[str], name: str) -> tuple[str, Any]:
    """SQL for one JSON field of the answer ``value`` (an SQL expression) as text (NULL where
    absent), and its bound parameter."""
    if dialect == "postgresql":
        return f"({value} #>> :{name})", list(path)
    if any('"' in key for key in path):
        raise ValueError(f"JSON key with a double quote: {path!r}")
    return f"CAST(json_extract({value}, :{name}) AS TEXT)", "$" + "".join(
        f'."{key}"' for key in path
    )


def iter_answer_code_batches(
    conn: Connection,
    project_id: int,
    fields: Sequence[tuple[Sequence[str], Sequence[str | None]]],
    *,
    scope: ReviewScope = ReviewScope.ALL,
    batch: int = CODE_BATCH,
) -> Iterator[list[tuple[Any, ...]]]:
    """Every answer counted as ``(item_id, worker_id, code_1, ...)``, in answer id order.

    Each field is a JSON path into the answer (``["choice"]``, ``["criteria", name]``) and
    the texts of its classes: its code is the position of the field's text among them, and
    ``-1`` where the field is absent or matches none (``None`` matches nothing). The database
    extracts and codes the fields, so no answer is decoded and no string is built here.
    """
    columns = []
    params: dict[str, Any] = {"project_id": project_id}
    for n, (path, texts) in enumerate(fields):
        sql, params[f"path_{n}"] = _field_sql(
            conn.dialect.name, scope.answer_value, path, f"path_{n}"
        )
        cases = []
        for code, value in enumerate(texts):
            if value is not None:
                params[f"text_{n}_{code}"] = value
                cases.append(f" WHEN :text_{n}_{code} THEN {code}")
        columns.append(f"CASE {sql}{''.join(cases)} ELSE -1 END" if cases else "-1")
    query = text(
        f"SELECT a.item_id, a.worker_id{''.join(', ' + c for c in columns)} "
        f"FROM {scope.source} WHERE {scope.condition} ORDER BY a.id"
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


# Items ``i`` without gold (a JSON column may store "no gold" as JSON null).
NOT_GOLD = "(i.gold IS NULL OR CAST(i.gold AS TEXT) = 'null')"
_GOLD_FILTER = " AND " + NOT_GOLD

_ITEM_RANGE = text("SELECT min(id), max(id) FROM items WHERE project_id = :project_id")

# The id range plus a unary ``+`` (which keeps SQLite from searching the (project_id,
# external_id) index and then sorting every row by id) make both databases walk the
# primary key: items arrive in id order, unsorted.
_ITEMS = (
    "SELECT i.id, i.external_id, CAST(i.payload AS TEXT), {n_answers} FROM items i{counts} "
    "WHERE i.id BETWEEN :first AND :last AND +i.project_id = :project_id "
    "AND i.n_answers > 0{gold} ORDER BY i.id"
)
_REVIEWED_PER_ITEM = (
    " {join} (SELECT a.item_id, count(*) AS n FROM reviews r JOIN answers a "
    "ON a.id = r.answer_id WHERE r.project_id = :project_id AND r.outcome {outcomes} "
    "GROUP BY a.item_id) c ON c.item_id = i.id"
)


def _counted_answers(scope: ReviewScope) -> tuple[str, str]:
    """An item's answers counted in ``scope``, as ``(join, count)`` SQL on items ``i``.

    The stored count where reviews change nothing; otherwise the stored count less the
    item's rejected answers, or (``ACCEPTED``) the count of its accepted and fixed ones.
    Either way the per-item counts come from the reviews, so the cost follows the number
    of reviews, not of answers.
    """
    if scope is ReviewScope.ALL:
        return "", "i.n_answers"
    if scope is ReviewScope.REVIEWED:
        join = _REVIEWED_PER_ITEM.format(join="LEFT JOIN", outcomes=f"= {_REJECTED}")
        return join, "i.n_answers - COALESCE(c.n, 0)"
    return _REVIEWED_PER_ITEM.format(join="JOIN", outcomes=f"IN ({_KEPT})"), "c.n"


def iter_item_batches(
    conn: Connection,
    project_id: int,
    *,
    include_gold: bool,
    scope: ReviewScope = ReviewScope.ALL,
    batch: int = BATCH,
) -> Iterator[list[tuple[Any, ...]]]:
    """Items with answers counted in ``scope``, as ``(item_id, external_id, payload_json,
    n_answers)``, in id order."""
    first, last = conn.execute(_ITEM_RANGE, {"project_id": project_id}).one()
    if first is None:
        return
    counts, n_answers = _counted_answers(scope)
    query = text(
        _ITEMS.format(
            n_answers=n_answers, counts=counts, gold="" if include_gold else _GOLD_FILTER
        )
    )
    params = {"project_id": project_id, "first": first, "last": last}
    for rows in _driver_batches(conn, query, params, batch=batch):
        if scope is not ReviewScope.ALL:
            rows = [row for row in rows if row[3] > 0]
        if rows:
            yield rows


_ITEM_ANSWERS = (
    "SELECT i.id, i.external_id, CAST(i.payload AS TEXT), i.n_answers, a.id, a.worker_id, "
    "CAST(a.value AS TEXT), a.duration_ms, a.created_at, r.id, r.outcome, r.comment, "
    "CAST(r.fixed_value AS TEXT), r.reviewer_id, r.decided_at "
    "FROM items i JOIN answers a ON a.item_id = i.id "
    "{join} reviews r ON r.answer_id = a.id "
    "WHERE i.project_id = :project_id{accepted}{gold} ORDER BY i.id, a.worker_id"
)


def iter_item_answer_batches(
    conn: Connection,
    project_id: int,
    *,
    include_gold: bool,
    scope: ReviewScope = ReviewScope.ALL,
    batch: int = BATCH,
) -> Iterator[Sequence[Any]]:
    """Every answer with its item and its review: ``(item_id, external_id, payload_json,
    n_answers, answer_id, worker_id, value_json, duration_ms, created_at, review_id, outcome,
    comment, fixed_value_json, reviewer_id, decided_at)``, by item then worker; the review
    columns are NULL for an answer never queued. Rejected answers are included (a ``raw`` export
    shows them) except in the ``ACCEPTED`` scope, which reads only accepted and fixed ones.

    A batch may end in the middle of an item's answers; the next batch continues it.
    """
    accepted = scope is ReviewScope.ACCEPTED
    query = text(
        _ITEM_ANSWERS.format(
            join="JOIN" if accepted else "LEFT JOIN",
            accepted=" AND " + ReviewScope.ACCEPTED.condition if accepted else "",
            gold="" if include_gold else _GOLD_FILTER,
        )
    ).columns(created_at=DateTime(), decided_at=DateTime())
    # .columns() needs every column named; positional access below keeps them in order.
    result = conn.execution_options(yield_per=batch).execute(query, {"project_id": project_id})
    yield from result.partitions(batch)


def count_project_answers(conn: Connection, project_id: int) -> int:
    return int(
        conn.execute(
            text("SELECT count(*) FROM answers WHERE project_id = :p"), {"p": project_id}
        ).scalar_one()
    )


def count_answered_items(
    conn: Connection, project_id: int, *, include_gold: bool, scope: ReviewScope = ReviewScope.ALL
) -> int:
    """Items with at least one answer counted in ``scope``."""
    gold = "" if include_gold else _GOLD_FILTER
    counts, n_answers = _counted_answers(scope)
    query = text(
        f"SELECT count(*) FROM items i{counts} WHERE i.project_id = :project_id "
        f"AND {n_answers} > 0{gold}"
    )
    return int(conn.execute(query, {"project_id": project_id}).scalar_one())
