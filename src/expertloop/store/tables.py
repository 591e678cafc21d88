"""The database schema: every table, constraint and index of expertloop.

Invariants live here as constraints, not only in code: one answer per (item, worker), one
assignment per (item, worker), unique idempotency keys per worker, non-negative counters,
enum checks. Times are naive UTC.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from expertloop.domain import (
    AssignmentStatus,
    FlagAction,
    ReviewOutcome,
    ReviewSource,
    Role,
    WorkerRule,
)

__all__ = [
    "Answer",
    "AnswerTelemetry",
    "ApiToken",
    "Assignment",
    "AuditEvent",
    "Base",
    "ConsensusItem",
    "ConsensusSnapshot",
    "Item",
    "Job",
    "LoginFailure",
    "Project",
    "ProjectMember",
    "ProjectRules",
    "Review",
    "User",
    "WorkerFlag",
    "sql_values",
]

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

def sql_values(members: Iterable[enum.StrEnum]) -> str:
    """An enum's values as a SQL list, for the CHECK constraint that keeps a column to them
    (``'a', 'b'``): the enum in ``domain/`` is the one list, the database enforces it."""
    return ", ".join(f"'{member.value}'" for member in members)


Json = JSON().with_variant(JSONB(), "postgresql")
# SQLite only auto-increments INTEGER PRIMARY KEY; PostgreSQL gets 64-bit ids.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class User(Base):
    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint(f"role IN ({sql_values(Role)})", name="role"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(150), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)


class ApiToken(Base):
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime)


class Project(Base):
    __tablename__ = "projects"
    __table_args__ = (
        CheckConstraint("answers_per_item >= 1", name="answers_per_item_positive"),
        CheckConstraint("lease_seconds >= 1", name="lease_seconds_positive"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    task_type: Mapped[str] = mapped_column(String(50))
    config: Mapped[dict[str, Any]] = mapped_column(Json)
    guidelines: Mapped[str] = mapped_column(Text, default="")
    answers_per_item: Mapped[int] = mapped_column(Integer)
    lease_seconds: Mapped[int] = mapped_column(Integer)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime)


class ProjectMember(Base):
    __tablename__ = "project_members"

    project_id: Mapped[int] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    added_at: Mapped[datetime] = mapped_column(DateTime)
    # A worker paused in the project by a rule gets no items until a manager reinstates them
    # (scheduling rule NOT_PAUSED); the reason is what they are told.
    paused_at: Mapped[datetime | None] = mapped_column(DateTime)
    pause_reason: Mapped[str | None] = mapped_column(Text)


class Item(Base):
    """A unit of work. ``open_slots`` = target - answers - live leases, kept exact by every
    claim, answer, release and expiry, so the next-item query is an index range scan."""

    __tablename__ = "items"
    __table_args__ = (
        CheckConstraint("open_slots >= 0", name="open_slots_nonnegative"),
        CheckConstraint("n_answers >= 0", name="n_answers_nonnegative"),
        CheckConstraint("n_answers + open_slots <= target", name="slots_within_target"),
        UniqueConstraint("project_id", "external_id"),
        Index(
            "ix_items_claim_order",
            "project_id",
            "open_slots",
            text("priority DESC"),
            "id",
            # Exactly the items a claim may take (scheduling rules HAS_OPEN_SLOT and
            # IN_SERVICE), so the claim walks it in order without filtering.
            postgresql_where=text("open_slots > 0 AND disabled_at IS NULL"),
            sqlite_where=text("open_slots > 0 AND disabled_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    external_id: Mapped[str | None] = mapped_column(String(255))
    payload: Mapped[dict[str, Any]] = mapped_column(Json)
    gold: Mapped[dict[str, Any] | None] = mapped_column(Json)
    priority: Mapped[int] = mapped_column(Integer, default=0)
    target: Mapped[int] = mapped_column(Integer)
    n_answers: Mapped[int] = mapped_column(Integer, default=0)
    open_slots: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    # A disabled item is never claimed (and holds no open slots); a deleted one is also
    # disabled for good. Both keep their answers, for audit.
    disabled_at: Mapped[datetime | None] = mapped_column(DateTime)
    disabled_reason: Mapped[str | None] = mapped_column(Text)
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime)


# The live leases: what the partial indexes over assignments cover.
_LIVE = f"status = '{AssignmentStatus.LEASED}'"


class Assignment(Base):
    """A lease of an item to a worker. A worker gets at most one per item, ever."""

    __tablename__ = "assignments"
    __table_args__ = (
        CheckConstraint(f"status IN ({sql_values(AssignmentStatus)})", name="status"),
        UniqueConstraint("item_id", "worker_id"),
        Index(
            "ix_assignments_live_by_worker",
            "worker_id",
            "project_id",
            postgresql_where=text(_LIVE),
            sqlite_where=text(_LIVE),
        ),
        Index(
            "ix_assignments_live_by_expiry",
            "expires_at",
            postgresql_where=text(_LIVE),
            sqlite_where=text(_LIVE),
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"))
    worker_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(16))
    presentation: Mapped[dict[str, Any] | None] = mapped_column(Json)
    leased_at: Mapped[datetime] = mapped_column(DateTime)
    expires_at: Mapped[datetime] = mapped_column(DateTime)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)


class Answer(Base):
    """A worker's answer to an item, in canonical terms (see the task type)."""

    __tablename__ = "answers"
    __table_args__ = (
        UniqueConstraint("item_id", "worker_id"),
        UniqueConstraint("worker_id", "idempotency_key"),
        Index("ix_answers_project_id_id", "project_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"))
    worker_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    assignment_id: Mapped[int] = mapped_column(
        ForeignKey("assignments.id", ondelete="CASCADE"), unique=True
    )
    value: Mapped[dict[str, Any]] = mapped_column(Json)
    idempotency_key: Mapped[str | None] = mapped_column(String(200))
    duration_ms: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(DateTime)


