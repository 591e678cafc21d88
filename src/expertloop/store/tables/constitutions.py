"""Constitutions: principles, versions, proposals, statements and votes
(docs/constitutions.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from expertloop.domain.constitutions import (
    ProposalKind,
    ProposalStatus,
    Vote,
)
from expertloop.store.tables._base import Base, BigId, Json, NullableJson, sql_values


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
