"""Adaptive redundancy's fitted worker model: its rows (``redundancy_models``,
``worker_reliability``), what a fit reads (the votes and the judges' verdicts), and taking a
judge out of it (see ``services/redundancy_jobs.py``). Re-exported by
:mod:`expertloop.store.redundancy`."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from expertloop.store import tables as t

__all__ = [
    "ModelRow",
    "drop_model_judges",
    "iter_judge_votes",
    "iter_votes_source",
    "load_model",
    "newest_answer_id",
    "reliability_of",
    "save_model",
    "set_fit_duration",
    "stale_models",
    "worker_reliability",
]


def drop_model_judges(conn: Connection, project_id: int, names: Sequence[str]) -> list[int]:
    """Take these judges out of the project's fitted model (their matrices weigh no more in
    any item's confidence) and return the items with a sure verdict of theirs, whose
    targets must follow."""
    if not names:
        return []
    fitted = conn.execute(
        select(t.RedundancyModel.judges).where(t.RedundancyModel.project_id == project_id)
    ).scalar()
    if fitted:
        kept = {k: v for k, v in fitted.items() if k not in set(names)}
        if len(kept) != len(fitted):
            conn.execute(
                update(t.RedundancyModel)
                .where(t.RedundancyModel.project_id == project_id)
                .values(judges=kept or None)
            )
    return list(
        conn.execute(
            select(t.LlmVerdict.item_id)
            .where(
                t.LlmVerdict.project_id == project_id,
                t.LlmVerdict.judge.in_(sorted(set(names))),
                t.LlmVerdict.unsure.is_(False),
                t.LlmVerdict.value.is_not(None),
            )
            .distinct()
            .order_by(t.LlmVerdict.item_id)
        ).scalars()
    )


def set_fit_duration(conn: Connection, project_id: int, duration_ms: int) -> None:
    """How long the fit and what followed it took (paces the next fit)."""
    conn.execute(
        update(t.RedundancyModel)
        .where(t.RedundancyModel.project_id == project_id)
        .values(duration_ms=duration_ms)
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
    judges: dict[str, Any] | None = None


def load_model(conn: Connection, project_id: int) -> ModelRow | None:
    row = conn.execute(
        select(
            t.RedundancyModel.project_id, t.RedundancyModel.classes,
            t.RedundancyModel.class_prior, t.RedundancyModel.default_confusion,
            t.RedundancyModel.answers, t.RedundancyModel.last_answer_id,
            t.RedundancyModel.fitted_at, t.RedundancyModel.duration_ms,
            t.RedundancyModel.judges,
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
            duration_ms=model.duration_ms, judges=model.judges,
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


def iter_votes_source(
    conn: Connection, project_id: int, *, gold_items: bool = False
) -> Iterator[tuple[int, int, int, Any]]:
    """(answer id, worker id, item id, canonical value) of every answer of the project on an
    item without gold, in id order, streamed: what the model is fitted on. ``gold_items``:
    on every item, gold or not (what ``project redundancy replay`` replays)."""
    query = (
        select(t.Answer.id, t.Answer.worker_id, t.Answer.item_id, t.Answer.value)
        .join(t.Item, t.Item.id == t.Answer.item_id)
        .where(t.Answer.project_id == project_id)
        .order_by(t.Answer.id)
        .execution_options(yield_per=2000)
    )
    if not gold_items:
        query = query.where(t.Item.gold.is_(None))
    for row in conn.execute(query):
        yield row[0], row[1], row[2], row[3]


def iter_judge_votes(
    conn: Connection, project_id: int, judges: Sequence[str], *, gold: bool = False
) -> Iterator[tuple[str, int, Any, Any]]:
    """(judge, item id, value, the item's gold) of the sure verdicts of these judges on the
    project's items without gold (``gold=False``, the gold always ``None``: what triage fits
    the judges on) or with gold (``gold=True``: where a judge's agreement has gold as
    reference), in verdict order, streamed."""
    if not judges:
        return
    query = (
        select(t.LlmVerdict.judge, t.LlmVerdict.item_id, t.LlmVerdict.value, t.Item.gold)
        .join(t.Item, t.Item.id == t.LlmVerdict.item_id)
        .where(
            t.LlmVerdict.project_id == project_id,
            t.LlmVerdict.judge.in_(list(judges)),
            t.LlmVerdict.unsure.is_(False),
            t.Item.gold.is_not(None) if gold else t.Item.gold.is_(None),
        )
        .order_by(t.LlmVerdict.id)
        .execution_options(yield_per=2000)
    )
    for row in conn.execute(query):
        if row[2] is not None:
            yield row[0], row[1], row[2], row[3]
