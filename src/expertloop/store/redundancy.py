"""Adaptive redundancy's rows: a project's settings and the item targets that follow the
answers (see ``services/redundancy.py``); the fitted worker model's rows are in
:mod:`expertloop.store.redundancy_models`, re-exported here.

Promise 2 with targets that move: :func:`retarget_item` changes an item's target and its
open slots in one statement on the item's row, never below the answers plus live leases it
has (``target - open_slots``), so a claim that took a slot keeps it and no claim can take
a slot the new target does not have. The row lock it takes orders it with every claim.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, insert, select, text, update

from expertloop.store import tables as t
from expertloop.store.dialects import ordered_columns
from expertloop.store.driver import DriverStatement
from expertloop.store.redundancy_models import (
    ModelRow,
    drop_model_judges,
    iter_judge_votes,
    iter_votes_source,
    load_model,
    newest_answer_id,
    reliability_of,
    save_model,
    set_fit_duration,
    stale_models,
    worker_reliability,
)

__all__ = [
    "ItemAnswers",
    "ModelRow",
    "RedundancyRow",
    "adaptive_items",
    "clear_due",
    "collecting_items",
    "delete_settings",
    "drop_model_judges",
    "due_items",
    "due_projects",
    "item_answers",
    "iter_judge_votes",
    "iter_votes_source",
    "load_model",
    "load_settings",
    "mark_due",
    "newest_answer_id",
    "raise_new_targets",
    "reliability_of",
    "retarget_after_refit",
    "retarget_item",
    "save_model",
    "save_settings",
    "set_fit_duration",
    "stale_models",
    "worker_reliability",
]


@dataclass(frozen=True, slots=True)
class RedundancyRow:
    project_id: int
    min_answers: int
    max_answers: int
    target_confidence: float
    updated_at: datetime
    audit_share: float = 0.0


def load_settings(conn: Connection, project_id: int) -> RedundancyRow | None:
    row = conn.execute(
        select(
            t.ProjectRedundancy.project_id,
            t.ProjectRedundancy.min_answers,
            t.ProjectRedundancy.max_answers,
            t.ProjectRedundancy.target_confidence,
            t.ProjectRedundancy.updated_at,
            t.ProjectRedundancy.audit_share,
        ).where(t.ProjectRedundancy.project_id == project_id)
    ).first()
    return None if row is None else RedundancyRow(*row)


def save_settings(conn: Connection, row: RedundancyRow) -> None:
    conn.execute(
        delete(t.ProjectRedundancy).where(t.ProjectRedundancy.project_id == row.project_id)
    )
    conn.execute(
        insert(t.ProjectRedundancy).values(
            project_id=row.project_id, min_answers=row.min_answers,
            max_answers=row.max_answers, target_confidence=row.target_confidence,
            updated_at=row.updated_at, audit_share=row.audit_share,
        )
    )


def delete_settings(conn: Connection, project_id: int) -> bool:
    result = conn.execute(
        delete(t.ProjectRedundancy).where(t.ProjectRedundancy.project_id == project_id)
    )
    return bool(result.rowcount)


# --- one item: its answers and its target ----------------------------------------------


@dataclass(frozen=True, slots=True)
class ItemAnswers:
    """An item as adaptive redundancy sees it, read under the item's lock, with its
    project's settings and fitted model (``None``: none) and, per answer, the worker's
    confusion matrix in that model (``None``: the fit has not seen the worker)."""

    item_id: int
    project_id: int
    gold: bool
    disabled: bool
    n_answers: int
    target: int
    open_slots: int
    answers: list[tuple[int, dict[str, Any]]]  # (worker id, canonical value)
    settings: RedundancyRow | None = None
    model: ModelRow | None = None
    confusion: dict[int, list[list[float]]] | None = None
    # The events its target has not followed yet (``items.retarget_due``), and the sure
    # verdicts of model judges on it: (judge name, value in canonical answer terms).
    due: int = 0
    verdicts: list[tuple[str, dict[str, Any]]] | None = None


# One statement locks the item and reads it with its project's settings and model; one
# more reads its answers with their workers' matrices: the work after each answer is these
# two reads and the update, on an index each.
_ITEM = (
    "SELECT i.id, i.project_id, i.gold IS NOT NULL, i.disabled_at IS NOT NULL, i.n_answers, "
    "i.target, i.open_slots, r.min_answers, r.max_answers, r.target_confidence, "
    "r.updated_at, m.classes, m.class_prior, m.default_confusion, m.answers, "
    "m.last_answer_id, m.fitted_at, m.duration_ms, m.judges, i.retarget_due, "
    "r.audit_share FROM items i LEFT JOIN project_redundancy r ON r.project_id = i.project_id "
    "LEFT JOIN redundancy_models m ON m.project_id = i.project_id WHERE i.id = :item_id"
)
# Every column named, in order, so SQLite matches rows by position (``ordered_columns``).
_ITEM_COLUMNS = (
    "id project_id gold disabled n_answers target open_slots min_answers max_answers "
    "target_confidence updated_at classes class_prior default_confusion answers "
    "last_answer_id fitted_at duration_ms judges retarget_due audit_share"
)
_JSON_COLUMNS = {
    "classes": t.Json, "class_prior": t.Json, "default_confusion": t.Json,
    "judges": t.NullableJson,
}
_ITEM_LOCKED = {
    "postgresql": ordered_columns(
        text(_ITEM + " FOR NO KEY UPDATE OF i"), _ITEM_COLUMNS, **_JSON_COLUMNS
    ),
    "sqlite": ordered_columns(text(_ITEM), _ITEM_COLUMNS, **_JSON_COLUMNS),
}
_ITEM_UNLOCKED = ordered_columns(text(_ITEM), _ITEM_COLUMNS, **_JSON_COLUMNS)
# PostgreSQL, the step after each answer: the item, its answers with their workers' matrices
# and its sure verdicts in one statement (one snapshot), run on the driver's cursor.
_PG_ITEM_WITH_ANSWERS = DriverStatement(
    text(
        _ITEM.replace(
            " FROM items i",
            ", (SELECT json_agg(json_build_array(a.worker_id, a.value, w.confusion) "
            "ORDER BY a.id) FROM answers a LEFT JOIN worker_reliability w "
            "ON w.project_id = a.project_id AND w.worker_id = a.worker_id "
            "WHERE a.item_id = i.id), "
            "(SELECT json_agg(json_build_array(v.judge, v.value) ORDER BY v.judge) "
            "FROM llm_verdicts v WHERE v.item_id = i.id AND NOT v.unsure "
            "AND v.value IS NOT NULL) FROM items i",
            1,
        )
    )
)
# The item's answers with their workers' matrices, then the judges' sure verdicts on it
# (worker NULL): one statement.
_ANSWERS = ordered_columns(
    text(
        "SELECT a.id, a.worker_id, NULL AS judge, a.value, w.confusion FROM answers a "
        "LEFT JOIN worker_reliability w ON w.project_id = a.project_id "
        "AND w.worker_id = a.worker_id WHERE a.item_id = :item_id "
        "UNION ALL SELECT v.id, NULL, v.judge, v.value, NULL FROM llm_verdicts v "
        "WHERE v.item_id = :item_id AND NOT v.unsure AND v.value IS NOT NULL "
        "ORDER BY 3 NULLS FIRST, 1"
    ),
    "id worker_id judge value confusion",
    value=t.Json, confusion=t.NullableJson,
)


def _settings_of(row: Any) -> RedundancyRow | None:
    """The project's settings in a row of ``_ITEM`` (``None``: not adaptive)."""
    if row[7] is None:
        return None
    return RedundancyRow(row[1], row[7], row[8], row[9], row[10], row[20])


