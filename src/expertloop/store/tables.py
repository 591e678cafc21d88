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

from expertloop.domain import (
    AssignmentStatus,
    BonusMetric,
    BonusPeriod,
    CredentialKind,
    FlagAction,
    ImportFormat,
    ImportStatus,
    ItemReportReason,
    ItemReportResolution,
    LedgerAccount,
    LedgerKind,
    PayRateKind,
    ReviewOutcome,
    ReviewSource,
    Role,
    SuggestionSource,
    WorkerRule,
)
from expertloop.domain.redteam import TurnRole

__all__ = [
    "Answer",
    "AnswerHour",
    "AnswerRollupMark",
    "AnswerTelemetry",
    "ApiToken",
    "Assignment",
    "AuditEvent",
    "Base",
    "ConsensusItem",
    "ConsensusSnapshot",
    "ConsensusWorker",
    "ExamResult",
    "Item",
    "ItemImport",
    "ItemReport",
    "ItemSearch",
    "ItemVote",
    "Job",
    "LlmCall",
    "LlmProjectSettings",
    "LlmProvider",
    "LlmVerdict",
    "LoginFailure",
    "PayBonusRule",
    "PayBudget",
    "PayCursor",
    "PayPosting",
    "PayRate",
    "PayRatePremium",
    "PayTransaction",
    "PayoutAccount",
    "Project",
    "ProjectGuidelines",
    "ProjectMember",
    "ProjectRedundancy",
    "ProjectRules",
    "ProjectSkill",
    "ProjectWorkforce",
    "RedteamTurn",
    "RedundancyModel",
    "Review",
    "User",
    "UserCredential",
    "UserSkill",
    "WorkerFlag",
    "WorkerReliability",
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
        # The user directory searches by the start of a username, in any case.
        Index("ix_users_username_lower", text("lower(username)")),
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
        CheckConstraint(
            "max_lease_extensions >= 0 AND max_lease_extensions <= 100",
            name="max_lease_extensions_range",
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    task_type: Mapped[str] = mapped_column(String(50))
    config: Mapped[dict[str, Any]] = mapped_column(Json)
    guidelines: Mapped[str] = mapped_column(Text, default="")
    answers_per_item: Mapped[int] = mapped_column(Integer)
    lease_seconds: Mapped[int] = mapped_column(Integer)
    # How many times a worker may extend a lease (each by another lease_seconds).
    max_lease_extensions: Mapped[int] = mapped_column(Integer, server_default=text("2"))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    # The current version of the guidelines (``guidelines`` holds its text; every version
    # is in ``project_guidelines``).
    guidelines_version: Mapped[int] = mapped_column(Integer, server_default="1")
    # An archived project hands out no items; it keeps its data and its exports.
    archived_at: Mapped[datetime | None] = mapped_column(DateTime)


class ProjectGuidelines(Base):
    """Every version of a project's guidelines, kept when they are edited: each answer
    records the version in force when its item was leased."""

    __tablename__ = "project_guidelines"
    __table_args__ = (CheckConstraint("version >= 1", name="version_positive"),)

    project_id: Mapped[int] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    )
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


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


# An item with gold (a JSON column stores "no gold" as JSON null unless told otherwise).
_HAS_GOLD = "gold IS NOT NULL AND CAST(gold AS TEXT) <> 'null'"


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
            text("uncertainty DESC"),
            "id",
            # Exactly the items a claim may take (scheduling rules HAS_OPEN_SLOT and
            # IN_SERVICE), so the claim walks it in order without filtering.
            postgresql_where=text("open_slots > 0 AND disabled_at IS NULL"),
            sqlite_where=text("open_slots > 0 AND disabled_at IS NULL"),
        ),
        # The same order (scheduling.RULES: open slots, priority, uncertainty, id) over the
        # claimable gold items, and over the claimable disputed ones: the claim tiers of gold
        # mixing and of routing (scheduling rules IS_GOLD, DISPUTED) walk these, so finding
        # the first gold or disputed item reads a few rows.
        Index(
            "ix_items_gold_claim_order",
            "project_id",
            "open_slots",
            text("priority DESC"),
            text("uncertainty DESC"),
            "id",
            postgresql_where=text("open_slots > 0 AND disabled_at IS NULL AND gold IS NOT NULL"),
            sqlite_where=text("open_slots > 0 AND disabled_at IS NULL AND gold IS NOT NULL"),
        ),
        Index(
            "ix_items_disputed_claim_order",
            "project_id",
            "open_slots",
            text("priority DESC"),
            text("uncertainty DESC"),
            "id",
            postgresql_where=text("open_slots > 0 AND disabled_at IS NULL AND disputed"),
            sqlite_where=text("open_slots > 0 AND disabled_at IS NULL AND disputed = 1"),
        ),
        # The manager's item browser pages through a project's items by id (keyset), all of
        # them or those of one filter. The partial indexes hold rows that rarely change (gold,
        # disabled, complete items), so the claim and the submit, which update open items,
        # seldom touch them.
        Index("ix_items_project_id_id", "project_id", "id"),
        Index(
            "ix_items_gold",
            "project_id",
            "id",
            postgresql_where=text(_HAS_GOLD),
            sqlite_where=text(_HAS_GOLD),
        ),
        Index(
            "ix_items_disabled",
            "project_id",
            "id",
            postgresql_where=text("disabled_at IS NOT NULL"),
            sqlite_where=text("disabled_at IS NOT NULL"),
        ),
        Index(
            "ix_items_complete",
            "project_id",
            "id",
            postgresql_where=text("n_answers >= target"),
            sqlite_where=text("n_answers >= target"),
        ),
        # Adaptive redundancy's items whose target has not followed their last answer,
        # verdict or model yet (``retarget_due > 0``): what the sweep job re-targets.
        Index(
            "ix_items_retarget_due",
            "project_id",
            "id",
            postgresql_where=text("retarget_due > 0"),
            sqlite_where=text("retarget_due > 0"),
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
    # Adaptive redundancy (services/redundancy): the posterior probability of the item's
    # most probable class given its answers (NULL before any), and 1 - that, the claim's
    # order term UNCERTAIN_FIRST (0 until computed).
    confidence: Mapped[float | None] = mapped_column(Float)
    uncertainty: Mapped[float] = mapped_column(Float, default=0.0, server_default=text("0"))
    # Adaptive redundancy: events since the item's target last followed its evidence (each
    # answer in an adaptive project, each judge verdict, each refit while it collects add
    # one; a re-target that saw them all sets 0). The after-answer step updates the item only
    # if this is still what it read, so a concurrent event is never lost (see
    # store/redundancy.py); the sweep job picks up what is left.
    retarget_due: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    # What the item's source said about it (another tool's metadata): for managers and
    # exports, never shown to workers (it may unblind a comparison).
    meta: Mapped[dict[str, Any] | None] = mapped_column(Json)


# The live leases: what the partial indexes over assignments cover.
_LIVE = f"status = '{AssignmentStatus.LEASED}'"


class Assignment(Base):
    """A lease of an item to a worker. A worker gets at most one per item, ever."""

    __tablename__ = "assignments"
    __table_args__ = (
        CheckConstraint(f"status IN ({sql_values(AssignmentStatus)})", name="status"),
        CheckConstraint("extensions >= 0", name="extensions_nonnegative"),
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
    # Times the worker extended the lease (at most the project's max_lease_extensions).
    extensions: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    # The project's guidelines version when the item was leased: what the worker was given.
    guidelines_version: Mapped[int] = mapped_column(Integer, server_default="1")


class Answer(Base):
    """A worker's answer to an item, in canonical terms (see the task type)."""

    __tablename__ = "answers"
    __table_args__ = (
        UniqueConstraint("item_id", "worker_id"),
        UniqueConstraint("worker_id", "idempotency_key"),
        Index("ix_answers_project_id_id", "project_id", "id"),
        # A worker's own answers in a project, newest first (the My work page).
        Index("ix_answers_worker_id_project_id_id", "worker_id", "project_id", "id"),
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
    # Copied from the assignment: the guidelines version the item was given under.
    guidelines_version: Mapped[int] = mapped_column(Integer, server_default="1")


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
        # The console's outcomes per worker: an index-only scan, no join to the answers.
        Index("ix_reviews_project_id_worker_id", "project_id", "worker_id", "outcome"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    answer_id: Mapped[int] = mapped_column(
        ForeignKey("answers.id", ondelete="CASCADE"), unique=True
    )
    # The answer's worker, copied when queued (an answer's worker never changes). Nullable
    # only so SQLite adds the column without rebuilding the table (migration 0014); every
    # review is queued with it.
    worker_id: Mapped[int | None] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(String(16))
    requested_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    requested_at: Mapped[datetime] = mapped_column(DateTime)
    reviewer_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    lease_expires_at: Mapped[datetime | None] = mapped_column(DateTime)
    outcome: Mapped[str | None] = mapped_column(String(16))
    comment: Mapped[str] = mapped_column(Text, default="")
    fixed_value: Mapped[dict[str, Any] | None] = mapped_column(Json)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime)


class Suggestion(Base):
    """What a model (another tool's prediction or suggestion, later an LLM judge) said about
    an item, in canonical answer terms. Never an answer, never shown to workers."""

    __tablename__ = "suggestions"
    __table_args__ = (
        CheckConstraint(f"source IN ({sql_values(SuggestionSource)})", name="source"),
        Index("ix_suggestions_item_id", "item_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"))
    source: Mapped[str] = mapped_column(String(32))
    agent: Mapped[str] = mapped_column(String(255))
    value: Mapped[dict[str, Any]] = mapped_column(Json)
    score: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(DateTime)


class ItemReport(Base):
    """A worker's report of a problem with an item ("Report a problem with this item").

    One per (item, worker): the report ends the worker's lease, and the item is never
    offered to them again (their assignment stays, so the claim rule ``new_to_worker``
    excludes it). ``resolved_at``, ``resolved_by`` and ``resolution`` are set together when a
    manager deals with the item's reports.
    """

    __tablename__ = "item_reports"
    __table_args__ = (
        CheckConstraint(f"reason IN ({sql_values(ItemReportReason)})", name="reason"),
        CheckConstraint(
            f"resolution IS NULL OR resolution IN ({sql_values(ItemReportResolution)})",
            name="resolution",
        ),
        CheckConstraint(
            "(resolved_at IS NULL) = (resolution IS NULL)", name="resolved_iff_resolution"
        ),
        UniqueConstraint("item_id", "worker_id"),
        Index(
            "ix_item_reports_open",
            "project_id",
            "item_id",
            postgresql_where=text("resolved_at IS NULL"),
            sqlite_where=text("resolved_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"))
    worker_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    assignment_id: Mapped[int | None] = mapped_column(
        ForeignKey("assignments.id", ondelete="SET NULL")
    )
    reason: Mapped[str] = mapped_column(String(32))
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime)
    resolved_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    resolution: Mapped[str | None] = mapped_column(String(16))


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
    # What the manager's dashboard reads (alpha with its interval per channel, answer
    # distributions, position bias, item counts); NULL for a snapshot from before 0010.
    stats: Mapped[dict[str, Any] | None] = mapped_column(Json)


class ConsensusItem(Base):
    """One answered item's consensus in one generation of a project's snapshot.

    ``confidence`` and ``disagreement`` (1 - the share of answers giving the consensus)
    repeat the line's numbers as indexed columns, so the item browser sorts by them with an
    index scan; NULL for free-text items, which have neither.
    """

    __tablename__ = "consensus_items"
    __table_args__ = (
        Index(
            "ix_consensus_items_by_confidence",
            "project_id", "include_gold", "generation", "confidence", "item_id",
        ),
        Index(
            "ix_consensus_items_by_disagreement",
            "project_id", "include_gold", "generation", "disagreement", "item_id",
        ),
    )

    project_id: Mapped[int] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    )
    include_gold: Mapped[bool] = mapped_column(Boolean, primary_key=True)
    generation: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    item_id: Mapped[int] = mapped_column(BigId, primary_key=True)
    line: Mapped[dict[str, Any]] = mapped_column(Json)
    confidence: Mapped[float | None] = mapped_column(Float)
    disagreement: Mapped[float | None] = mapped_column(Float)


class ItemImport(Base):
    """An uploaded file of items and how its import went (see ``services/imports.py``).

    ``items_done`` counts the items stored so far; a background import writes it in the
    same transaction as each batch of items, so a job run again after a crash resumes after
    the last stored batch instead of storing it twice. ``errors`` keeps the first problems
    (line, field, message) of a refused file; ``total_errors`` counts them all.
    """

    __tablename__ = "item_imports"
    __table_args__ = (
        CheckConstraint(f"format IN ({sql_values(ImportFormat)})", name="format"),
        CheckConstraint(f"status IN ({sql_values(ImportStatus)})", name="status"),
        CheckConstraint("items_done >= 0", name="items_done_nonnegative"),
        CheckConstraint("total_errors >= 0", name="total_errors_nonnegative"),
        Index("ix_item_imports_project_id_id", "project_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    job_id: Mapped[int | None] = mapped_column(ForeignKey("jobs.id", ondelete="SET NULL"))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    filename: Mapped[str] = mapped_column(String(255))
    format: Mapped[str] = mapped_column(String(16))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16))
    items_total: Mapped[int | None] = mapped_column(BigInteger)
    items_done: Mapped[int] = mapped_column(BigInteger)
    total_errors: Mapped[int] = mapped_column(BigInteger)
    errors: Mapped[list[Any] | None] = mapped_column(Json)
    message: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)


class ConsensusWorker(Base):
    """One worker's numbers in one generation of a project's snapshot (the dashboard's
    per-worker table), written and switched with the generation's items."""

    __tablename__ = "consensus_workers"

    project_id: Mapped[int] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    )
    include_gold: Mapped[bool] = mapped_column(Boolean, primary_key=True)
    generation: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    worker_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    answers: Mapped[int] = mapped_column(BigInteger)
    median_ms: Mapped[int | None] = mapped_column(BigInteger)
    compared: Mapped[int] = mapped_column(BigInteger)  # observations compared with consensus
    agreement: Mapped[float | None] = mapped_column(Float)
    reliability: Mapped[float | None] = mapped_column(Float)
    gold_answers: Mapped[int] = mapped_column(BigInteger)
    gold_correct: Mapped[int] = mapped_column(BigInteger)
    gold_mean: Mapped[float | None] = mapped_column(Float)
    gold_low: Mapped[float | None] = mapped_column(Float)
    gold_high: Mapped[float | None] = mapped_column(Float)
    reviews_decided: Mapped[int] = mapped_column(BigInteger)
    reviews_accepted: Mapped[int] = mapped_column(BigInteger)
    position_decisive: Mapped[int] = mapped_column(BigInteger)
    position_first: Mapped[int] = mapped_column(BigInteger)
    position_p: Mapped[float | None] = mapped_column(Float)


