"""Adaptive redundancy's rows: a project's settings, its fitted worker model, and the
item targets that follow the answers (see ``services/redundancy.py``).

Promise 2 with targets that move: :func:`retarget_item` changes an item's target and its
open slots in one statement on the item's row, never below the answers plus live leases it
has (``target - open_slots``), so a claim that took a slot keeps it and no claim can take
a slot the new target does not have. The row lock it takes orders it with every claim.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, insert, select, text

from expertloop.store import tables as t

__all__ = [
    "ItemAnswers",
    "ModelRow",
    "RedundancyRow",
    "adaptive_items",
    "delete_settings",
    "item_answers",
    "iter_votes_source",
    "load_model",
    "load_settings",
    "newest_answer_id",
    "reliability_of",
    "retarget_item",
    "save_model",
    "save_settings",
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


def load_settings(conn: Connection, project_id: int) -> RedundancyRow | None:
    row = conn.execute(
        select(
            t.ProjectRedundancy.project_id,
            t.ProjectRedundancy.min_answers,
            t.ProjectRedundancy.max_answers,
            t.ProjectRedundancy.target_confidence,
            t.ProjectRedundancy.updated_at,
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
            updated_at=row.updated_at,
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


# One statement locks the item and reads it with its project's settings and model; one
# more reads its answers with their workers' matrices: the work after each answer is these
# two reads and the update, on an index each.
_ITEM = (
    "SELECT i.id, i.project_id, i.gold IS NOT NULL, i.disabled_at IS NOT NULL, i.n_answers, "
    "i.target, i.open_slots, r.min_answers, r.max_answers, r.target_confidence, "
    "r.updated_at, m.classes, m.class_prior, m.default_confusion, m.answers, "
    "m.last_answer_id, m.fitted_at, m.duration_ms "
    "FROM items i LEFT JOIN project_redundancy r ON r.project_id = i.project_id "
    "LEFT JOIN redundancy_models m ON m.project_id = i.project_id WHERE i.id = :item_id"
)
_ITEM_LOCKED = {
    "postgresql": text(_ITEM + " FOR NO KEY UPDATE OF i").columns(
        classes=t.Json, class_prior=t.Json, default_confusion=t.Json
    ),
    "sqlite": text(_ITEM).columns(classes=t.Json, class_prior=t.Json, default_confusion=t.Json),
}
_ANSWERS = text(
    "SELECT a.worker_id, a.value, w.confusion FROM answers a "
    "LEFT JOIN worker_reliability w ON w.project_id = a.project_id "
    "AND w.worker_id = a.worker_id WHERE a.item_id = :item_id ORDER BY a.id"
).columns(value=t.Json, confusion=t.Json)


def item_answers(conn: Connection, item_id: int) -> ItemAnswers | None:
    """Lock the item (PostgreSQL; SQLite's write transaction excludes other writers) and
    read it with its answers. Locked first, so the answers read include every answer
    committed before the lock: of two answers' updates, the later sees both."""
    dialect = "postgresql" if conn.dialect.name == "postgresql" else "sqlite"
    row = conn.execute(_ITEM_LOCKED[dialect], {"item_id": item_id}).first()
    if row is None:
        return None
    settings = None if row[7] is None else RedundancyRow(row[1], *row[7:11])
    model = None if row[11] is None else ModelRow(row[1], *row[11:18])
    answers: list[tuple[int, dict[str, Any]]] = []
    confusion: dict[int, list[list[float]]] = {}
    for worker, value, matrix in conn.execute(_ANSWERS, {"item_id": item_id}):
        answers.append((worker, value))
        if matrix is not None:
            confusion[worker] = matrix
    return ItemAnswers(
        row[0], row[1], bool(row[2]), bool(row[3]), row[4], row[5], row[6], answers,
        settings, model, confusion,
    )


# ``target - open_slots`` is the answers plus live leases (the invariant of items): the new
# target never goes below it. Every right-hand side reads the row as it was.
_RETARGET = {
    "postgresql": text(
        "UPDATE items SET target = GREATEST(:want, target - open_slots), "
        "open_slots = GREATEST(:want, target - open_slots) - (target - open_slots), "
        "confidence = :confidence, uncertainty = :uncertainty "
        "WHERE id = :item_id AND disabled_at IS NULL RETURNING target"
    ),
    "sqlite": text(
        "UPDATE items SET target = MAX(:want, target - open_slots), "
        "open_slots = MAX(:want, target - open_slots) - (target - open_slots), "
        "confidence = :confidence, uncertainty = :uncertainty "
        "WHERE id = :item_id AND disabled_at IS NULL RETURNING target"
    ),
}


def retarget_item(
    conn: Connection, item_id: int, *, want: int, confidence: float | None
) -> int | None:
    """Set the item's target to ``want``, or to its answers plus live leases if that is
    more, with its confidence; the target set (``None``: the item is out of service)."""
    statement = _RETARGET["postgresql" if conn.dialect.name == "postgresql" else "sqlite"]
    return conn.execute(
        statement,
        {
            "item_id": item_id,
            "want": want,
            "confidence": confidence,
            "uncertainty": 0.0 if confidence is None else 1.0 - confidence,
        },
    ).scalar()


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


# --- the worker model ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ModelRow:
    project_id: int
    classes: list[str]
    class_prior: list[float]
    default_confusion: list[list[float]]
    answers: int
    last_answer_id: int
    fitted_at: datetime
    duration_ms: int


def load_model(conn: Connection, project_id: int) -> ModelRow | None:
    row = conn.execute(
        select(
            t.RedundancyModel.project_id, t.RedundancyModel.classes,
            t.RedundancyModel.class_prior, t.RedundancyModel.default_confusion,
            t.RedundancyModel.answers, t.RedundancyModel.last_answer_id,
            t.RedundancyModel.fitted_at, t.RedundancyModel.duration_ms,
        ).where(t.RedundancyModel.project_id == project_id)
    ).first()
    return None if row is None else ModelRow(*row)


def reliability_of(
    conn: Connection, project_id: int, worker_ids: Sequence[int]
) -> dict[int, list[list[float]]]:
    """The confusion matrices of these workers (those the last fit saw)."""
    if not worker_ids:
        return {}
    rows = conn.execute(
        select(t.WorkerReliability.worker_id, t.WorkerReliability.confusion).where(
            t.WorkerReliability.project_id == project_id,
            t.WorkerReliability.worker_id.in_(sorted(set(worker_ids))),
        )
    )
    return {r.worker_id: r.confusion for r in rows}


def worker_reliability(conn: Connection, project_id: int) -> list[tuple[int, str, float, int]]:
    """(worker id, username, accuracy, answers) of every worker of the model, best first."""
    rows = conn.execute(
        select(
            t.WorkerReliability.worker_id, t.User.username, t.WorkerReliability.accuracy,
            t.WorkerReliability.answers,
        )
        .join(t.User, t.User.id == t.WorkerReliability.worker_id)
        .where(t.WorkerReliability.project_id == project_id)
        .order_by(t.WorkerReliability.accuracy.desc(), t.WorkerReliability.worker_id)
    )
    return [(r[0], r[1], float(r[2]), int(r[3])) for r in rows]


def save_model(
    conn: Connection,
    model: ModelRow,
    workers: Sequence[tuple[int, list[list[float]], float, int]],
) -> None:
    """Replace the project's model and its workers' rows (worker id, confusion, accuracy,
    answers): idempotent."""
    project_id = model.project_id
    conn.execute(
        delete(t.WorkerReliability).where(t.WorkerReliability.project_id == project_id)
    )
    conn.execute(delete(t.RedundancyModel).where(t.RedundancyModel.project_id == project_id))
    conn.execute(
        insert(t.RedundancyModel).values(
            project_id=project_id, classes=model.classes, class_prior=model.class_prior,
            default_confusion=model.default_confusion, answers=model.answers,
            last_answer_id=model.last_answer_id, fitted_at=model.fitted_at,
            duration_ms=model.duration_ms,
        )
    )
    rows = [
        {"project_id": project_id, "worker_id": w, "confusion": c, "accuracy": a, "answers": n}
        for w, c, a, n in workers
    ]
    for start in range(0, len(rows), 1000):
        conn.execute(insert(t.WorkerReliability), rows[start : start + 1000])


def newest_answer_id(conn: Connection, project_id: int) -> int:
    found = conn.execute(
        select(t.Answer.id)
        .where(t.Answer.project_id == project_id)
        .order_by(t.Answer.id.desc())
        .limit(1)
    ).scalar()
    return int(found or 0)


def stale_models(conn: Connection) -> list[tuple[int, int | None, datetime | None, int]]:
    """Every adaptive project: (project id, its model's last answer id or ``None``, when it
    was fitted, how long the fit took in ms)."""
    rows = conn.execute(
        select(
            t.ProjectRedundancy.project_id, t.RedundancyModel.last_answer_id,
            t.RedundancyModel.fitted_at, t.RedundancyModel.duration_ms,
        )
        .outerjoin(
            t.RedundancyModel, t.RedundancyModel.project_id == t.ProjectRedundancy.project_id
        )
        .order_by(t.ProjectRedundancy.project_id)
    )
    return [(r[0], r[1], r[2], int(r[3] or 0)) for r in rows]


def iter_votes_source(conn: Connection, project_id: int) -> Iterator[tuple[int, int, int, Any]]:
    """(answer id, worker id, item id, canonical value) of every answer of the project on an
    item without gold, in id order, streamed: what the model is fitted on."""
    query = (
        select(t.Answer.id, t.Answer.worker_id, t.Answer.item_id, t.Answer.value)
        .join(t.Item, t.Item.id == t.Answer.item_id)
        .where(t.Answer.project_id == project_id, t.Item.gold.is_(None))
        .order_by(t.Answer.id)
        .execution_options(yield_per=2000)
    )
    for row in conn.execute(query):
        yield row[0], row[1], row[2], row[3]