def item_answers(conn: Connection, item_id: int, *, lock: bool = True) -> ItemAnswers | None:
    """Read the item with its answers and verdicts; with ``lock`` (the jobs), lock it first
    (PostgreSQL; SQLite's write transaction excludes other writers), so the answers read
    include every answer committed before the lock. Without (the step after an answer, two
    autocommit reads on PostgreSQL), :func:`retarget_item` with ``seen_due`` applies the
    result only if no event reached the item since: the later of two answers' steps reads
    both answers, as its own was committed before it read."""
    postgres = conn.dialect.name == "postgresql"
    if not lock and postgres:
        return _pg_item_with_answers(conn, item_id)
    if lock:
        row = conn.execute(
            _ITEM_LOCKED["postgresql" if postgres else "sqlite"], {"item_id": item_id}
        ).first()
    else:
        row = conn.execute(_ITEM_UNLOCKED, {"item_id": item_id}).first()
    if row is None:
        return None
    settings = _settings_of(row)
    model = None if row[11] is None else ModelRow(row[1], *row[11:19])
    answers: list[tuple[int, dict[str, Any]]] = []
    verdicts: list[tuple[str, dict[str, Any]]] = []
    confusion: dict[int, list[list[float]]] = {}
    for _, worker, judge, value, matrix in conn.execute(_ANSWERS, {"item_id": item_id}):
        if judge is not None:
            verdicts.append((judge, value))
            continue
        answers.append((worker, value))
        if matrix is not None:
            confusion[worker] = matrix
    return ItemAnswers(
        row[0], row[1], bool(row[2]), bool(row[3]), row[4], row[5], row[6], answers,
        settings, model, confusion, int(row[19] or 0), verdicts,
    )


