"""What the manager's dashboard reads, and what the snapshot job writes for it.

- ``consensus_workers``: per-worker numbers of a snapshot generation (written beside its
  ``consensus_items`` and deleted with them).
- ``answer_hours``: answers per project and hour, rolled up by the snapshot job from the
  answers after ``answer_rollup_marks`` (an index range over ``ix_answers_project_id_id``);
  the annotator loop writes nothing for it.
- The job's own reads over a whole project (item counts, answer durations, reviews per
  worker, a sample of answers with their presentations): once per refit, never per page.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, insert, select, text, update

from expertloop.domain import ReviewOutcome
from expertloop.store import tables as t
from expertloop.store.exports import _driver_batches

__all__ = [
    "ItemCounts",
    "WorkerRow",
    "answer_hours",
    "answers_since",
    "delete_worker_generations",
    "item_counts",
    "iter_answer_durations",
    "position_sample",
    "review_counts_by_worker",
    "roll_up_answers",
    "rollup_mark",
    "worker_rows",
    "write_worker_rows",
]


@dataclass(frozen=True, slots=True)
class WorkerRow:
    worker_id: int
    answers: int
    median_ms: int | None
    compared: int
    agreement: float | None
    reliability: float | None
    gold_answers: int
    gold_correct: int
    gold_mean: float | None
    gold_low: float | None
    gold_high: float | None
    reviews_decided: int
    reviews_accepted: int
    position_decisive: int
    position_first: int
    position_p: float | None


_WORKER_FIELDS = [f.name for f in fields(WorkerRow)]


def write_worker_rows(
    conn: Connection, project_id: int, include_gold: bool, generation: int,
    rows: Sequence[WorkerRow],
) -> None:
    if not rows:
        return
    conn.execute(
        insert(t.ConsensusWorker),
        [
            {"project_id": project_id, "include_gold": include_gold, "generation": generation,
             **{name: getattr(row, name) for name in _WORKER_FIELDS}}
            for row in rows
        ],
    )


def worker_rows(
    conn: Connection, project_id: int, include_gold: bool, generation: int
) -> list[tuple[WorkerRow, str]]:
    """A generation's per-worker rows with each worker's username, busiest first."""
    columns = [getattr(t.ConsensusWorker, name) for name in _WORKER_FIELDS]
    found = conn.execute(
        select(*columns, t.User.username)
        .join(t.User, t.User.id == t.ConsensusWorker.worker_id)
        .where(
            t.ConsensusWorker.project_id == project_id,
            t.ConsensusWorker.include_gold == include_gold,
            t.ConsensusWorker.generation == generation,
        )
        .order_by(t.ConsensusWorker.answers.desc(), t.ConsensusWorker.worker_id)
    ).all()
    return [(WorkerRow(*row[:-1]), row[-1]) for row in found]


def delete_worker_generations(
    conn: Connection, project_id: int, include_gold: bool, *,
    below: int | None = None, only: int | None = None,
) -> None:
    w = t.ConsensusWorker
    conn.execute(
        delete(w).where(
            w.project_id == project_id,
            w.include_gold == include_gold,
            w.generation < below if below is not None else w.generation == only,
        )
    )


@dataclass(frozen=True, slots=True)
class ItemCounts:
    items: int
    complete: int
    disabled: int
    gold: int
    remaining_answers: int  # answers still wanted by items in service


def item_counts(conn: Connection, project_id: int) -> ItemCounts:
    """One pass over the project's items (the snapshot job's, not a page's)."""
    row = conn.execute(
        text(
            "SELECT count(*), "
            "coalesce(sum(CASE WHEN n_answers >= target THEN 1 ELSE 0 END), 0), "
            "coalesce(sum(CASE WHEN disabled_at IS NOT NULL THEN 1 ELSE 0 END), 0), "
            "coalesce(sum(CASE WHEN gold IS NOT NULL AND CAST(gold AS TEXT) <> 'null' "
            "THEN 1 ELSE 0 END), 0), "
            "coalesce(sum(CASE WHEN disabled_at IS NULL AND n_answers < target "
            "THEN target - n_answers ELSE 0 END), 0) "
            "FROM items WHERE project_id = :p"
        ),
        {"p": project_id},
    ).one()
    return ItemCounts(*(int(v) for v in row))


def iter_answer_durations(conn: Connection, project_id: int) -> Iterator[list[tuple[Any, ...]]]:
    """``(worker_id, duration_ms)`` of every answer of the project, a batch at a time."""
    query = text("SELECT worker_id, duration_ms FROM answers WHERE project_id = :p")
    yield from _driver_batches(conn, query, {"p": project_id}, batch=50_000)


def review_counts_by_worker(conn: Connection, project_id: int) -> dict[int, tuple[int, int]]:
    """Per worker: reviews decided, and accepted (a fix is not an acceptance)."""
    rows = conn.execute(
        text(
            "SELECT a.worker_id, count(*), "
            f"sum(CASE WHEN r.outcome = '{ReviewOutcome.ACCEPTED}' THEN 1 ELSE 0 END) "
            "FROM reviews r JOIN answers a ON a.id = r.answer_id "
            "WHERE r.project_id = :p AND r.outcome IS NOT NULL GROUP BY a.worker_id"
        ),
        {"p": project_id},
    ).all()
    return {int(w): (int(n), int(acc)) for w, n, acc in rows}


