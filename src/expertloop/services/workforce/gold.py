"""Gold in operations, routing and escalation: what the annotator loop asks of the workforce.

- Before a claim in a project with workforce settings, :func:`claim_queries` reads one row
  (the project's gold share and routing threshold, the worker's counters) and returns the
  claims to try: a gold item first when one is due, disputed items first for a reliable
  worker (see ``scheduling.rules.WORKFORCE_RULES``).
- At submit, :func:`record_answer` updates the counters in the answer's transaction: the
  worker's answers, gold answers and correct ones; the item's votes (a disputed item, an
  escalation when its answers end without a majority); the worker's exam attempt.
- :func:`gold_accuracy` reports the counters with a Bayesian interval
  (:func:`expertloop.quality.workers.gold_accuracy`).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import Connection

from expertloop.domain import User
from expertloop.domain.policies import can_read_gold
from expertloop.errors import NotFound, PermissionDenied
from expertloop.quality.workers import gold_accuracy as beta_gold_accuracy
from expertloop.scheduling import RULES, WORKFORCE_RULES, WorkerState
from expertloop.services.projects import load_project
from expertloop.services.workforce import exams
from expertloop.store import Database
from expertloop.store import workforce as store
from expertloop.store.answers import AnswerTarget
from expertloop.store.claims import ClaimQuery
from expertloop.tasks import get_task_type

__all__ = [
    "AfterAnswer",
    "GoldAccuracy",
    "after_commit",
    "claim_queries",
    "gold_accuracy",
    "gold_is_due",
    "is_routed",
    "record_answer",
]

# The prior of gold accuracy (Beta(1, 1), uniform), for routing and the reports alike.
PRIOR = (1.0, 1.0)


def gold_is_due(
    share: float | None, *, answers: int, gold_answers: int, rng: random.Random
) -> bool | None:
    """Whether the worker's next item should be gold: their gold answers fall short of
    ``share`` of their answers including this one, with a random offset in [0, 1) so
    that *which* item is gold cannot be predicted (over many items the share holds).
    ``None`` when the project does not mix gold in."""
    if share is None:
        return None
    return gold_answers + rng.random() < share * (answers + 1)


def is_routed(min_accuracy: float | None, *, gold_answers: int, gold_correct: int) -> bool:
    """Whether the worker's gold accuracy (posterior mean under :data:`PRIOR`) reaches the
    project's routing threshold."""
    if min_accuracy is None:
        return False
    a, b = PRIOR
    return (gold_correct + a) / (gold_answers + a + b) >= min_accuracy


def claim_queries(
    conn: Connection, *, project_id: int, worker_id: int, rng: random.Random
) -> list[ClaimQuery]:
    """The claims to try, in order, for this worker in a project with workforce settings."""
    counters = store.worker_counters(conn, project_id, worker_id)
    if counters is None:
        return [RULES.claim_query]
    worker = WorkerState(
        gold_due=gold_is_due(
            counters.gold_share, answers=counters.answers, gold_answers=counters.gold_answers,
            rng=rng,
        ),
        routed=is_routed(
            counters.route_min_accuracy, gold_answers=counters.gold_answers,
            gold_correct=counters.gold_correct,
        ),
    )
    return WORKFORCE_RULES.claims(worker)


@dataclass(frozen=True, slots=True)
class AfterAnswer:
    """What the caller does once the answer is committed: clear a failed exam attempt."""

    clear_exam: tuple[int, int] | None = None