# ``target - open_slots`` is the answers plus live leases (the invariant of items): the new
# target never goes below it. Every right-hand side reads the row as it was.
# With ``seen`` (the step after an answer, which read without a lock) the update applies only
# if no answer, verdict or refit reached the item since it was read (``retarget_due`` as
# read): otherwise that event's own step, or the sweep, re-targets it on all the evidence.
_RETARGET_SQL = (
    "UPDATE items SET target = {greatest}(:want, target - open_slots), "
    "open_slots = {greatest}(:want, target - open_slots) - (target - open_slots), "
    "confidence = :confidence, uncertainty = :uncertainty, retarget_due = 0 "
    "WHERE id = :item_id AND disabled_at IS NULL{guard} RETURNING target"
)
_RETARGET = {
    (dialect, guarded): ordered_columns(
        text(
            _RETARGET_SQL.format(
                greatest="GREATEST" if dialect == "postgresql" else "MAX",
                guard=" AND retarget_due = :seen" if guarded else "",
            )
        ),
        "target",
    )
    for dialect in ("postgresql", "sqlite")
    for guarded in (False, True)
}


def _pg_item_with_answers(conn: Connection, item_id: int) -> ItemAnswers | None:
    row = _PG_ITEM_WITH_ANSWERS.first(conn, {"item_id": item_id})
    if row is None:
        return None
    settings = _settings_of(row)
    model = None if row[11] is None else ModelRow(row[1], *row[11:19])
    answers: list[tuple[int, dict[str, Any]]] = []
    confusion: dict[int, list[list[float]]] = {}
    for worker, value, matrix in row[21] or []:
        answers.append((worker, value))
        if matrix is not None:
            confusion[worker] = matrix
    verdicts = [(judge, value) for judge, value in row[22] or []]
    return ItemAnswers(
        row[0], row[1], bool(row[2]), bool(row[3]), row[4], row[5], row[6], answers,
        settings, model, confusion, int(row[19] or 0), verdicts,
    )


_PG_RETARGET_GUARDED = DriverStatement(_RETARGET["postgresql", True])


def retarget_item(
    conn: Connection, item_id: int, *, want: int, confidence: float | None,
    seen_due: int | None = None,
) -> int | None:
    """Set the item's target to ``want``, or to its answers plus live leases if that is
    more, with its confidence, and mark it up to date; the target set (``None``: the item
    is out of service, or, with ``seen_due``, an event reached it since it was read)."""
    dialect = "postgresql" if conn.dialect.name == "postgresql" else "sqlite"
    params = {
        "item_id": item_id,
        "want": want,
        "confidence": confidence,
        "uncertainty": 0.0 if confidence is None else 1.0 - confidence,
    }
    if seen_due is not None:
        params["seen"] = seen_due
        if dialect == "postgresql":
            row = _PG_RETARGET_GUARDED.first(conn, params)
            return None if row is None else int(row[0])
    return conn.execute(_RETARGET[dialect, seen_due is not None], params).scalar()


def clear_due(conn: Connection, item_id: int) -> None:
    """The item needs no re-target (gold, out of service, no classes): not due any more."""
    conn.execute(update(t.Item).where(t.Item.id == item_id).values(retarget_due=0))


def mark_due(conn: Connection, item_ids: Sequence[int]) -> int:
    """One more event the targets of these items (those without gold, in adaptive
    projects) must follow: a judge's verdict arrived."""
    if not item_ids:
        return 0
    result = conn.execute(
        update(t.Item)
        .where(
            t.Item.id.in_(sorted(set(item_ids))),
            t.Item.gold.is_(None),
            select(t.ProjectRedundancy.project_id)
            .where(t.ProjectRedundancy.project_id == t.Item.project_id)
            .exists(),
        )
        .values(retarget_due=t.Item.retarget_due + 1)
    )
    return int(result.rowcount or 0)


