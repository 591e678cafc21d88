"""The workforce: skills, credentials, required skills, exams, gold counters, worker flags and
votes (``services/workforce``)."""

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
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from expertloop.domain import (
    CredentialKind,
    FlagAction,
    WorkerRule,
)
from expertloop.store.tables._base import Base, BigId, Json, sql_values


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