def record_answer(
    conn: Connection, target: AnswerTarget, canonical: dict[str, Any], *, now: datetime
) -> AfterAnswer:
    """Count a new answer in a project with workforce settings, in its transaction (the
    settings came with the target's read)."""
    if not target.workforce:
        return AfterAnswer()
    task = get_task_type(target.task_type)
    scored = (
        None if target.gold is None
        else task.matches_gold(canonical, target.gold, config=target.config)
    )
    vote = (
        task.vote(canonical, config=target.config)
        if target.gold is None and target.counts_votes else None
    )
    # The worker's counters, and the item's vote and dispute mark (one statement on
    # PostgreSQL).
    counted = store.count_answer(
        conn, project_id=target.project_id, worker_id=target.worker_id,
        item_id=target.item_id, gold=scored is not None, correct=bool(scored), vote=vote,
        escalate=target.escalate,
    )
    # An escalating project's disputed item has all its answers and no value has more
    # than half of them: every answer of it goes to review.
    tally = counted.tally
    if tally is not None and 2 * max(tally.values()) <= sum(tally.values()):
        store.escalate_item(conn, target.item_id, now=now)
    if target.open_gold:
        store.reopen_gold_slot(conn, target.item_id)
    clear = None
    if target.is_exam:
        failed = exams.record_exam_answer(
            conn, exam_project_id=target.project_id, worker_id=target.worker_id,
            correct=bool(scored), now=now,
        )
        if failed:
            clear = (target.project_id, target.worker_id)
    return AfterAnswer(clear)


def after_commit(db: Database, after: AfterAnswer) -> None:
    """The work an answer leaves for after its transaction (see :class:`AfterAnswer`)."""
    if after.clear_exam is not None:
        exam_project_id, worker_id = after.clear_exam
        with db.write() as conn:
            store.clear_exam_attempt(conn, exam_project_id, worker_id)


@dataclass(frozen=True, slots=True)
class GoldAccuracy:
    """A worker's gold record in a project: answers, gold answers scored, correct ones,
    the raw accuracy and the Beta posterior's mean and 95% credible interval (``None``
    without gold answers)."""

    worker_id: int
    username: str
    answers: int
    gold_answers: int
    gold_correct: int
    accuracy: float | None
    posterior_mean: float | None
    lower: float | None
    upper: float | None


def _with_interval(rows: list[store.StatsRow]) -> list[GoldAccuracy]:
    scored = [r for r in rows if r.gold_answers > 0]
    interval: dict[int, tuple[float, float, float]] = {}
    if scored:
        # One entry per gold answer, as the quality engine takes them.
        workers = np.repeat([r.worker_id for r in scored], [r.gold_answers for r in scored])
        right = np.concatenate(
            [np.r_[np.ones(r.gold_correct), np.zeros(r.gold_answers - r.gold_correct)]
             for r in scored]
        )
        fit = beta_gold_accuracy(workers, right, np.ones_like(right), prior=PRIOR)
        for k, worker in enumerate(fit.worker_ids.tolist()):
            interval[int(worker)] = (
                float(fit.posterior_mean[k]), float(fit.lower[k]), float(fit.upper[k])
            )
    out = []
    for r in rows:
        mean, low, high = interval.get(r.worker_id, (None, None, None))
        out.append(
            GoldAccuracy(
                r.worker_id, r.username, r.answers, r.gold_answers, r.gold_correct,
                r.gold_correct / r.gold_answers if r.gold_answers else None, mean, low, high,
            )
        )
    return out


def gold_accuracy(
    db: Database, *, actor: User, project_id: int, worker_id: int | None = None
) -> list[GoldAccuracy]:
    """Gold accuracy of the project's workers (managers), or of one of them. A worker asks
    for their own with ``worker_id=actor.id``."""
    with db.read() as conn:
        project = load_project(conn, actor=actor, project_id=project_id)
        if worker_id != actor.id and not can_read_gold(actor, is_member=project.is_member):
            raise PermissionDenied("only the project's managers see other workers' gold accuracy")
        rows = store.worker_stats(conn, project_id, worker_id)
    if worker_id is not None and not rows:
        if worker_id != actor.id:
            raise NotFound(f"worker {worker_id} has no answers in project {project_id}")
        return [GoldAccuracy(actor.id, actor.username, 0, 0, 0, None, None, None, None)]
    return _with_interval(rows)
