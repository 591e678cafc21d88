"""Reviews: managers queue answers (a random sample, one worker's, or chosen ones);
reviewers work through the queue and accept, reject with a reason, or fix each answer.

A rejected answer is left out of consensus and exports, and by default its item gets one
more answer (its target grows by one), so it still ends with as many answers as it was
meant to have. A fixed answer counts with the reviewer's correction in place of the
worker's. See ``docs/reviews.md``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from expertloop.domain import Project, Review, ReviewOutcome, ReviewSource, ReviewStatus, User
from expertloop.domain.policies import can_request_reviews, can_review_answers
from expertloop.domain.safe_json import json_problem, servable
from expertloop.errors import (
    AnswerInvalid,
    InputInvalid,
    NotFound,
    PermissionDenied,
    ReviewClosed,
)
from expertloop.quality.workers import beta_interval
from expertloop.scheduling import lease_expires_at
from expertloop.services.clock import iso_utc
from expertloop.services.projects import load_project
from expertloop.store import Database, audit
from expertloop.store import projects as project_store
from expertloop.store import reviews as review_store
from expertloop.store import users as user_store
from expertloop.tasks import TaskValidationError, get_task_type

__all__ = [
    "MAX_COMMENT_CHARS",
    "MAX_LISTED",
    "MAX_REQUESTED_IDS",
    "ReviewSummary",
    "WorkerOutcome",
    "available_reviews",
    "decide_review",
    "get_review",
    "list_reviews",
    "next_review",
    "request_reviews",
    "review_queue",
    "review_summary",
    "sample_candidates",
    "worker_outcomes",
]

MAX_COMMENT_CHARS = 5000
MAX_REQUESTED_IDS = 10_000
MAX_LISTED = 1000


def _review(row: review_store.ReviewRow) -> Review:
    return Review(
        id=row.id,
        project_id=row.project_id,
        answer_id=row.answer_id,
        item_id=row.item_id,
        external_id=row.external_id,
        worker_id=row.worker_id,
        source=ReviewSource(row.source),
        status=ReviewStatus(row.outcome or ReviewStatus.PENDING),
        payload=servable(row.payload),
        answer=row.answer,
        duration_ms=row.duration_ms,
        answered_at=row.answered_at,
        requested_at=row.requested_at,
        reviewer_id=row.reviewer_id,
        lease_expires_at=row.lease_expires_at if row.outcome is None else None,
        comment=row.comment,
        fixed_answer=row.fixed_value,
        decided_at=row.decided_at,
        guidelines_version=row.guidelines_version,
    )


def _reviewable_project(conn: Connection, actor: User, project_id: int) -> Project:
    project = load_project(conn, actor=actor, project_id=project_id)
    if not can_review_answers(actor, is_member=project.is_member):
        raise PermissionDenied("only the project's reviewers and managers can review answers")
    return project


def _managed_project(conn: Connection, actor: User, project_id: int) -> Project:
    project = load_project(conn, actor=actor, project_id=project_id)
    if not can_request_reviews(actor, is_member=project.is_member):
        raise PermissionDenied("only the project's managers can choose answers for review")
    return project


# --- managers: what to review ------------------------------------------------------------


def request_reviews(
    db: Database,
    *,
    actor: User,
    project_id: int,
    fraction: float | None = None,
    count: int | None = None,
    worker_id: int | None = None,
    answer_ids: Sequence[int] | None = None,
) -> int:
    """Queue answers for review; returns how many were newly queued.

    Give exactly one of: ``fraction`` (that share, rounded up, of the answers not queued
    yet), ``count`` (that many of them, or all if fewer), both drawn uniformly at random and
    optionally only from ``worker_id``'s answers; or ``answer_ids`` (those answers, each of
    which must belong to the project). Answers on gold items are not sampled (gold checks
    them); answers already queued are never queued twice.
    """
    given = [name for name, v in (("fraction", fraction), ("count", count),
                                  ("answer_ids", answer_ids)) if v is not None]
    if len(given) != 1:
        raise InputInvalid("give exactly one of fraction, count and answer_ids"
                           + (f" (got {', '.join(given)})" if given else ""))
    if fraction is not None and not 0.0 < fraction <= 1.0:
        raise InputInvalid.on_field("fraction", "fraction must be above 0 and at most 1")
    if count is not None and count < 1:
        raise InputInvalid.on_field("count", "count must be at least 1")
    if answer_ids is not None:
        if not answer_ids:
            raise InputInvalid.on_field("answer_ids", "answer_ids is empty")
        if len(answer_ids) > MAX_REQUESTED_IDS:
            raise InputInvalid.on_field(
                "answer_ids", f"at most {MAX_REQUESTED_IDS} answer ids per request"
            )
        if worker_id is not None:
            raise InputInvalid.on_field("worker_id", "worker_id applies to samples only")
    now = db.clock.now()
    with db.write() as conn:
        project = _managed_project(conn, actor, project_id)
        if answer_ids is not None:
            wanted = sorted(set(answer_ids))
            known = review_store.project_answer_ids(conn, project.id, wanted)
            missing = sorted(set(wanted) - known)
            if missing:
                shown = ", ".join(map(str, missing[:20])) + (" ..." if len(missing) > 20 else "")
                raise InputInvalid.on_field(
                    "answer_ids", f"not answers of project {project.id}: {shown}"
                )
            queued = review_store.queue_answers(
                conn, project.id, wanted, requested_by=actor.id, now=now
            )
            how: dict[str, Any] = {"answer_ids": len(wanted)}
        else:
            if worker_id is not None:
                _check_member(conn, project.id, worker_id)
            if count is not None:
                size = count
            else:
                assert fraction is not None
                available = review_store.count_unqueued_answers(
                    conn, project.id, worker_id=worker_id
                )
                size = math.ceil(fraction * available)
            queued = (
                review_store.queue_sample(
                    conn, project.id, size=size, worker_id=worker_id, requested_by=actor.id,
                    now=now,
                )
                if size
                else 0
            )
            how = {"fraction": fraction, "count": count, "worker_id": worker_id}
        audit.record_event(
            conn,
            action="reviews.requested",
            actor_id=actor.id,
            project_id=project.id,
            now=now,
            details={**how, "queued": queued},
        )
    return queued


def _check_member(conn: Connection, project_id: int, user_id: int) -> None:
    member = project_store.project_for_user(conn, project_id, user_id)
    if member is None or not member.is_member:
        raise InputInvalid.on_field(
            "worker_id", f"user {user_id} is not a member of project {project_id}"
        )


@dataclass(frozen=True)
class ReviewSummary:
    """Reviews by outcome, and per worker (``accepted``, ``rejected``, ``fixed``,
    ``pending`` counts and the share of decided reviews that were accepted as they were)."""

    counts: dict[str, int]
    workers: list[dict[str, Any]]


def review_summary(db: Database, *, actor: User, project_id: int) -> ReviewSummary:
    with db.read() as conn:
        project = _managed_project(conn, actor, project_id)
        counts = review_store.outcome_counts(conn, project.id)
        workers = []
        for w in review_store.worker_outcomes(conn, project.id):
            decided = w.accepted + w.rejected + w.fixed
            workers.append(
                {
                    "worker_id": w.worker_id,
                    "username": w.username,
                    "accepted": w.accepted,
                    "rejected": w.rejected,
                    "fixed": w.fixed,
                    "pending": w.pending,
                    "acceptance_rate": (w.accepted / decided) if decided else None,
                }
            )
    return ReviewSummary(counts, workers)


@dataclass(frozen=True)
class WorkerOutcome:
    """How one worker's reviewed answers came out, and the acceptance rate's Beta posterior
    (uniform prior): its mean and 95% credible interval, ``None`` before any decision."""

    worker_id: int
    username: str
    accepted: int
    rejected: int
    fixed: int
    pending: int
    acceptance_rate: float | None
    acceptance_mean: float | None
    acceptance_lower: float | None
    acceptance_upper: float | None

    @property
    def decided(self) -> int:
        return self.accepted + self.rejected + self.fixed


def worker_outcomes(
    db: Database, *, actor: User, project_id: int
) -> tuple[dict[str, int], list[WorkerOutcome]]:
    """Reviews by status, and per worker with the acceptance rate's interval
    (:func:`expertloop.quality.workers.beta_interval`); one grouped query over the project's
    reviews (``ix_reviews_project_id_outcome_id``), answers joined by primary key."""
    summary = review_summary(db, actor=actor, project_id=project_id)
    decided = [w["accepted"] + w["rejected"] + w["fixed"] for w in summary.workers]
    interval = beta_interval([w["accepted"] for w in summary.workers], decided)
    found = []
    for index, w in enumerate(summary.workers):
        has = decided[index] > 0
        found.append(
            WorkerOutcome(
                worker_id=w["worker_id"],
                username=w["username"],
                accepted=w["accepted"],
                rejected=w["rejected"],
                fixed=w["fixed"],
                pending=w["pending"],
                acceptance_rate=w["acceptance_rate"],
                acceptance_mean=float(interval.mean[index]) if has else None,
                acceptance_lower=float(interval.lower[index]) if has else None,
                acceptance_upper=float(interval.upper[index]) if has else None,
            )
        )
    return summary.counts, found


def sample_candidates(
    db: Database, *, actor: User, project_id: int
) -> list[review_store.Candidate]:
    """The members whose answers a manager may sample (the form's worker choice)."""
    with db.read() as conn:
        project = _managed_project(conn, actor, project_id)
        return review_store.sample_candidates(conn, project.id)


def list_reviews(
    db: Database,
    *,
    actor: User,
    project_id: int,
    status: str | None = None,
    after: int = 0,
    limit: int = 100,
) -> list[Review]:
    """The project's reviews in id order (page with ``after``, the last id seen); ``status``
    ``"pending"`` or an outcome narrows them."""
    allowed = tuple(ReviewStatus)
    if status is not None and status not in allowed:
        raise InputInvalid.on_field(
            "status", f"unknown status {status!r}; use one of {', '.join(allowed)}"
        )
    if not 1 <= limit <= MAX_LISTED:
        raise InputInvalid.on_field("limit", f"limit must be between 1 and {MAX_LISTED}")
    with db.read() as conn:
        project = _reviewable_project(conn, actor, project_id)
        rows = review_store.list_reviews(
            conn, project.id, status=status, after=after, limit=limit
        )
    return [_review(row) for row in rows]


def review_queue(
    db: Database,
    *,
    actor: User,
    project_id: int,
    status: str | None = None,
    after: int = 0,
    limit: int = 50,
) -> tuple[list[Review], dict[int, str]]:
    """A page of the project's reviews (as :func:`list_reviews`) for its managers, with the
    usernames of the workers and reviewers in it."""
    found = list_reviews(
        db, actor=actor, project_id=project_id, status=status, after=after, limit=limit
    )
    ids = [r.worker_id for r in found] + [r.reviewer_id for r in found if r.reviewer_id]
    with db.read() as conn:
        _managed_project(conn, actor, project_id)
        names = user_store.usernames(conn, ids)
    return found, names


# --- reviewers: the queue ----------------------------------------------------------------


def next_review(db: Database, *, actor: User, project_id: int) -> Review | None:
    """The reviewer's next pending review in the project, held for them for the project's
    lease time; the one they already hold if any (a reload gets it back); ``None`` when the
    queue holds nothing for them (their own answers are never given to them)."""
    now = db.clock.now()
    with db.write() as conn:
        project = _reviewable_project(conn, actor, project_id)
        review_id = review_store.held_review(conn, project.id, actor.id, now)
        if review_id is None:
            review_id = review_store.lease_next_review(
                conn,
                project.id,
                reviewer_id=actor.id,
                now=now,
                expires_at=lease_expires_at(now, project.lease_seconds),
            )
        if review_id is None:
            return None
        row = review_store.load_review(conn, review_id)
    assert row is not None
    return _review(row)


def available_reviews(db: Database, *, actor: User, project_id: int, cap: int = 1000) -> int:
    """How many pending reviews :func:`next_review` could give the reviewer now, counted up
    to ``cap`` (a home page shows "1000+" rather than counting a huge queue)."""
    with db.read() as conn:
        project = _reviewable_project(conn, actor, project_id)
        return review_store.count_available_reviews(
            conn, project.id, reviewer_id=actor.id, now=db.clock.now(), cap=cap
        )


def get_review(db: Database, *, actor: User, review_id: int) -> Review:
    with db.read() as conn:
        row, _ = _load(conn, actor, review_id)
    return _review(row)


def _load(
    conn: Connection, actor: User, review_id: int
) -> tuple[review_store.ReviewRow, Project]:
    """The review and its project, if ``actor`` may review it (else ``NotFound`` for a
    project they cannot see, so ids don't leak)."""
    row = review_store.load_review(conn, review_id)
    if row is None:
        raise NotFound(f"review {review_id} not found")
    try:
        project = _reviewable_project(conn, actor, row.project_id)
    except NotFound:
        raise NotFound(f"review {review_id} not found") from None
    return row, project


def decide_review(
    db: Database,
    *,
    actor: User,
    review_id: int,
    outcome: str,
    comment: str = "",
    answer: Any = None,
    requeue: bool = True,
) -> Review:
    """Record the reviewer's decision.

    ``rejected`` needs a ``comment`` (the reason) and, with ``requeue`` (the default),
    gives the item one more answer to replace it. ``fixed`` needs the corrected ``answer``,
    in the item's canonical terms (as :attr:`Review.answer` shows it), valid for the task
    type and different from the worker's. Raises :class:`ReviewClosed` (409) when the
    review was decided already or another reviewer holds it.
    """
    try:
        decision = ReviewOutcome(outcome)
    except ValueError:
        choices = ", ".join(o.value for o in ReviewOutcome)
        raise InputInvalid.on_field(
            "outcome", f"unknown outcome {outcome!r}; use one of {choices}"
        ) from None
    comment = comment.strip()
    if len(comment) > MAX_COMMENT_CHARS:
        raise InputInvalid.on_field(
            "comment", f"a comment may be at most {MAX_COMMENT_CHARS} characters"
        )
    if decision is ReviewOutcome.REJECTED and not comment:
        raise InputInvalid.on_field("comment", "say why the answer is rejected")
    if decision is not ReviewOutcome.FIXED and answer is not None:
        raise InputInvalid.on_field("answer", "only a fix carries an answer")
    if decision is ReviewOutcome.FIXED and answer is None:
        raise InputInvalid.on_field("answer", "a fix needs the corrected answer")
    problem = json_problem({"comment": comment, "answer": answer})
    if problem is not None:
        raise InputInvalid(f"{problem.field}: {problem.message}", details=[problem.to_dict()])
    now = db.clock.now()
    with db.write() as conn:
        row, project = _load(conn, actor, review_id)
        if row.worker_id == actor.id:
            raise PermissionDenied("you cannot review your own answer")
        fixed = _fixed_answer(project, row, answer) if decision is ReviewOutcome.FIXED else None
        if not review_store.decide_review(
            conn,
            review_id,
            reviewer_id=actor.id,
            outcome=decision.value,
            comment=comment,
            fixed_value=fixed,
            now=now,
        ):
            raise ReviewClosed(_why_closed(row))
        if decision is ReviewOutcome.REJECTED and requeue:
            review_store.reopen_slot(conn, row.item_id)
        audit.record_event(
            conn,
            action="review.decided",
            actor_id=actor.id,
            project_id=row.project_id,
            now=now,
            details={"review_id": review_id, "answer_id": row.answer_id,
                     "outcome": decision.value, "requeued": decision is ReviewOutcome.REJECTED
                     and requeue},
        )
        decided = review_store.load_review(conn, review_id)
    assert decided is not None
    return _review(decided)


def _fixed_answer(project: Project, row: review_store.ReviewRow, answer: Any) -> dict[str, Any]:
    task = get_task_type(project.task_type)
    try:
        fixed = task.validate_answer(answer, project.config, payload=row.payload)
    except TaskValidationError as exc:
        errors = exc.prefixed("answer").errors
        raise AnswerInvalid(
            f"invalid answer: {exc}", details=[e.to_dict() for e in errors]
        ) from None
    if fixed == row.answer:
        raise InputInvalid.on_field(
            "answer", "the fixed answer is the worker's answer unchanged; accept it instead"
        )
    return fixed


def _why_closed(row: review_store.ReviewRow) -> str:
    if row.outcome is not None:
        return f"review {row.id} was already decided ({row.outcome})"
    until = iso_utc(row.lease_expires_at) if row.lease_expires_at else "now"
    return f"review {row.id} is held by another reviewer until {until}"