class AnswerHour(Base):
    """Answers per project and hour (UTC), rolled up by the snapshot job from the answers
    stored since its last roll-up (``answer_rollup_marks``); ``items_complete`` is the
    project's complete items as the last snapshot of that hour counted them."""

    __tablename__ = "answer_hours"

    project_id: Mapped[int] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    )
    hour: Mapped[datetime] = mapped_column(DateTime, primary_key=True)
    answers: Mapped[int] = mapped_column(BigInteger)
    duration_ms: Mapped[int] = mapped_column(BigInteger)
    items_complete: Mapped[int | None] = mapped_column(BigInteger)


class AnswerRollupMark(Base):
    """The newest answer of the project already counted in ``answer_hours``."""

    __tablename__ = "answer_rollup_marks"

    project_id: Mapped[int] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    )
    last_answer_id: Mapped[int] = mapped_column(BigInteger)


class ItemSearch(Base):
    """The text the item browser searches (external id and the payload's strings), written
    once when an item is stored and never updated, so that its text index (trigram GIN on
    PostgreSQL where ``pg_trgm`` is available, created by migration 0010) costs nothing on
    the claim and submit, which update ``items`` rows."""

    __tablename__ = "item_search"
    __table_args__ = (Index("ix_item_search_project_id_item_id", "project_id", "item_id"),)

    item_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("items.id", ondelete="CASCADE"), primary_key=True
    )
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    text: Mapped[str] = mapped_column(Text)


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


