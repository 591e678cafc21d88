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
    Float,
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

from expertloop.domain import AssignmentStatus, CredentialKind, ReviewOutcome, ReviewSource, Role

__all__ = [
    "Answer",
    "ApiToken",
    "Assignment",
    "AuditEvent",
    "Base",
    "ConsensusItem",
    "ConsensusSnapshot",
    "ExamResult",
    "Item",
    "ItemVote",
    "Job",
    "LoginFailure",
    "Project",
    "ProjectMember",
    "ProjectSkill",
    "ProjectWorkforce",
    "Review",
    "User",
    "UserCredential",
    "UserSkill",
    "WorkerStats",
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
NullableJson = JSON(none_as_null=True).with_variant(JSONB(none_as_null=True), "postgresql")
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
        # The same order over the claimable gold items, and over the claimable disputed ones:
        # the claim tiers of gold mixing and of routing (scheduling rules IS_GOLD, DISPUTED)
        # walk these, so finding the first gold or disputed item reads a few rows.
        Index(
            "ix_items_gold_claim_order",
            "project_id",
            "open_slots",
            text("priority DESC"),
            "id",
            postgresql_where=text("open_slots > 0 AND disabled_at IS NULL AND gold IS NOT NULL"),
            sqlite_where=text("open_slots > 0 AND disabled_at IS NULL AND gold IS NOT NULL"),
        ),
        Index(
            "ix_items_disputed_claim_order",
            "project_id",
            "open_slots",
            text("priority DESC"),
            "id",
            postgresql_where=text("open_slots > 0 AND disabled_at IS NULL AND disputed"),
            sqlite_where=text("open_slots > 0 AND disabled_at IS NULL AND disputed = 1"),
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    external_id: Mapped[str | None] = mapped_column(String(255))
    payload: Mapped[dict[str, Any]] = mapped_column(Json)
    # No gold is SQL NULL (not a JSON null), so "is a gold item" is ``gold IS NOT NULL``,
    # the predicate of the gold claim tier's partial index.
    gold: Mapped[dict[str, Any] | None] = mapped_column(NullableJson)
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
    # Its answers so far disagree (two or more different primary values); set at submit in
    # projects that route (see services/workforce), never on gold items.
    disputed: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))


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


# --- the workforce: skills, credentials, exams, gold counters (services/workforce) --------

SKILL_NAME = r"^[a-z0-9][a-z0-9_.+-]{0,63}$"
MAX_SKILL_LEVEL = 5


class UserSkill(Base):
    """A worker's level in a skill (``medicine: 3``), 0 (none) to 5."""

    __tablename__ = "user_skills"
    __table_args__ = (
        CheckConstraint(f"level >= 0 AND level <= {MAX_SKILL_LEVEL}", name="level_range"),
    )

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    skill: Mapped[str] = mapped_column(String(64), primary_key=True)
    level: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(DateTime)


