"""Red-teaming: conversation turns and campaign snapshots (docs/redteam.md)."""

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
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from expertloop.domain.redteam import TurnRole
from expertloop.store.tables._base import Base, BigId, Json, sql_values


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