class ProjectCounters(Base):
    """A project's item and answer counts, kept off the hot path: recounted in one pass over
    the items by a job (``counters.refresh``, and beside each consensus refit), read by the
    pages that show progress, so no page counts a million items.

    ``last_answer_id`` and ``last_item_id`` are the project's newest answer and item when it
    was counted: a newer one means the counts are behind. ``changes`` is bumped by the edits
    that change the counts without adding an answer or an item (disabling, deleting, gold,
    targets); ``counted_changes`` is its value when counted.
    """

    __tablename__ = "project_counters"

    project_id: Mapped[int] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    )
    items: Mapped[int] = mapped_column(BigInteger)
    items_open: Mapped[int] = mapped_column(BigInteger)
    items_complete: Mapped[int] = mapped_column(BigInteger)
    items_disabled: Mapped[int] = mapped_column(BigInteger)
    items_gold: Mapped[int] = mapped_column(BigInteger)
    answers: Mapped[int] = mapped_column(BigInteger)
    remaining_answers: Mapped[int] = mapped_column(BigInteger)
    last_answer_id: Mapped[int] = mapped_column(BigInteger)
    last_item_id: Mapped[int] = mapped_column(BigInteger)
    changes: Mapped[int] = mapped_column(Integer, default=0)
    counted_changes: Mapped[int] = mapped_column(Integer)
    counted_at: Mapped[datetime] = mapped_column(DateTime)
    duration_ms: Mapped[int] = mapped_column(Integer)