class UserCredential(Base):
    """A credential a manager recorded for a user (a degree, a licence), with the evidence
    they saw, and who verified it and when (NULL until verified)."""

    __tablename__ = "user_credentials"
    __table_args__ = (
        CheckConstraint(f"kind IN ({sql_values(CredentialKind)})", name="kind"),
        CheckConstraint(
            "(verified_by IS NULL AND verified_at IS NULL) OR verified_at IS NOT NULL",
            name="verified_with_time",
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(String(300))
    evidence: Mapped[str] = mapped_column(Text, default="")
    recorded_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    recorded_at: Mapped[datetime] = mapped_column(DateTime)
    verified_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    verified_at: Mapped[datetime | None] = mapped_column(DateTime)


class ProjectSkill(Base):
    """A skill a project requires, at a minimum level: the claim's HAS_REQUIRED_SKILLS rule
    looks these up by project (the primary key's prefix)."""

    __tablename__ = "project_skills"
    __table_args__ = (
        CheckConstraint(f"level >= 1 AND level <= {MAX_SKILL_LEVEL}", name="level_range"),
    )

    project_id: Mapped[int] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    )
    skill: Mapped[str] = mapped_column(String(64), primary_key=True)
    level: Mapped[int] = mapped_column(Integer)


class ProjectWorkforce(Base):
    """A project's workforce settings; a project without a row has none of them.

    ``gold_share``: the share of each worker's items that are gold (NULL: gold items are
    served like any item). ``exam_project_id``, ``pass_mark``, ``retry_after_seconds``: the
    qualification exam a worker must pass first. ``is_exam``: another project names this
    one as its exam. ``route_min_accuracy``: workers whose gold accuracy (posterior mean)
    reaches it get disputed items first (NULL: no routing). ``escalate``: an item whose
    answers end without a majority goes to the reviewers. Deleting the exam project sets
    ``exam_project_id`` NULL: the project then names no exam (its pass mark is ignored).
    """

    __tablename__ = "project_workforce"
    __table_args__ = (
        CheckConstraint("gold_share >= 0 AND gold_share <= 1", name="gold_share_range"),
        CheckConstraint("pass_mark >= 0 AND pass_mark <= 1", name="pass_mark_range"),
        CheckConstraint("retry_after_seconds >= 0", name="retry_after_nonnegative"),
        CheckConstraint(
            "route_min_accuracy >= 0 AND route_min_accuracy <= 1", name="route_min_accuracy_range"
        ),
        CheckConstraint("exam_project_id <> project_id", name="exam_is_another_project"),
    )

    project_id: Mapped[int] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    )
    gold_share: Mapped[float | None] = mapped_column(Float)
    exam_project_id: Mapped[int | None] = mapped_column(
        ForeignKey("projects.id", ondelete="SET NULL"), index=True
    )
    pass_mark: Mapped[float | None] = mapped_column(Float)
    retry_after_seconds: Mapped[int] = mapped_column(Integer, default=86400)
    is_exam: Mapped[bool] = mapped_column(Boolean, default=False)
    route_min_accuracy: Mapped[float | None] = mapped_column(Float)
    escalate: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(DateTime)


class WorkerStats(Base):
    """A worker's counters in a project, kept at submit in the answer's transaction: answers,
    answers on gold items that could be scored, and those that matched the gold. Gold mixing
    and gold accuracy read one row, never the answers."""

    __tablename__ = "worker_stats"
    __table_args__ = (
        CheckConstraint("answers >= 0", name="answers_nonnegative"),
        CheckConstraint("gold_correct >= 0", name="gold_correct_nonnegative"),
        CheckConstraint("gold_correct <= gold_answers", name="gold_correct_within"),
        CheckConstraint("gold_answers <= answers", name="gold_answers_within"),
    )

    project_id: Mapped[int] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    )
    worker_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    answers: Mapped[int] = mapped_column(BigInteger)
    gold_answers: Mapped[int] = mapped_column(BigInteger)
    gold_correct: Mapped[int] = mapped_column(BigInteger)


class ExamResult(Base):
    """A worker's qualification exam (a project whose items all carry gold).

    ``answered`` and ``correct`` count the current attempt. When it covers every exam item
    the attempt is scored: ``last_score``, ``best_score`` (the one qualification checks) and
    ``finished_at``; a worker below a pass mark of a project naming the exam may retry after
    ``retry_at`` (their attempt's answers are cleared so they can answer again).
    """

    __tablename__ = "exam_results"
    __table_args__ = (
        CheckConstraint("answered >= 0", name="answered_nonnegative"),
        CheckConstraint("correct >= 0 AND correct <= answered", name="correct_within"),
        CheckConstraint("attempts >= 0", name="attempts_nonnegative"),
    )

    exam_project_id: Mapped[int] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    )
    worker_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    attempts: Mapped[int] = mapped_column(Integer)
    answered: Mapped[int] = mapped_column(Integer)
    correct: Mapped[int] = mapped_column(Integer)
    last_score: Mapped[float | None] = mapped_column(Float)
    best_score: Mapped[float | None] = mapped_column(Float)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)
    retry_at: Mapped[datetime | None] = mapped_column(DateTime)


class ItemVote(Base):
    """How many answers of an item gave each primary value (a class, a side), in projects
    that route or escalate: disagreement and majority without reading the answers."""

    __tablename__ = "item_votes"

    item_id: Mapped[int] = mapped_column(
        ForeignKey("items.id", ondelete="CASCADE"), primary_key=True
    )
    value: Mapped[str] = mapped_column(String(200), primary_key=True)
    n: Mapped[int] = mapped_column(Integer)