def position_sample(
    conn: Connection, project_id: int, *, limit: int
) -> list[tuple[int, str, str | None]]:
    """The project's newest ``limit`` answers as ``(worker_id, value_json,
    presentation_json)``, for position bias (newest first, over the answers' index)."""
    rows = conn.execute(
        text(
            "SELECT a.worker_id, CAST(a.value AS TEXT), CAST(s.presentation AS TEXT) "
            "FROM answers a JOIN assignments s ON s.id = a.assignment_id "
            "WHERE a.project_id = :p ORDER BY a.id DESC LIMIT :n"
        ),
        {"p": project_id, "n": limit},
    ).all()
    return [(int(w), v, p) for w, v, p in rows]


def _hour(value: Any) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(minute=0, second=0, microsecond=0)


def roll_up_answers(
    conn: Connection, project_id: int, *, upto: int, now: datetime, items_complete: int | None
) -> int:
    """Add the answers after the project's mark (up to answer id ``upto``) to their hours,
    move the mark, and record ``items_complete`` on the current hour. Returns the answers
    added. Two refreshes racing move the mark once: the second finds it moved and adds
    nothing."""
    mark = conn.execute(
        select(t.AnswerRollupMark.last_answer_id).where(
            t.AnswerRollupMark.project_id == project_id
        )
    ).scalar()
    start = int(mark) if mark is not None else 0
    added = 0
    if upto > start:
        if mark is None:
            conn.execute(
                insert(t.AnswerRollupMark).values(project_id=project_id, last_answer_id=upto)
            )
        else:
            moved = conn.execute(
                update(t.AnswerRollupMark)
                .where(
                    t.AnswerRollupMark.project_id == project_id,
                    t.AnswerRollupMark.last_answer_id == start,
                )
                .values(last_answer_id=upto)
            ).rowcount
            if not moved:
                return 0
        bucket = (
            "date_trunc('hour', created_at)"
            if conn.dialect.name == "postgresql"
            else "strftime('%Y-%m-%d %H:00:00', created_at)"
        )
        rows = conn.execute(
            text(
                f"SELECT {bucket}, count(*), coalesce(sum(duration_ms), 0) FROM answers "
                "WHERE project_id = :p AND id > :start AND id <= :upto GROUP BY 1"
            ),
            {"p": project_id, "start": start, "upto": upto},
        ).all()
        for hour, n, ms in rows:
            _add_hour(conn, project_id, _hour(hour), answers=int(n), duration_ms=int(ms))
            added += int(n)
    if items_complete is not None:
        _add_hour(conn, project_id, _hour(now), answers=0, duration_ms=0)
        conn.execute(
            update(t.AnswerHour)
            .where(t.AnswerHour.project_id == project_id, t.AnswerHour.hour == _hour(now))
            .values(items_complete=items_complete)
        )
    return added


def _add_hour(
    conn: Connection, project_id: int, hour: datetime, *, answers: int, duration_ms: int
) -> None:
    h = t.AnswerHour
    changed = conn.execute(
        update(h)
        .where(h.project_id == project_id, h.hour == hour)
        .values(answers=h.answers + answers, duration_ms=h.duration_ms + duration_ms)
    ).rowcount
    if not changed:
        conn.execute(
            insert(h).values(
                project_id=project_id, hour=hour, answers=answers, duration_ms=duration_ms
            )
        )


def answer_hours(
    conn: Connection, project_id: int, *, since: datetime
) -> list[tuple[datetime, int, int | None]]:
    """``(hour, answers, items_complete)`` of the project's hours from ``since`` on."""
    h = t.AnswerHour
    rows = conn.execute(
        select(h.hour, h.answers, h.items_complete)
        .where(h.project_id == project_id, h.hour >= since)
        .order_by(h.hour)
    ).all()
    return [(r[0], int(r[1]), None if r[2] is None else int(r[2])) for r in rows]


def answers_since(conn: Connection, project_id: int, after_answer_id: int, *, cap: int) -> int:
    """Answers stored after ``after_answer_id``, counted over the answers' index up to
    ``cap`` (a page never counts more)."""
    return int(
        conn.execute(
            text(
                "SELECT count(*) FROM (SELECT 1 FROM answers WHERE project_id = :p "
                "AND id > :after LIMIT :cap) x"
            ),
            {"p": project_id, "after": after_answer_id, "cap": cap},
        ).scalar_one()
    )


def rollup_mark(conn: Connection, project_id: int) -> int:
    mark = conn.execute(
        select(t.AnswerRollupMark.last_answer_id).where(
            t.AnswerRollupMark.project_id == project_id
        )
    ).scalar()
    return int(mark or 0)

