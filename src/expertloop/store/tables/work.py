"""The annotator loop: items, leases (assignments), answers, reviews, suggestions, reports,
imports, search and the per-hour roll-ups."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from expertloop.domain import (
    AssignmentStatus,
    ImportFormat,
    ImportStatus,
    ItemReportReason,
    ItemReportResolution,
    ReviewOutcome,
    ReviewSource,
    SuggestionSource,
)
from expertloop.store.tables._base import Base, BigId, Json, NullableJson, sql_values

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
