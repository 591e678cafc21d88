"""Adaptive redundancy (``services/redundancy.py``, docs/quality.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from expertloop.store.tables._base import Base, Json, NullableJson


class ProjectRedundancy(Base):
    """A project's adaptive redundancy; a project without a row collects its fixed
    ``answers_per_item`` on every item.

    Every item without gold first gets ``min_answers``; then, after each answer, it stops
    once the confidence of its consensus reaches ``target_confidence`` and otherwise asks
    for one more answer, up to ``max_answers`` (``quality.redundancy.next_target``).
    ``audit_share``: the share of items (``quality.redundancy.is_audited``, by project and
    item id) that get one answer more than ``min_answers`` whatever their confidence, so
    the workers' and judges' reliability is measured where experts overlap.
    """

    __tablename__ = "project_redundancy"
    __table_args__ = (
        CheckConstraint(
            "min_answers >= 1 AND min_answers <= max_answers", name="answers_range"
        ),
        CheckConstraint(
            "target_confidence >= 0.5 AND target_confidence < 1", name="confidence_range"
        ),
        CheckConstraint("audit_share >= 0 AND audit_share <= 1", name="audit_share_range"),
    )

    project_id: Mapped[int] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    )
    min_answers: Mapped[int] = mapped_column(Integer)
    max_answers: Mapped[int] = mapped_column(Integer)
    target_confidence: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[datetime] = mapped_column(DateTime)
    audit_share: Mapped[float] = mapped_column(Float, server_default=text("0"), default=0.0)


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
    # name: their confusion matrix, accuracy and measured agreement with the experts, and
    # (since 2026-12-04, in the same JSON) ``audit``, the agreement on the audit sample
    # that is reported (``services/redundancy_jobs.py``) (``None``: no judge in the model).
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
