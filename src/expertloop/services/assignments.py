"""The annotator loop: hand out the next item, take answers, take items back.

These are the hot paths. On PostgreSQL each is two statements, a read and one atomic
statement that makes the whole change (no BEGIN/COMMIT round trips); on SQLite, one short
write transaction. Nothing here reads more than a few rows, whatever the project's size.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from expertloop.domain import (
    Assignment,
    AssignmentStatus,
    ItemPublic,
    Project,
    User,
    can_claim_items,
)
from expertloop.domain.safe_json import json_problem
from expertloop.errors import (
    AlreadyAnswered,
    AnswerInvalid,
    LeaseExtensionLimit,
    LeaseLost,
    NotFound,
    PermissionDenied,
)
from expertloop.scheduling import RULES, lease_expires_at
from expertloop.services import redundancy, worker_rules
from expertloop.services.caching import ExpiringCache
from expertloop.services.item_admin import disable_unservable_item
from expertloop.services.projects import load_project
from expertloop.services.workforce import gold as workforce
from expertloop.store import Database, claims
from expertloop.store import answers as answer_store
from expertloop.store import redteam as redteam_store
from expertloop.tasks import TaskType, TaskValidationError, get_task_type

__all__ = [
    "ClaimableProjects",
    "LeaseExtension",
    "SubmittedAnswer",
    "extend_assignment",
    "next_assignment",
    "release_assignment",
    "submit_answer",
]

_rng = random.Random()
log = logging.getLogger("expertloop.services")

# Items in a row that may turn out unservable before ``next`` gives up for this request.
MAX_UNSERVABLE_SKIPS = 20


# (project id, worker id) -> the project, for workers known to be allowed to claim its items.
ClaimableProjects = ExpiringCache[tuple[int, int], Project]


def next_assignment(
    db: Database,
    *,
    actor: User,
    project_id: int,
    rng: random.Random = _rng,
    claimable: ClaimableProjects | None = None,
) -> Assignment | None:
    """The worker's next item in the project, leased to them; ``None`` if none is left.

    A worker who already holds a live lease in the project gets that one again, so a
    reload never strands an item. An archived project hands out nothing. ``claimable``
    remembers that the worker may claim the project's items, which saves a read on every
    request; whatever changes that (a member removed, a project edited or archived) drops
    the entry in this process, and other processes read it again within its lifetime.
    """
    now = db.clock.now()
    with db.statements() as conn:
        project = _claimable_project(conn, actor, project_id, claimable)
        if project.is_archived:
            return None
        task = get_task_type(project.task_type)
        lease = _lease_next(conn, project, task, actor=actor, now=now, rng=rng)
    for _ in range(MAX_UNSERVABLE_SKIPS):
        if lease is None:
            # An empty pool may only look empty: reclaim this project's expired leases
            # before telling the worker there is nothing left, then claim again whether
            # this sweep or a concurrent one (the periodic job) freed them.
            with db.write() as conn:
                claims.expire_leases(conn, now=now, project_id=project.id, wait=True)
            with db.statements() as conn:
                lease = _lease_next(conn, project, task, actor=actor, now=now, rng=rng)
            if lease is None:
                # Nothing for them: say so, unless a worker rule paused them (then say why).
                worker_rules.raise_if_paused(db, project_id=project.id, worker_id=actor.id)
                return None
        shown, problem = _servable(task, lease)
        if problem is None:
            return Assignment(
                id=lease.assignment_id,
                project_id=project.id,
                item=ItemPublic(lease.item_id, shown),
                expires_at=lease.expires_at,
                task_type=project.task_type,
            )
        # Stored before the checks at the door existed, or by a bug: disabling it ends the
        # lease and flags the item with the reason, and the worker gets the next item
        # instead of an error on every call until the lease ends.
        log.warning("item %d cannot be served, disabled: %s", lease.item_id, problem)
        disable_unservable_item(db, item_id=lease.item_id, project_id=project.id, why=problem)
        with db.statements() as conn:
            lease = _lease_next(conn, project, task, actor=actor, now=now, rng=rng)
    return None


def _servable(task: TaskType, lease: claims.Lease) -> tuple[dict[str, Any], str | None]:
    """The payload as shown, and why it cannot be sent (``None`` when it can): the same
    encoder as the responses, so what passes here is what the worker receives."""
    try:
        shown = task.present(lease.payload, lease.presentation)
        orjson.dumps(shown)
    except Exception as exc:  # anything a stored payload can make a reader raise
        return {}, f"{type(exc).__name__}: {exc}"
    return shown, None


def _claimable_project(
    conn: Connection, actor: User, project_id: int, remembered: ClaimableProjects | None
) -> Project:
    key = (project_id, actor.id)
    project = remembered.get(key) if remembered is not None else None
    if project is None:
        project = load_project(conn, actor=actor, project_id=project_id)
        if not can_claim_items(actor, is_member=project.is_member):
            raise PermissionDenied("you are not a worker of this project")
        if remembered is not None:
            remembered.put(key, project)
    return project


def _lease_next(
    conn: Connection,
    project: Project,
    task: TaskType,
    *,
    actor: User,
    now: datetime,
    rng: random.Random,
) -> claims.Lease | None:
    # A project with workforce settings may try several claims (a gold item when one is
    # due, disputed items for a reliable worker, then the rest): see services/workforce.
    queries = (
        workforce.claim_queries(conn, project_id=project.id, worker_id=actor.id, rng=rng)
        if project.workforce
        else (RULES.claim_query,)
    )
    presentation = task.new_presentation(rng)
    for query in queries:
        lease = _claim(conn, query, project, actor, presentation, now)
        if lease is not None:
            return lease
    return None


def _claim(
    conn: Connection,
    query: claims.ClaimQuery,
    project: Project,
    actor: User,
    presentation: dict[str, Any] | None,
    now: datetime,
) -> claims.Lease | None:
    def claim() -> claims.Lease | None:
        return claims.lease_next_item(
            conn,
            query,
            project_id=project.id,
            worker_id=actor.id,
            presentation=presentation,
            now=now,
            expires_at=lease_expires_at(now, project.lease_seconds),
        )

    for _ in range(_CLAIM_ATTEMPTS - 1):
        try:
            return claim()
        except IntegrityError:
            # PostgreSQL: two concurrent requests of one worker raced for the same item
            # (the claim's snapshot began before the other's lease was committed); the
            # unique (item, worker) constraint refused this statement, which changed
            # nothing. SQLite serialises writers, so it cannot happen there. The next
            # attempt sees the other lease; only another such race can refuse it again.
            continue
    return claim()


# A worker racing their own parallel requests more often than this in a row is not a person.
_CLAIM_ATTEMPTS = 4


@dataclass(frozen=True, slots=True)
class SubmittedAnswer:
    """An answer as the worker gave it (in the terms they saw), and whether it is new."""

    answer_id: int
    assignment_id: int
    item_id: int
    answer: dict[str, Any]
    created_at: Any
    created: bool
    guidelines_version: int = 1


def submit_answer(
    db: Database,
    *,
    actor: User,
    assignment_id: int,
    answer: Any,
    idempotency_key: str | None = None,
    telemetry: worker_rules.Telemetry | None = None,
) -> SubmittedAnswer:
    """Store the worker's answer to their assignment, exactly once.

    A retry with the same ``idempotency_key`` returns the stored answer with
    ``created=False``. ``telemetry`` (how the web UI saw the text entered) is stored beside
    a new answer, never in it. Raises ``AnswerInvalid`` (422), ``LeaseLost`` (409) when the
    lease ended and its slot went to another worker, ``AlreadyAnswered`` (409) when an
    answer is stored under a different key.
    """
    problem = json_problem(answer, path="answer")
    if problem is not None:
        raise AnswerInvalid(
            f"invalid answer: {problem.field}: {problem.message}", details=[problem.to_dict()]
        )
    now = db.clock.now()
    stored: answer_store.StoredAnswer | None = None
    after: workforce.AfterAnswer | None = None
    try:
        with db.statements() as conn:
            target = answer_store.answer_target(conn, assignment_id)
            if target is None or target.worker_id != actor.id:
                raise NotFound(f"assignment {assignment_id} not found")
            task = get_task_type(target.task_type)
            if target.status == AssignmentStatus.ANSWERED:
                return _replay(conn, target, task, idempotency_key)
            try:
                if task.conversational:
                    turns = redteam_store.conversation(conn, assignment_id)
                    answer = task.attach_conversation(answer, [t.message() for t in turns])
                shown_payload = task.present(target.payload, target.presentation)
                shown = task.validate_answer(answer, target.config, payload=shown_payload)
                canonical = task.to_canonical(shown, target.presentation)
            except TaskValidationError as exc:
                errors = exc.prefixed("answer").errors
                raise AnswerInvalid(
                    f"invalid answer: {exc}", details=[e.to_dict() for e in errors]
                ) from None
            # In a project with workforce settings the worker's counters change with the
            # answer, in one transaction: on SQLite this block is one; on PostgreSQL, whose
            # block runs each statement on its own, the answer is taken in one below.
            in_transaction = not (target.workforce and conn.dialect.name == "postgresql")
            if target.status == AssignmentStatus.LEASED and in_transaction:
                stored, after = _answer_live(conn, target, canonical, idempotency_key, now)
        if target.status == AssignmentStatus.LEASED and stored is None:
            with db.write() as conn:
                stored, after = _answer_live(conn, target, canonical, idempotency_key, now)
    except (_NotLive, answer_store.DuplicateAnswer):
        pass
    if stored is None:
        # The lease ended, or the answer collided with a stored one (e.g. a concurrent retry).
        assert target is not None  # _NotLive is raised only after the target was read
        try:
            with db.write() as conn:
                stored = answer_store.answer_ended_lease(
                    conn, target=target, value=canonical, idempotency_key=idempotency_key,
                    now=now,
                )
                if stored is None:
                    raise _SlotGone
                if target.workforce:
                    after = workforce.record_answer(conn, target, canonical, now=now)
        except (_SlotGone, answer_store.DuplicateAnswer) as exc:
            with db.read() as conn:
                return _replay(
                    conn, target, task, idempotency_key, lost=isinstance(exc, _SlotGone)
                )
    if after is not None:
        workforce.after_commit(db, after)
    assert target is not None  # an answer was stored for it
    submitted = SubmittedAnswer(
        stored.id, assignment_id, stored.item_id, shown, now, True, target.guidelines_version
    )
    _after_answer(db, target, submitted, now, telemetry)
    # Adaptive redundancy: the item's new confidence and target, once the answer is safe.
    redundancy.after_answer(db, target)
    return submitted


def _answer_live(
    conn: Connection,
    target: answer_store.AnswerTarget,
    canonical: dict[str, Any],
    idempotency_key: str | None,
    now: datetime,
) -> tuple[answer_store.StoredAnswer, workforce.AfterAnswer | None]:
    """The live lease becomes the answer (and the workforce's counters count it); raises
    :class:`_NotLive` (the caller rolls back) when the lease is not live."""
    stored = answer_store.answer_live_lease(
        conn, target=target, value=canonical, idempotency_key=idempotency_key, now=now
    )
    if stored is None:
        raise _NotLive
    after = workforce.record_answer(conn, target, canonical, now=now) if target.workforce else None
    return stored, after


def _after_answer(
    db: Database,
    target: answer_store.AnswerTarget,
    stored: SubmittedAnswer,
    now: datetime,
    telemetry: worker_rules.Telemetry | None,
) -> None:
    """The worker rules' O(1) part: telemetry, and the minimum-time check. After the answer
    is committed: a failure here never loses an acknowledged answer."""
    try:
        worker_rules.after_answer(
            db, project_id=target.project_id, worker_id=target.worker_id,
            answer_id=stored.answer_id,
            duration_ms=max(0, int((now - target.leased_at).total_seconds() * 1000)),
            telemetry=telemetry,
        )
    except Exception:  # the answer is stored; a rule's bookkeeping must not fail it
        log.exception("worker rules after answer %d failed", stored.answer_id)


class _NotLive(Exception):
    pass


class _SlotGone(Exception):
    pass


def _replay(
    conn: Any,
    target: answer_store.AnswerTarget,
    task: Any,
    idempotency_key: str | None,
    *,
    lost: bool = False,
) -> SubmittedAnswer:
    """Answer a retry with what is stored, or say why the submission cannot be taken."""
    stored = answer_store.answer_for_assignment(conn, target.assignment_id)
    if stored is None:
        if lost and target.status == AssignmentStatus.RELEASED:
            raise LeaseLost("you gave this item back (skipped it); it cannot be answered now")
        if lost:
            raise LeaseLost(
                "your lease on this item expired and the item was given to another worker"
            )
        raise AlreadyAnswered.on_field(
            "Idempotency-Key", "this Idempotency-Key was already used for another answer"
        )
    if idempotency_key is None or stored.idempotency_key != idempotency_key:
        raise AlreadyAnswered("this assignment already has an answer")
    return SubmittedAnswer(
        stored.id,
        stored.assignment_id,
        stored.item_id,
        task.to_shown(stored.value, target.presentation),
        stored.created_at,
        created=False,
        guidelines_version=stored.guidelines_version,
    )


def release_assignment(db: Database, *, actor: User, assignment_id: int) -> None:
    """Give the item back (a skip): its slot reopens for other workers, not for this one."""
    with db.write() as conn:
        target = answer_store.answer_target(conn, assignment_id)
        if target is None or target.worker_id != actor.id:
            raise NotFound(f"assignment {assignment_id} not found")
        if not claims.release_lease(
            conn, assignment_id=assignment_id, worker_id=actor.id, now=db.clock.now()
        ):
            raise LeaseLost(f"assignment {assignment_id} is no longer active ({target.status})")


@dataclass(frozen=True, slots=True)
class LeaseExtension:
    """A lease after an extension: its new expiry, and the extensions used and allowed."""

    assignment_id: int
    expires_at: datetime
    extensions: int
    max_extensions: int


def extend_assignment(db: Database, *, actor: User, assignment_id: int) -> LeaseExtension:
    """Give the worker another ``lease_seconds`` on their live lease, from now.

    At most the project's ``max_lease_extensions`` times per lease. Raises ``LeaseLost``
    (409) when the lease is no longer live (answered, given back, or past its time: an
    expired lease is never revived, since its slot may be on its way to another worker) and
    ``LeaseExtensionLimit`` (409) when the limit is reached. The item's slot does not move:
    the lease holds it already, so answers plus live leases stay within the target.
    """
    now = db.clock.now()
    with db.write() as conn:
        target = answer_store.answer_target(conn, assignment_id)
        if target is None or target.worker_id != actor.id:
            raise NotFound(f"assignment {assignment_id} not found")
        project = load_project(conn, actor=actor, project_id=target.project_id)
        extended = claims.extend_lease(
            conn,
            assignment_id=assignment_id,
            worker_id=actor.id,
            now=now,
            expires_at=lease_expires_at(now, project.lease_seconds),
            max_extensions=project.max_lease_extensions,
        )
        if extended is None:
            lease = claims.lease_of(conn, assignment_id)
            if lease is not None and lease.live_at(now):
                raise LeaseExtensionLimit(
                    f"this lease was extended {project.max_lease_extensions} times, the "
                    "project's limit: submit what you have before it ends"
                )
            raise LeaseLost(
                f"assignment {assignment_id} is no longer active; it cannot be extended"
            )
    expires_at, count = extended
    return LeaseExtension(assignment_id, expires_at, count, project.max_lease_extensions)
