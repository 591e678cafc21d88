"""Consensus snapshots: the quality engine's fit of a project, per item and worker."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column

from expertloop.store.tables._base import Base, BigId, Json


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
