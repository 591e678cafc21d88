"""A worker's own work: their answers with review outcomes, rejection reasons and fixes, and
their own agreement with the consensus and accuracy on gold, never anyone else's.

Agreement is read from the project's consensus snapshot (kept by the ``consensus.refresh``
jobs, :mod:`expertloop.services.consensus`), never refitted here; both numbers are computed
over the worker's latest :data:`STATS_WINDOW` answers, so a page costs the same however
long a worker has worked. Only totals are shown: which answers disagreed, or which items
were gold, would tell a worker other workers' answers and the gold.
"""

from __future__ import annotations

import json
from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from expertloop.domain import Project, User
from expertloop.errors import InputInvalid
from expertloop.quality.workers import consensus_agreement, gold_accuracy
from expertloop.services.projects import load_project
from expertloop.store import Database
from expertloop.store import consensus as snapshot_store
from expertloop.store import my_work as my_store
from expertloop.tasks import TaskType, TaskValidationError, get_task_type

__all__ = [
    "MAX_PAGE",
    "STATS_WINDOW",
    "Agreement",
    "Change",
    "GoldScore",
    "MyAnswer",
    "MyStats",
    "my_answers",
    "my_stats",
    "primary_key",
]

MAX_PAGE = 100
STATS_WINDOW = 2000
_SUMMARY_CHARS = 160


@dataclass(frozen=True, slots=True)
class Change:
    """One field a reviewer's fix changed: its path in the answer, before and after."""

    field: str
    before: Any
    after: Any


@dataclass(frozen=True, slots=True)
class MyAnswer:
    """One of the worker's answers, in the terms they were shown."""

    id: int
    item_id: int
    external_id: str | None
    summary: str
    answer: dict[str, Any]
    duration_ms: int
    created_at: datetime
    # None (not reviewed), "pending", "accepted", "rejected" or "fixed".
    review: str | None
    review_comment: str
    fixed_answer: dict[str, Any] | None
    changes: list[Change]
    reviewed_at: datetime | None


@dataclass(frozen=True, slots=True)
class Agreement:
    compared: int
    agreed: int
    share: float
    computed_at: datetime


@dataclass(frozen=True, slots=True)
class GoldScore:
    answers: int
    correct: int
    accuracy: float
    lower: float
    upper: float


@dataclass(frozen=True, slots=True)
class MyStats:
    project_id: int
    answers: int
    reviews: dict[str, int]
    agreement: Agreement | None
    gold: GoldScore | None
    window: int


def _project(conn: Connection, actor: User, project_id: int) -> Project:
    return load_project(conn, actor=actor, project_id=project_id)


def my_answers(
    db: Database, *, actor: User, project_id: int, before_id: int | None = None, limit: int = 25
) -> list[MyAnswer]:
    """The caller's answers in the project, newest first; ``before_id`` pages back."""
    if not 1 <= limit <= MAX_PAGE:
        raise InputInvalid.on_field("limit", f"limit must be 1 to {MAX_PAGE}")
    with db.read() as conn:
        project = _project(conn, actor, project_id)
        rows = my_store.own_answers(
            conn, worker_id=actor.id, project_id=project_id, before_id=before_id, limit=limit
        )
    task = get_task_type(project.task_type)
    return [_my_answer(task, row) for row in rows]


def _my_answer(task: TaskType, row: my_store.OwnAnswer) -> MyAnswer:
    shown = _shown(task, row.value, row.presentation)
    fixed = None if row.fixed_value is None else _shown(task, row.fixed_value, row.presentation)
    try:
        payload = task.present(row.payload, row.presentation)
    except Exception:  # a stored payload the task type cannot show: no summary
        payload = {}
    review = "pending" if row.review_pending else row.review_outcome
    return MyAnswer(
        id=row.id,
        item_id=row.item_id,
        external_id=row.external_id,
        summary=_summary(payload),
        answer=shown,
        duration_ms=row.duration_ms,
        created_at=row.created_at,
        review=review,
        review_comment=row.review_comment if review not in (None, "pending") else "",
        fixed_answer=fixed,
        changes=[] if fixed is None else changes_between(shown, fixed),
        reviewed_at=row.decided_at,
    )


def _shown(task: TaskType, value: dict[str, Any], presentation: Any) -> dict[str, Any]:
    try:
        return task.to_shown(value, presentation)
    except Exception:  # shown as stored rather than failing the whole page
        return value


def _summary(payload: Any) -> str:
    """The first text of the item as the worker saw it, shortened."""
    text = _first_text(payload) or ""
    text = " ".join(text.split())
    return text if len(text) <= _SUMMARY_CHARS else text[: _SUMMARY_CHARS - 1] + "…"