# --- adaptive redundancy (services/redundancy.py, docs/quality.md) -------------------------


class ProjectRedundancy(Base):
    """A project's adaptive redundancy; a project without a row collects its fixed
    ``answers_per_item`` on every item.

    Every item without gold first gets ``min_answers``; then, after each answer, it stops
    once the confidence of its consensus reaches ``target_confidence`` and otherwise asks
    for one more answer, up to ``max_answers`` (``quality.redundancy.next_target``).
    """

    __tablename__ = "project_redundancy"
    __table_args__ = (
        CheckConstraint(
            "min_answers >= 1 AND min_answers <= max_answers", name="answers_range"
        ),
        CheckConstraint(
            "target_confidence >= 0.5 AND target_confidence < 1", name="confidence_range"
        ),
    )

    project_id: Mapped[int] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    )
    min_answers: Mapped[int] = mapped_column(Integer)
    max_answers: Mapped[int] = mapped_column(Integer)
    target_confidence: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[datetime] = mapped_column(DateTime)


class RedundancyModel(Base):
    """The project's worker model as last fitted from its answers (the ``redundancy.fit``
    job): the classes (votes, in the task type's order), their prior, and the crowd's
    confusion matrix, which a worker without a row of ``worker_reliability`` gets.
    ``last_answer_id``: the newest answer the fit saw."""

    __tablename__ = "redundancy_models"

    project_id: Mapped[int] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    )
    classes: Mapped[list[str]] = mapped_column(Json)
    class_prior: Mapped[list[float]] = mapped_column(Json)
    default_confusion: Mapped[list[list[float]]] = mapped_column(Json)
    answers: Mapped[int] = mapped_column(BigInteger)
    last_answer_id: Mapped[int] = mapped_column(BigInteger)
    fitted_at: Mapped[datetime] = mapped_column(DateTime)
    duration_ms: Mapped[int] = mapped_column(Integer)
    # Triage (migration 0024): the model judges fitted as annotators with the experts, by
    # name: their confusion matrix, accuracy and measured agreement with the experts
    # (``None``: no judge in the model).
    judges: Mapped[dict[str, Any] | None] = mapped_column(NullableJson)


class WorkerReliability(Base):
    """One worker's confusion matrix in a project's worker model (row: true class, column:
    the vote given), and the accuracy it implies, with how many answers it rests on."""

    __tablename__ = "worker_reliability"
    __table_args__ = (
        CheckConstraint("accuracy >= 0 AND accuracy <= 1", name="accuracy_range"),
        CheckConstraint("answers >= 0", name="answers_nonnegative"),
    )

    project_id: Mapped[int] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    )
    worker_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    confusion: Mapped[list[list[float]]] = mapped_column(Json)
    accuracy: Mapped[float] = mapped_column(Float)
    answers: Mapped[int] = mapped_column(Integer)