def raise_new_targets(conn: Connection, item_ids: Sequence[int], target: int) -> int:
    """Raise the target of these items without gold to ``target`` (new items of an
    adaptive project that its audit sample picks), with their open slots; never lowers a
    target. One statement per 5000 ids; the number of items raised."""
    raised = 0
    chosen = sorted(set(item_ids))
    for start in range(0, len(chosen), 5000):
        result = conn.execute(
            update(t.Item)
            .where(
                t.Item.id.in_(chosen[start : start + 5000]),
                t.Item.gold.is_(None),
                t.Item.target < target,
            )
            .values(target=target, open_slots=t.Item.open_slots + (target - t.Item.target))
        )
        raised += int(result.rowcount or 0)
    return raised


def collecting_items(
    conn: Connection, project_id: int
) -> list[tuple[int, int, int, float | None]]:
    """(id, answers, target, confidence) of the project's items still collecting that have
    answers (open slots, in service, without gold; the claim-order index finds them): what
    a new worker model may stop or extend."""
    rows = conn.execute(
        select(t.Item.id, t.Item.n_answers, t.Item.target, t.Item.confidence).where(
            t.Item.project_id == project_id,
            t.Item.open_slots > 0,
            t.Item.disabled_at.is_(None),
            t.Item.gold.is_(None),
            t.Item.n_answers > 0,
        )
    )
    return [(r[0], r[1], r[2], r[3]) for r in rows]


_REFIT_SQL = (
    "UPDATE items SET target = {greatest}(:want, target - open_slots), "
    "open_slots = {greatest}(:want, target - open_slots) - (target - open_slots), "
    "confidence = :confidence, uncertainty = :uncertainty, "
    # A step still due may have read the old model: keep it from writing (its guard
    # fails) and leave the item to the sweep, which reads the new one.
    "retarget_due = CASE WHEN retarget_due > 0 THEN retarget_due + 1 ELSE 0 END "
    "WHERE id = :item_id AND n_answers = :n AND disabled_at IS NULL RETURNING target"
)
_REFIT = {
    dialect: text(_REFIT_SQL.format(greatest="GREATEST" if dialect == "postgresql" else "MAX"))
    for dialect in ("postgresql", "sqlite")
}


def retarget_after_refit(
    conn: Connection, item_id: int, *, n_answers: int, want: int, confidence: float
) -> bool:
    """Set the target a new model gives an item read with ``n_answers`` answers, if it
    still has that many (an item still due stays due, one more, so a step that read the
    old model cannot overwrite this); ``False`` when it changed, and the item is marked
    due instead."""
    dialect = "postgresql" if conn.dialect.name == "postgresql" else "sqlite"
    done = conn.execute(
        _REFIT[dialect],
        {"item_id": item_id, "n": n_answers, "want": want, "confidence": confidence,
         "uncertainty": 1.0 - confidence},
    ).scalar()
    if done is None:
        mark_due(conn, [item_id])
        return False
    return True


def due_items(conn: Connection, project_id: int, *, after_id: int, limit: int) -> list[int]:
    """The project's items whose target has not followed every event yet, by id."""
    return list(
        conn.execute(
            select(t.Item.id)
            .where(t.Item.project_id == project_id, t.Item.retarget_due > 0,
                   t.Item.id > after_id)
            .order_by(t.Item.id)
            .limit(limit)
        ).scalars()
    )


def due_projects(conn: Connection) -> list[int]:
    """The projects with items waiting for a re-target (read from the partial index)."""
    return list(
        conn.execute(
            select(t.Item.project_id).where(t.Item.retarget_due > 0).distinct()
            .order_by(t.Item.project_id)
        ).scalars()
    )


def adaptive_items(
    conn: Connection, project_id: int, *, after_id: int, limit: int
) -> list[int]:
    """The project's in-service items without gold, by id after ``after_id``: what a change
    of settings or a new model re-targets, a batch at a time."""
    return list(
        conn.execute(
            select(t.Item.id)
            .where(
                t.Item.project_id == project_id,
                t.Item.id > after_id,
                t.Item.gold.is_(None),
                t.Item.disabled_at.is_(None),
            )
            .order_by(t.Item.id)
            .limit(limit)
        ).scalars()
    )
