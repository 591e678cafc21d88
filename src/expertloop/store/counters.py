"""Per-project counters (``project_counters``): a project's items and answers counted in one
pass by a job, read by pages in one row. See :class:`expertloop.store.tables.ProjectCounters`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select, text, update
from sqlalchemy.dialects import postgresql, sqlite

from expertloop.store import tables as t

__all__ = [
    "CountersRow",
    "Counts",
    "Marks",
    "active_project_ids",
    "count_project",
    "load_counters",
    "note_item_changed",
    "note_project_changed",
    "read_marks",
    "write_counters",
]


@dataclass(frozen=True, slots=True)
class Counts:
    """What one pass over a project's items counts. ``items_open``: in service and short of
    their target (the console's Open filter); ``remaining_answers``: the answers those still
    want; ``answers``: the answers the items hold."""

    items: int
    items_open: int
    items_complete: int
    items_disabled: int
    items_gold: int
    answers: int
    remaining_answers: int


@dataclass(frozen=True, slots=True)
class Marks:
    """Where a project stands: its newest answer and item, and its edits so far."""

    last_answer_id: int
    last_item_id: int
    changes: int


@dataclass(frozen=True, slots=True)
class CountersRow:
    project_id: int
    counts: Counts
    marks: Marks  # as counted
    changes: int  # as bumped since
    counted_at: datetime
    duration_ms: int


_COUNT = text(
    "SELECT count(*), "
    "coalesce(sum(CASE WHEN disabled_at IS NULL AND n_answers < target THEN 1 ELSE 0 END), 0), "
    "coalesce(sum(CASE WHEN n_answers >= target THEN 1 ELSE 0 END), 0), "
    "coalesce(sum(CASE WHEN disabled_at IS NOT NULL THEN 1 ELSE 0 END), 0), "
    "coalesce(sum(CASE WHEN gold IS NOT NULL AND CAST(gold AS TEXT) <> 'null' "
    "THEN 1 ELSE 0 END), 0), "
    "coalesce(sum(n_answers), 0), "
    "coalesce(sum(CASE WHEN disabled_at IS NULL AND n_answers < target "
    "THEN target - n_answers ELSE 0 END), 0) "
    "FROM items WHERE project_id = :p"
)
# Index probes: ix_answers_project_id_id, ix_items_project_id_id, the counters' key.
_LAST_ANSWER = text("SELECT max(id) FROM answers WHERE project_id = :p")
_LAST_ITEM = text("SELECT max(id) FROM items WHERE project_id = :p")
_CHANGES = text("SELECT changes FROM project_counters WHERE project_id = :p")


def count_project(conn: Connection, project_id: int) -> Counts:
    """One pass over the project's items (a job's work, or a small project's page)."""
    row = conn.execute(_COUNT, {"p": project_id}).one()
    return Counts(*(int(v) for v in row))


def read_marks(conn: Connection, project_id: int) -> Marks:
    """The project's marks now: three index probes. Read them *before* counting, so an
    answer or edit landing meanwhile leaves the counters marked behind, never ahead."""
    last_answer = conn.execute(_LAST_ANSWER, {"p": project_id}).scalar()
    last_item = conn.execute(_LAST_ITEM, {"p": project_id}).scalar()
    changes = conn.execute(_CHANGES, {"p": project_id}).scalar()
    return Marks(int(last_answer or 0), int(last_item or 0), int(changes or 0))


def _insert(conn: Connection) -> Any:
    return (postgresql if conn.dialect.name == "postgresql" else sqlite).insert


def write_counters(
    conn: Connection, project_id: int, counts: Counts, marks: Marks, *, now: datetime,
    duration_ms: int,
) -> None:
    """Store a count taken at ``marks``. A count older than the stored one (a slower job
    finishing last) is dropped. ``changes`` itself is left as the edits bumped it."""
    values = {
        "items": counts.items,
        "items_open": counts.items_open,
        "items_complete": counts.items_complete,
        "items_disabled": counts.items_disabled,
        "items_gold": counts.items_gold,
        "answers": counts.answers,
        "remaining_answers": counts.remaining_answers,
        "last_answer_id": marks.last_answer_id,
        "last_item_id": marks.last_item_id,
        "counted_changes": marks.changes,
        "counted_at": now,
        "duration_ms": duration_ms,
    }
    table = t.ProjectCounters.__table__
    stmt = _insert(conn)(t.ProjectCounters).values(project_id=project_id, changes=0, **values)
    stmt = stmt.on_conflict_do_update(
        index_elements=["project_id"],
        set_=values,
        where=(table.c.last_answer_id <= marks.last_answer_id)
        & (table.c.last_item_id <= marks.last_item_id)
        & (table.c.counted_changes <= marks.changes),
    )
    conn.execute(stmt)


def load_counters(conn: Connection, project_ids: Iterable[int]) -> dict[int, CountersRow]:
    ids = sorted(set(project_ids))
    if not ids:
        return {}
    c = t.ProjectCounters
    rows = conn.execute(
        select(
            c.project_id, c.items, c.items_open, c.items_complete, c.items_disabled,
            c.items_gold, c.answers, c.remaining_answers, c.last_answer_id, c.last_item_id,
            c.counted_changes, c.changes, c.counted_at, c.duration_ms,
        ).where(c.project_id.in_(ids))
    ).all()
    return {
        int(r[0]): CountersRow(
            project_id=int(r[0]),
            counts=Counts(*(int(v) for v in r[1:8])),
            marks=Marks(int(r[8]), int(r[9]), int(r[10])),
            changes=int(r[11]),
            counted_at=r[12],
            duration_ms=int(r[13]),
        )
        for r in rows
    }


def note_project_changed(conn: Connection, project_id: int) -> None:
    """Mark the project's counters behind after an edit that changes them without a new
    answer or item (one keyed update, in the edit's transaction)."""
    conn.execute(
        update(t.ProjectCounters)
        .where(t.ProjectCounters.project_id == project_id)
        .values(changes=t.ProjectCounters.changes + 1)
    )


_NOTE_ITEM = text(
    "UPDATE project_counters SET changes = changes + 1 "
    "WHERE project_id = (SELECT project_id FROM items WHERE id = :item_id)"
)


def note_item_changed(conn: Connection, item_id: int) -> None:
    """:func:`note_project_changed` for the item's project."""
    conn.execute(_NOTE_ITEM, {"item_id": item_id})


def active_project_ids(conn: Connection) -> list[int]:
    """Projects not archived (the periodic watch's list)."""
    return [
        int(v)
        for v in conn.execute(
            select(t.Project.id).where(t.Project.archived_at.is_(None)).order_by(t.Project.id)
        ).scalars()
    ]