# --- LLM providers and calls (migration 0016) ---------------------------------------------


class LlmProvider(Base):
    """An OpenAI-compatible endpoint admins configured: base URL, model, default parameters,
    timeout, retries and concurrency. Its API key is the name of an environment variable
    (``api_key_env``) or the key encrypted with the app's secret key (``api_key_encrypted``),
    never both; the API never returns either secret."""

    __tablename__ = "llm_providers"
    __table_args__ = (
        UniqueConstraint("name"),
        CheckConstraint("timeout_seconds > 0", name="timeout_positive"),
        CheckConstraint("max_retries >= 0", name="max_retries_nonnegative"),
        CheckConstraint("concurrency >= 1", name="concurrency_positive"),
        CheckConstraint(
            "api_key_env IS NULL OR api_key_encrypted IS NULL", name="one_key_source"
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    base_url: Mapped[str] = mapped_column(String(500))
    model: Mapped[str] = mapped_column(String(200))
    params: Mapped[dict[str, Any]] = mapped_column(Json)
    timeout_seconds: Mapped[float] = mapped_column(Float)
    max_retries: Mapped[int] = mapped_column(Integer)
    concurrency: Mapped[int] = mapped_column(Integer)
    api_key_env: Mapped[str | None] = mapped_column(String(200))
    api_key_encrypted: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime)


class LlmCall(Base):
    """One call to a model provider, successful or not: what was sent (model, messages,
    parameters, seed), what came back (text, finish reason, tokens, cost), how long it took,
    why it was made (``purpose``, project, item) and the error if it failed. ``cache_key``
    digests model, messages, parameters and seed: a later call with the same key reuses the
    recorded text instead of calling again (so a job resumed after a crash does not pay
    twice)."""

    __tablename__ = "llm_calls"
    __table_args__ = (
        Index("ix_llm_calls_cache_key", "cache_key"),
        Index("ix_llm_calls_project_id_id", "project_id", "id"),
        Index("ix_llm_calls_item_id", "item_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    provider_id: Mapped[int | None] = mapped_column(
        ForeignKey("llm_providers.id", ondelete="SET NULL")
    )
    provider: Mapped[str] = mapped_column(String(64))
    model: Mapped[str] = mapped_column(String(200))
    messages: Mapped[list[Any]] = mapped_column(Json)
    params: Mapped[dict[str, Any]] = mapped_column(Json)
    seed: Mapped[int | None] = mapped_column(BigInteger)
    cache_key: Mapped[str] = mapped_column(String(64))
    purpose: Mapped[str] = mapped_column(String(64))
    project_id: Mapped[int | None] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE")
    )
    item_id: Mapped[int | None] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"))
    text: Mapped[str | None] = mapped_column(Text)
    finish_reason: Mapped[str | None] = mapped_column(String(32))
    prompt_tokens: Mapped[int | None] = mapped_column(Integer)
    completion_tokens: Mapped[int | None] = mapped_column(Integer)
    latency_ms: Mapped[float] = mapped_column(Float)
    cost: Mapped[float | None] = mapped_column(Float)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime)


# --- red-teaming (see docs/redteam.md) ----------------------------------------------------


class RedteamTurn(Base):
    """One message of a red-team conversation held during an assignment: the expert's
    (``user``) or the target model's reply (``assistant``), at ``idx`` from 0. A reply
    names its model call (``call_id``, in ``llm_calls``), provider and model. An expert's
    turn without its reply yet is in flight (or its call failed and will be retried)."""

    __tablename__ = "redteam_turns"
    __table_args__ = (
        CheckConstraint(f"role IN ({sql_values(TurnRole)})", name="role"),
        CheckConstraint("idx >= 0", name="idx_nonnegative"),
        UniqueConstraint("assignment_id", "idx"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    assignment_id: Mapped[int] = mapped_column(
        ForeignKey("assignments.id", ondelete="CASCADE")
    )
    idx: Mapped[int] = mapped_column(Integer)
    role: Mapped[str] = mapped_column(String(16))
    content: Mapped[str] = mapped_column(Text)
    call_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("llm_calls.id", ondelete="SET NULL")
    )
    provider: Mapped[str | None] = mapped_column(String(200))
    model: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime)


# --- constitutions (docs/constitutions.md) -----------------------------------------------

from expertloop.domain.constitutions import (  # noqa: E402
    ProposalKind,
    ProposalStatus,
    Vote,
)

__all__ += [
    "Constitution",
    "ConstitutionPrinciple",
    "ConstitutionProposal",
    "ConstitutionStatement",
    "ConstitutionVersion",
    "StatementVote",
]


