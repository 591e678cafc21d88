"""The two passes of an export over the store, each streamed from a server-side cursor.

1. :func:`first_pass`: every answer that counts (see :class:`~expertloop.store.exports.
   ReviewScope`), as compact integer codes per channel; the consensus models are fitted on
   them (:mod:`expertloop.exports.consensus`).
2. :func:`item_records`: every answered item in id order, with its answers where needed
   (free-text types and ``raw``), a batch at a time, for the rows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import chain
from typing import Any

import numpy as np
from sqlalchemy import Connection

from expertloop.domain import Project, ReviewStatus
from expertloop.domain.safe_json import loads_stored
from expertloop.exports.consensus import ConsensusBuilder, ProjectConsensus
from expertloop.exports.rows import ItemRecord
from expertloop.services.clock import iso_utc
from expertloop.store import Database
from expertloop.store import exports as export_store
from expertloop.store.exports import ReviewScope
from expertloop.tasks import get_task_type

__all__ = ["AnswerTally", "Progress", "first_pass", "item_records"]

Progress = Callable[[int], None]


@dataclass
class AnswerTally:
    """The answers and workers in an export's scope (gold items left out unless included)."""

    gold_items: set[int]
    workers: set[int] = field(default_factory=set)
    answers: int = 0
    items: set[int] = field(default_factory=set)


def first_pass(
    db: Database,
    project: Project,
    *,
    include_gold: bool,
    reviews: ReviewScope,
    on_answers: Progress | None,
) -> tuple[ProjectConsensus, AnswerTally]:
    task = get_task_type(project.task_type)
    builder = ConsensusBuilder(task, project.config)
    with db.read() as conn:
        gold: dict[int, Any] = {}
        for item_id, text in export_store.iter_gold(conn, project.id):
            value = loads_stored(text) if text is not None else None
            if value is not None:
                gold[item_id] = value
        for item_id, value in gold.items():
            builder.add_gold(item_id, value)
        scope = AnswerTally(gold_items=set() if include_gold else set(gold))
        fields = builder.coded_fields()
        if fields is not None:
            _first_pass_codes(conn, project.id, builder, scope, fields, reviews, on_answers)
        else:
            loads = loads_stored
            add = builder.add
            for batch in export_store.iter_answer_batches(conn, project.id, scope=reviews):
                for item_id, worker_id, value in batch:
                    add(item_id, worker_id, loads(value))
                    if item_id not in scope.gold_items:
                        scope.workers.add(worker_id)
                        scope.answers += 1
                if on_answers is not None:
                    on_answers(len(batch))
    return builder.fit(stats_exclude=scope.gold_items), scope


def _first_pass_codes(
    conn: Connection,
    project_id: int,
    builder: ConsensusBuilder,
    scope: AnswerTally,
    fields: dict[str, tuple[tuple[str, ...], tuple[str | None, ...]]],
    reviews: ReviewScope,
    on_answers: Progress | None,
) -> None:
    """Pass 1 where every observation is one text field of the answer: the database
    extracts and codes the fields, numpy takes each batch of plain integer rows, and no
    answer is decoded in Python."""
    keys = list(fields)
    gold = np.fromiter(scope.gold_items, dtype=np.int64, count=len(scope.gold_items))
    for batch in export_store.iter_answer_code_batches(
        conn, project_id, [fields[k] for k in keys], scope=reviews
    ):
        width = 2 + len(keys)
        table = np.fromiter(
            chain.from_iterable(batch), dtype=np.int64, count=len(batch) * width
        ).reshape(len(batch), width)
        item_ids, worker_ids = table[:, 0], table[:, 1]
        builder.add_codes(
            item_ids, worker_ids, {key: table[:, 2 + n] for n, key in enumerate(keys)}
        )
        in_scope = ~np.isin(item_ids, gold) if len(gold) else None
        scoped = worker_ids if in_scope is None else worker_ids[in_scope]
        scope.workers.update(np.unique(scoped).tolist())
        scope.answers += len(scoped)
        if on_answers is not None:
            on_answers(len(batch))


def item_records(
    db: Database,
    project_id: int,
    *,
    include_gold: bool,
    with_answers: bool,
    reviews: ReviewScope,
    on_items: Progress | None,
) -> Iterator[list[ItemRecord]]:
    """Items in id order, a batch at a time; ``with_answers`` reads each item's answers too.

    An item's ``answers`` are those counted in ``reviews`` (a fix in place of the worker's
    answer) and ``n_answers`` their number; ``answer_rows`` (for ``raw``) keep every answer
    read, as the worker gave it, with its review.
    """
    loads = loads_stored
    with db.read() as conn:
        if not with_answers:
            for batch in export_store.iter_item_batches(
                conn, project_id, include_gold=include_gold, scope=reviews
            ):
                records = [
                    ItemRecord(item_id, external_id, loads(payload), n_answers, row, [], payload)
                    for row, (item_id, external_id, payload, n_answers) in enumerate(batch)
                ]
                if on_items is not None:
                    on_items(len(records))
                yield records
            return
        pending: ItemRecord | None = None
        for rows in export_store.iter_item_answer_batches(
            conn, project_id, include_gold=include_gold, scope=reviews
        ):
            records = []
            for row in rows:
                item_id, external_id, payload, _, answer_id, worker, value, ms, at = row[:9]
                if pending is None or pending.item_id != item_id:
                    if pending is not None:
                        records.append(pending)
                    pending = ItemRecord(item_id, external_id, loads(payload), 0, 0, [],
                                         payload)
                review = _review_columns(row[9:])
                if review["review"] != ReviewStatus.REJECTED:
                    fixed = review["fixed_answer"]
                    pending.answers.append(loads(fixed if fixed is not None else value))
                    pending.n_answers += 1
                pending.answer_rows.append(
                    {
                        "answer_id": answer_id,
                        "worker": worker,
                        "value_json": value,
                        "duration_ms": ms,
                        "created_at": at,
                        "review": review,
                    }
                )
            if records:
                for row_number, record in enumerate(records):
                    record.row = row_number
                if on_items is not None:
                    on_items(len(records))
                yield records
        if pending is not None:
            pending.row = 0
            if on_items is not None:
                on_items(1)
            yield [pending]


_NOT_QUEUED = {
    "review": None,
    "review_comment": None,
    "fixed_answer": None,
    "reviewer": None,
    "reviewed_at": None,
}


def _review_columns(columns: Sequence[Any]) -> dict[str, Any]:
    """An answer's review as the ``raw`` columns show it (``reviewer`` still the user id),
    from ``(review_id, outcome, comment, fixed_value_json, reviewer_id, decided_at)``:
    ``review`` is the outcome, ``"pending"`` while undecided, ``None`` for an answer never
    queued."""
    review_id, outcome, comment, fixed_json, reviewer, decided_at = columns
    if review_id is None:
        return _NOT_QUEUED
    if outcome is None:
        return {**_NOT_QUEUED, "review": ReviewStatus.PENDING.value}
    return {
        "review": outcome,
        "review_comment": comment,
        "fixed_answer": fixed_json,
        "reviewer": reviewer,
        "reviewed_at": None if decided_at is None else iso_utc(decided_at),
    }