def _first_text(value: Any) -> str | None:
    if isinstance(value, str):
        return value if value.strip() else None
    if isinstance(value, Mapping):
        preferred = [value[k] for k in ("content", "prompt", "text") if k in value]
        for child in [*preferred, *value.values()]:
            found = _first_text(child)
            if found:
                return found
    if isinstance(value, list):
        for child in value:
            found = _first_text(child)
            if found:
                return found
    return None


def _flat(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, Mapping) and value:
        out: dict[str, Any] = {}
        for key, child in value.items():
            out.update(_flat(child, f"{prefix}.{key}" if prefix else str(key)))
        return out
    return {prefix: value}


def changes_between(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[Change]:
    """The fields that differ between two answers (nested fields by dotted path), in the
    order of the answer's fields; empty texts count as missing."""
    old, new = _flat(before), _flat(after)
    changes = []
    for field in [*old, *(k for k in new if k not in old)]:
        a, b = old.get(field), new.get(field)
        if a in ("", None) and b in ("", None):
            continue
        if a != b:
            changes.append(Change(field, a, b))
    return changes


def my_stats(db: Database, *, actor: User, project_id: int) -> MyStats:
    """The caller's numbers in the project: answers, review outcomes, agreement with the
    consensus snapshot and gold accuracy (over their latest :data:`STATS_WINDOW` answers)."""
    with db.read() as conn:
        project = _project(conn, actor, project_id)
        count = my_store.answer_count(conn, worker_id=actor.id, project_id=project_id)
        outcomes = my_store.outcome_counts(conn, worker_id=actor.id, project_id=project_id)
        recent = my_store.recent_values(
            conn, worker_id=actor.id, project_id=project_id, limit=STATS_WINDOW
        )
        snapshot = snapshot_store.load_snapshot(conn, project_id, False)
        lines = (
            {}
            if snapshot is None or not recent
            else my_store.consensus_lines(
                conn,
                project_id=project_id,
                generation=snapshot.generation,
                item_ids=[item for item, _ in recent],
            )
        )
        gold = my_store.gold_pairs(
            conn, worker_id=actor.id, project_id=project_id, limit=STATS_WINDOW
        )
    task = get_task_type(project.task_type)
    agreement = None
    if snapshot is not None:
        agreement = _agreement(task, project.config, recent, lines, snapshot.computed_at)
    return MyStats(
        project_id=project_id,
        answers=count,
        reviews=outcomes,
        agreement=agreement,
        gold=_gold(task, project.config, gold),
        window=STATS_WINDOW,
    )


def primary_key(task: TaskType, value: Any, config: Mapping[str, Any]) -> str | None:
    """What an answer (or a consensus, or a gold) says on the task type's primary
    question, as a comparable key; ``None`` for free text or what cannot be read. Scores
    are rounded, since a consensus score is a posterior mean."""
    if not isinstance(value, Mapping):
        return None
    try:
        observations = task.observations(value, config=config)
    except (TaskValidationError, KeyError, TypeError, ValueError):
        return None
    for observation in observations:
        if observation.kind == "text":
            continue
        found: Any = observation.value
        if observation.kind == "score" and isinstance(found, int | float):
            found = round(found)
        return f"{observation.kind}:{observation.key}:{json.dumps(found, default=list)}"
    return None


def _agreement(
    task: TaskType,
    config: Mapping[str, Any],
    recent: list[tuple[int, dict[str, Any]]],
    lines: Mapping[int, Mapping[str, Any]],
    computed_at: datetime,
) -> Agreement | None:
    consensus: dict[Hashable, Hashable] = {}
    items: list[int] = []
    answers: list[str] = []
    for item_id, value in recent:
        line = lines.get(item_id)
        if line is None:
            continue
        expected = primary_key(task, line.get("consensus"), config)
        given = primary_key(task, value, config)
        if expected is None or given is None:
            continue
        consensus[item_id] = expected
        items.append(item_id)
        answers.append(given)
    if not items:
        return None
    result = consensus_agreement(["me"] * len(items), items, answers, consensus)
    return Agreement(
        compared=int(result.n_answers[0]),
        agreed=int(result.n_agree[0]),
        share=float(result.share[0]),
        computed_at=computed_at,
    )


def _gold(
    task: TaskType, config: Mapping[str, Any], pairs: list[tuple[dict[str, Any], dict[str, Any]]]
) -> GoldScore | None:
    given: list[str] = []
    truths: list[str] = []
    for value, gold in pairs:
        truth = primary_key(task, gold, config)
        answer = primary_key(task, value, config)
        if truth is None or answer is None:
            continue
        given.append(answer)
        truths.append(truth)
    if not given:
        return None
    result = gold_accuracy(["me"] * len(given), given, truths)
    return GoldScore(
        answers=int(result.n_answers[0]),
        correct=int(result.n_correct[0]),
        accuracy=float(result.posterior_mean[0]),
        lower=float(result.lower[0]),
        upper=float(result.upper[0]),
    )