class Constitution(Base):
    """A constitution: its draft is in ``constitution_principles``, its published versions
    in ``constitution_versions``; ``latest_version`` is the newest published (0: none)."""

    __tablename__ = "constitutions"
    __table_args__ = (CheckConstraint("latest_version >= 0", name="latest_version_nonnegative"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    latest_version: Mapped[int] = mapped_column(Integer, default=0)
    # Set when the draft is edited, cleared when it is published.
    draft_changed: Mapped[bool] = mapped_column(Boolean, default=False)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime)


class ConstitutionPrinciple(Base):
    """A principle of a constitution's draft, in ``position`` order."""

    __tablename__ = "constitution_principles"

    constitution_id: Mapped[int] = mapped_column(
        ForeignKey("constitutions.id", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    position: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text)
    rationale: Mapped[str] = mapped_column(Text, default="")
    # {"compliance": [str, ...], "violation": [str, ...]}
    examples: Mapped[dict[str, Any]] = mapped_column(Json)
    updated_at: Mapped[datetime] = mapped_column(DateTime)


class ConstitutionVersion(Base):
    """A published version: a frozen copy of the draft's principles (a JSON list of
    principle objects, in order). Answers that used a principle name the version."""

    __tablename__ = "constitution_versions"
    __table_args__ = (CheckConstraint("version >= 1", name="version_positive"),)

    constitution_id: Mapped[int] = mapped_column(
        ForeignKey("constitutions.id", ondelete="CASCADE"), primary_key=True
    )
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    principles: Mapped[list[Any]] = mapped_column(Json)
    note: Mapped[str] = mapped_column(Text, default="")
    published_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    published_at: Mapped[datetime] = mapped_column(DateTime)


class ConstitutionProposal(Base):
    """An expert's proposal to add, amend or remove a principle, and its decision."""

    __tablename__ = "constitution_proposals"
    __table_args__ = (
        CheckConstraint(f"kind IN ({sql_values(ProposalKind)})", name="kind"),
        CheckConstraint(f"status IN ({sql_values(ProposalStatus)})", name="status"),
        Index("ix_constitution_proposals_constitution_id_status", "constitution_id", "status"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    constitution_id: Mapped[int] = mapped_column(
        ForeignKey("constitutions.id", ondelete="CASCADE")
    )
    kind: Mapped[str] = mapped_column(String(16))
    principle_key: Mapped[str] = mapped_column(String(64))
    # The principle as proposed (NULL for a removal).
    proposed: Mapped[dict[str, Any] | None] = mapped_column(NullableJson)
    reason: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    proposed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime)
    decision_note: Mapped[str] = mapped_column(Text, default="")


class ConstitutionStatement(Base):
    """A candidate statement put to a panel's vote (Collective Constitutional AI)."""

    __tablename__ = "constitution_statements"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    constitution_id: Mapped[int] = mapped_column(
        ForeignKey("constitutions.id", ondelete="CASCADE"), index=True
    )
    text: Mapped[str] = mapped_column(Text)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime)


class StatementVote(Base):
    """One voter's latest vote on a statement (a new vote replaces the old)."""

    __tablename__ = "statement_votes"
    __table_args__ = (CheckConstraint(f"vote IN ({sql_values(Vote)})", name="vote"),)

    statement_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("constitution_statements.id", ondelete="CASCADE"), primary_key=True
    )
    voter_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    vote: Mapped[str] = mapped_column(String(8))
    voted_at: Mapped[datetime] = mapped_column(DateTime)


# --- pay: rates, the ledger, budgets (migration 0018) ------------------------------------


class PayRate(Base):
    """A project's rate from ``effective_from`` on: the rate an answer earns is the newest
    one in effect when it was created (rates are never edited; a change is a new row, so
    the reconciliation can recompute any answer's pay). Amounts in minor units."""

    __tablename__ = "pay_rates"
    __table_args__ = (
        CheckConstraint(f"kind IN ({sql_values(PayRateKind)})", name="kind"),
        CheckConstraint("amount_minor >= 0", name="amount_nonnegative"),
        CheckConstraint(
            "max_seconds_per_item IS NULL OR max_seconds_per_item >= 1",
            name="max_seconds_positive",
        ),
        CheckConstraint(
            "review_window_seconds IS NULL OR review_window_seconds >= 1",
            name="review_window_positive",
        ),
        Index("ix_pay_rates_project_id_effective_from", "project_id", "effective_from", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    # Hourly rates: time on task counted per answer is capped at this many seconds.
    max_seconds_per_item: Mapped[int | None] = mapped_column(Integer)
    effective_from: Mapped[datetime] = mapped_column(DateTime)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    # The review window: an answer's pending pay is approved this long after the answer
    # unless a review rejected it first (NULL: only a review approves).
    review_window_seconds: Mapped[int | None] = mapped_column(Integer)


class PayTransaction(Base):
    """One ledger transaction. Append-only: rows are never updated or deleted (a mistake
    is mended by a new transaction). ``key`` is unique, so each effect (``answer:7:credit``)
    is written once however often it is attempted. No foreign keys: the ledger outlives
    the answers, users and projects it mentions."""

    __tablename__ = "pay_transactions"
    __table_args__ = (
        CheckConstraint(f"kind IN ({sql_values(LedgerKind)})", name="kind"),
        Index("ix_pay_transactions_worker_id_id", "worker_id", "id"),
        Index("ix_pay_transactions_project_id_id", "project_id", "id"),
        Index("ix_pay_transactions_answer_id", "answer_id"),
        Index("ix_pay_transactions_created_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    project_id: Mapped[int | None] = mapped_column(Integer)
    worker_id: Mapped[int | None] = mapped_column(Integer)
    answer_id: Mapped[int | None] = mapped_column(BigInteger)
    review_id: Mapped[int | None] = mapped_column(BigInteger)
    created_by: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    memo: Mapped[str] = mapped_column(Text, default="")
    # What a credit was computed from ({"rate_id": 5, "premium_ids": [2]}), so the
    # reconciliation recomputes the same amount whatever the worker's skills are now.
    meta: Mapped[dict[str, Any] | None] = mapped_column(NullableJson)


class PayPosting(Base):
    """One leg of a transaction: ``amount`` (minor units, signed) into an account. A
    worker's accounts are (kind, worker); a project's budget is (budget, project). The legs
    of a transaction sum to zero per currency."""

    __tablename__ = "pay_postings"
    __table_args__ = (
        CheckConstraint(f"account IN ({sql_values(LedgerAccount)})", name="account"),
        CheckConstraint(
            f"(account = '{LedgerAccount.BUDGET}') = (worker_id IS NULL)", name="owner"
        ),
        Index("ix_pay_postings_worker_id_account", "worker_id", "account"),
        Index("ix_pay_postings_project_id_account", "project_id", "account"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    transaction_id: Mapped[int] = mapped_column(
        ForeignKey("pay_transactions.id", ondelete="RESTRICT"), index=True
    )
    account: Mapped[str] = mapped_column(String(16))
    project_id: Mapped[int | None] = mapped_column(Integer)
    worker_id: Mapped[int | None] = mapped_column(Integer)
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))


class PayRatePremium(Base):
    """A premium on a rate: a worker with ``skill`` at ``min_level`` or more, or with a
    verified credential of ``credential_kind``, earns ``basis_points`` more (100 = 1 %) or
    ``amount_minor`` more per answer. Written with its rate, never edited."""

    __tablename__ = "pay_rate_premiums"
    __table_args__ = (
        CheckConstraint(
            "(skill IS NOT NULL AND min_level IS NOT NULL AND credential_kind IS NULL) OR "
            "(skill IS NULL AND min_level IS NULL AND credential_kind IS NOT NULL)",
            name="one_condition",
        ),
        CheckConstraint("(basis_points IS NULL) <> (amount_minor IS NULL)", name="one_value"),
        CheckConstraint(
            f"min_level IS NULL OR (min_level >= 1 AND min_level <= {MAX_SKILL_LEVEL})",
            name="level_range",
        ),
        CheckConstraint(
            f"credential_kind IS NULL OR credential_kind IN ({sql_values(CredentialKind)})",
            name="credential_kind",
        ),
        CheckConstraint(
            "basis_points IS NULL OR (basis_points >= 0 AND basis_points <= 100000)",
            name="basis_points_range",
        ),
        CheckConstraint("amount_minor IS NULL OR amount_minor >= 0", name="amount_nonnegative"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    rate_id: Mapped[int] = mapped_column(
        ForeignKey("pay_rates.id", ondelete="CASCADE"), index=True
    )
    skill: Mapped[str | None] = mapped_column(String(64))
    min_level: Mapped[int | None] = mapped_column(Integer)
    credential_kind: Mapped[str | None] = mapped_column(String(32))
    basis_points: Mapped[int | None] = mapped_column(Integer)
    amount_minor: Mapped[int | None] = mapped_column(BigInteger)


class PayBonusRule(Base):
    """A bonus a project's manager set: each worker whose ``metric`` over a calendar
    ``period`` (UTC) reaches ``threshold_bp`` (basis points of 1) on at least ``min_count``
    observations earns ``amount_minor``. The ``pay.bonus`` job pays each closed period once
    (the cursor ``bonus:{id}``); a disabled rule pays no period ending after it was
    disabled. Never edited otherwise."""

    __tablename__ = "pay_bonus_rules"
    __table_args__ = (
        CheckConstraint(f"metric IN ({sql_values(BonusMetric)})", name="metric"),
        CheckConstraint(f"period IN ({sql_values(BonusPeriod)})", name="period"),
        CheckConstraint("threshold_bp >= 0 AND threshold_bp <= 10000", name="threshold_range"),
        CheckConstraint("min_count >= 1", name="min_count_positive"),
        CheckConstraint("amount_minor >= 0", name="amount_nonnegative"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    metric: Mapped[str] = mapped_column(String(32))
    period: Mapped[str] = mapped_column(String(8))
    threshold_bp: Mapped[int] = mapped_column(Integer)
    min_count: Mapped[int] = mapped_column(Integer)
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    disabled_at: Mapped[datetime | None] = mapped_column(DateTime)


class PayCursor(Base):
    """How far the crediting sweep has read a stream (answers by id, decided reviews by
    time). Everything past the cursor is read again: the ledger's unique keys make a
    second pass write nothing."""

    __tablename__ = "pay_cursors"

    name: Mapped[str] = mapped_column(String(50), primary_key=True)
    last_id: Mapped[int] = mapped_column(BigInteger, default=0)
    last_at: Mapped[datetime | None] = mapped_column(DateTime)


class PayBudget(Base):
    """A project's budget and what the claim reads of it: ``stopped`` is set (by the
    crediting sweep) when spend plus the expected cost of live leases would pass
    ``amount_minor``, and the claim then leases nothing in the project."""

    __tablename__ = "pay_budgets"
    __table_args__ = (CheckConstraint("amount_minor >= 0", name="amount_nonnegative"),)

    project_id: Mapped[int] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    )
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    spent_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    committed_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    stopped: Mapped[bool] = mapped_column(Boolean, default=False)
    stopped_at: Mapped[datetime | None] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime)


class PayoutAccount(Base):
    """Where a worker's payouts go: a reference the payment provider understands (an IBAN,
    a PayPal address, a vendor id), written to payout files."""

    __tablename__ = "payout_accounts"

    worker_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    reference: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[datetime] = mapped_column(DateTime)


# The crediting sweep reads decisions in the order they were made.
Index(
    "ix_reviews_decided_at",
    Review.decided_at,
    postgresql_where=text("decided_at IS NOT NULL"),
    sqlite_where=text("decided_at IS NOT NULL"),
)


class RedteamCampaign(Base):
    """A red-team project's campaign numbers as last computed by a ``redteam.campaign``
    job (``numbers``: the campaign as the API serves it). ``last_answer_id``,
    ``decided_reviews`` and ``config_hash`` (of the project's taxonomy) say what it has
    seen; when all three are unchanged it is current."""

    __tablename__ = "redteam_campaigns"

    project_id: Mapped[int] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    )
    computed_at: Mapped[datetime] = mapped_column(DateTime)
    last_answer_id: Mapped[int] = mapped_column(BigInteger)
    decided_reviews: Mapped[int] = mapped_column(BigInteger)
    config_hash: Mapped[str] = mapped_column(String(64))
    attempts: Mapped[int] = mapped_column(BigInteger)
    duration_ms: Mapped[int] = mapped_column(BigInteger)
    numbers: Mapped[dict[str, Any]] = mapped_column(Json)


class LlmVerdict(Base):
    """A model judge's verdict on an item: a model suggestion in canonical answer terms,
    never an answer. One per (item, judge); judging again replaces it. ``value`` holds only
    what the judge was sure of (``None`` when nothing); ``unsure`` marks an item whose
    primary verdict is unsure (a pair judged inconsistently in its two orders, a reply that
    did not parse). ``call_ids`` are the recorded calls it came from (provenance)."""

    __tablename__ = "llm_verdicts"
    __table_args__ = (
        UniqueConstraint("item_id", "judge"),
        Index("ix_llm_verdicts_project_id_judge_item_id", "project_id", "judge", "item_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"))
    judge: Mapped[str] = mapped_column(String(100))
    provider: Mapped[str] = mapped_column(String(64))
    model: Mapped[str] = mapped_column(String(200))
    value: Mapped[dict[str, Any] | None] = mapped_column(NullableJson)
    unsure: Mapped[bool] = mapped_column(Boolean)
    details: Mapped[dict[str, Any]] = mapped_column(Json)
    call_ids: Mapped[list[Any]] = mapped_column(Json)
    created_at: Mapped[datetime] = mapped_column(DateTime)


class LlmProjectSettings(Base):
    """A project's model settings: whether its experts see the judges' verdicts on the
    items they work on (off unless the project says so), and the triage rule in force
    with the agreement measured when it was set (for the export card)."""

    __tablename__ = "llm_project_settings"

    project_id: Mapped[int] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    )
    show_verdicts: Mapped[bool] = mapped_column(Boolean)
    triage: Mapped[dict[str, Any] | None] = mapped_column(NullableJson)
    updated_at: Mapped[datetime] = mapped_column(DateTime)
    updated_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class PayBudgetBlock(Base):
    """A worker whose next lease in a budgeted project would cost more than the budget has
    left (their premiums make it dearer than the base rate that still fits): the claim
    leases them nothing there (scheduling rule ``WITHIN_BUDGET``). Kept by the budget's
    refresh (services/pay_budget), with the expected cost of their lease."""

    __tablename__ = "pay_budget_blocks"

    project_id: Mapped[int] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    )
    worker_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    unit_minor: Mapped[int] = mapped_column(BigInteger)
    since: Mapped[datetime] = mapped_column(DateTime)


class PayBonusMeasure(Base):
    """What a bonus rule measured for a worker over a paid period, when the measure rests
    on something that changes later (the consensus snapshot it was compared with, of
    ``generation``): the reconciliation recomputes the bonus from it. Written once, with
    the period's bonuses."""

    __tablename__ = "pay_bonus_measures"

    rule_id: Mapped[int] = mapped_column(
        ForeignKey("pay_bonus_rules.id", ondelete="CASCADE"), primary_key=True
    )
    period: Mapped[str] = mapped_column(String(16), primary_key=True)
    worker_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    counted: Mapped[int] = mapped_column(BigInteger)
    hits: Mapped[int] = mapped_column(BigInteger)
    generation: Mapped[int | None] = mapped_column(BigInteger)
    measured_at: Mapped[datetime] = mapped_column(DateTime)
