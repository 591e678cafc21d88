"""Projects: their settings, guidelines history, members, rules and counters."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from expertloop.store.tables._base import Base, Json


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