class Review(Base):
    """An answer queued for review, and the reviewer's decision once made.

    One per answer. While ``outcome`` is NULL the review is pending; a reviewer working on it
    holds it until ``lease_expires_at``. ``fixed_value`` is the reviewer's corrected answer
    (canonical terms) when the outcome is ``fixed``.
    """

    __tablename__ = "reviews"
    __table_args__ = (
        CheckConstraint(f"source IN ({sql_values(ReviewSource)})", name="source"),
        CheckConstraint(
            f"outcome IS NULL OR outcome IN ({sql_values(ReviewOutcome)})", name="outcome"
        ),
        CheckConstraint(
            f"(outcome = '{ReviewOutcome.FIXED}') = (fixed_value IS NOT NULL)",
            name="fixed_value_iff_fixed",
        ),
        Index(
            "ix_reviews_pending",
            "project_id",
            "id",
            postgresql_where=text("outcome IS NULL"),
            sqlite_where=text("outcome IS NULL"),
        ),
        Index(
            "ix_reviews_held",
            "reviewer_id",
            "project_id",
            postgresql_where=text("outcome IS NULL"),
            sqlite_where=text("outcome IS NULL"),
        ),
        Index("ix_reviews_project_id_outcome_id", "project_id", "outcome", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    answer_id: Mapped[int] = mapped_column(
        ForeignKey("answers.id", ondelete="CASCADE"), unique=True
    )
    source: Mapped[str] = mapped_column(String(16))
    requested_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    requested_at: Mapped[datetime] = mapped_column(DateTime)
    reviewer_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    lease_expires_at: Mapped[datetime | None] = mapped_column(DateTime)
    outcome: Mapped[str | None] = mapped_column(String(16))
    comment: Mapped[str] = mapped_column(Text, default="")
    fixed_value: Mapped[dict[str, Any] | None] = mapped_column(Json)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime)


class AuditEvent(Base):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    action: Mapped[str] = mapped_column(String(100))
    project_id: Mapped[int | None] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    details: Mapped[dict[str, Any]] = mapped_column(Json)
    # What the action changed, as it was and as it became (NULL where nothing existed before
    # or after, e.g. a creation or a removal).
    before: Mapped[dict[str, Any] | None] = mapped_column(Json)
    after: Mapped[dict[str, Any] | None] = mapped_column(Json)


class LoginFailure(Base):
    """A failed sign-in, kept for the throttling window: the database (not a process's memory)
    counts them, so every server process sees the same attempts."""

    __tablename__ = "login_failures"
    __table_args__ = (
        Index("ix_login_failures_username_at", "username", "at"),
        Index("ix_login_failures_address_at", "address", "at"),
        Index("ix_login_failures_at", "at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime)
    username: Mapped[str] = mapped_column(String(150))
    address: Mapped[str] = mapped_column(String(64))


class Job(Base):
    """A unit of background work (see ``expertloop.jobs``).

    A ``queued`` job runs once ``run_after`` has passed; a ``running`` one belongs to
    ``lease_owner`` until ``lease_expires_at``, after which any worker may claim it again (its
    worker died). ``dedupe_key`` is unique among queued and running jobs, so work such as
    "refresh the consensus of project 7" is queued once however often it is asked for.
    """

    __tablename__ = "jobs"
    __table_args__ = (
        CheckConstraint(
            "status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')", name="status"
        ),
        CheckConstraint("attempts >= 0", name="attempts_nonnegative"),
        CheckConstraint("max_attempts >= 1", name="max_attempts_positive"),
        Index(
            "ix_jobs_queued",
            "run_after",
            "id",
            postgresql_where=text("status = 'queued'"),
            sqlite_where=text("status = 'queued'"),
        ),
        Index(
            "ix_jobs_running_lease",
            "lease_expires_at",
            postgresql_where=text("status = 'running'"),
            sqlite_where=text("status = 'running'"),
        ),
        Index(
            "uq_jobs_dedupe_key_live",
            "dedupe_key",
            unique=True,
            postgresql_where=text("status IN ('queued', 'running')"),
            sqlite_where=text("status IN ('queued', 'running')"),
        ),
        Index("ix_jobs_project_id_id", "project_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kind: Mapped[str] = mapped_column(String(100))
    project_id: Mapped[int | None] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(16))
    params: Mapped[dict[str, Any]] = mapped_column(Json)
    dedupe_key: Mapped[str | None] = mapped_column(String(200))
    attempts: Mapped[int] = mapped_column(Integer)
    max_attempts: Mapped[int] = mapped_column(Integer)
    run_after: Mapped[datetime] = mapped_column(DateTime)
    lease_owner: Mapped[str | None] = mapped_column(String(100))
    lease_expires_at: Mapped[datetime | None] = mapped_column(DateTime)
    progress_done: Mapped[int] = mapped_column(BigInteger)
    progress_total: Mapped[int | None] = mapped_column(BigInteger)
    result: Mapped[dict[str, Any] | None] = mapped_column(Json)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    started_at: Mapped[datetime | None] = mapped_column(DateTime)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)


class ConsensusSnapshot(Base):
    """A project's consensus as last computed by a ``consensus.refresh`` job.

    ``generation`` names the rows of ``consensus_items`` that make up the snapshot: a refresh
    writes a new generation beside the current one in short transactions, then switches this
    row to it, so readers never see half a snapshot and SQLite's write lock is never held for
    long. ``last_answer_id`` and ``decided_reviews`` say which answers and review decisions
    the snapshot has seen; when both are unchanged a refresh skips the refit.
    """

    __tablename__ = "consensus_snapshots"

    project_id: Mapped[int] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    )
    include_gold: Mapped[bool] = mapped_column(Boolean, primary_key=True)
    generation: Mapped[int] = mapped_column(BigInteger)
    computed_at: Mapped[datetime] = mapped_column(DateTime)
    last_answer_id: Mapped[int] = mapped_column(BigInteger)
    decided_reviews: Mapped[int] = mapped_column(BigInteger)
    n_items: Mapped[int] = mapped_column(BigInteger)
    duration_ms: Mapped[int] = mapped_column(BigInteger)
    method: Mapped[str] = mapped_column(String(100))
    agreement: Mapped[dict[str, Any]] = mapped_column(Json)
    fallbacks: Mapped[dict[str, Any]] = mapped_column(Json)


class ConsensusItem(Base):
    """One answered item's consensus in one generation of a project's snapshot."""

    __tablename__ = "consensus_items"

    project_id: Mapped[int] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    )
    include_gold: Mapped[bool] = mapped_column(Boolean, primary_key=True)
    generation: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    item_id: Mapped[int] = mapped_column(BigId, primary_key=True)
    line: Mapped[dict[str, Any]] = mapped_column(Json)


class ProjectRules(Base):
    """A project's worker rules (``None``: the defaults) and how far the rules' background
    evaluation has read its answers."""

    __tablename__ = "project_rules"

    project_id: Mapped[int] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    )
    rules: Mapped[dict[str, Any] | None] = mapped_column(Json)
    updated_at: Mapped[datetime] = mapped_column(DateTime)
    updated_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    evaluated_answer_id: Mapped[int] = mapped_column(BigInteger, default=0)
    evaluated_at: Mapped[datetime | None] = mapped_column(DateTime)
    # How long the last evaluation took: the next waits ten times as long (pacing).
    evaluation_ms: Mapped[int] = mapped_column(BigInteger, default=0)


class WorkerFlag(Base):
    """A rule's finding about a worker in a project, with its numbers. At most one open
    (unresolved) flag per project, worker and rule; a manager resolves it by reinstating the
    worker or dismissing it, and the rule then looks only at answers after
    ``resolved_answer_id``."""

    __tablename__ = "worker_flags"
    __table_args__ = (
        CheckConstraint(f"rule IN ({sql_values(WorkerRule)})", name="rule"),
        CheckConstraint(f"action IN ({sql_values(FlagAction)})", name="action"),
        CheckConstraint("(resolved_at IS NULL) = (action IS NULL)", name="resolved_with_action"),
        CheckConstraint("n_events >= 1", name="n_events_positive"),
        Index(
            "ix_worker_flags_open",
            "project_id",
            "worker_id",
            "rule",
            unique=True,
            postgresql_where=text("resolved_at IS NULL"),
            sqlite_where=text("resolved_at IS NULL"),
        ),
        Index("ix_worker_flags_project_id_id", "project_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    worker_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    rule: Mapped[str] = mapped_column(String(32))
    details: Mapped[dict[str, Any]] = mapped_column(Json)
    message: Mapped[str] = mapped_column(Text)
    n_events: Mapped[int] = mapped_column(Integer, default=1)
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime)
    resolved_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    action: Mapped[str | None] = mapped_column(String(16))
    resolved_answer_id: Mapped[int | None] = mapped_column(BigInteger)


class AnswerTelemetry(Base):
    """How an answer's text was entered in the web UI (typed, pasted, time typing): kept
    beside the answer, never in its value."""

    __tablename__ = "answer_telemetry"
    __table_args__ = (
        CheckConstraint(
            "typed_chars >= 0 AND pasted_chars >= 0 AND typing_ms >= 0", name="nonnegative"
        ),
        Index("ix_answer_telemetry_project_id_answer_id", "project_id", "answer_id"),
    )

    answer_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("answers.id", ondelete="CASCADE"), primary_key=True
    )
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    worker_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    typed_chars: Mapped[int] = mapped_column(Integer)
    pasted_chars: Mapped[int] = mapped_column(Integer)
    typing_ms: Mapped[int] = mapped_column(BigInteger)
