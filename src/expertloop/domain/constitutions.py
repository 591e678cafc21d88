"""Constitutions: versioned sets of principles that guide a model's self-critique.

A constitution has a *draft* (the principles as they stand now, edited by managers and by
accepted proposals) and *published versions* (frozen copies of the draft, numbered from 1).
Experts propose new principles, amendments and removals with a reason; reviewers accept or
reject them; managers publish. Candidate statements are voted on (agree / disagree / pass)
to find consensus across opinion groups. See ``docs/constitutions.md``.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from expertloop.domain.models import Role, User

__all__ = [
    "PRINCIPLE_KEY",
    "Constitution",
    "ConstitutionVersion",
    "Principle",
    "Proposal",
    "ProposalKind",
    "ProposalStatus",
    "Statement",
    "Vote",
    "can_decide_proposals",
    "can_manage_constitutions",
    "can_propose",
]

# A principle's id: short, stable, readable in exports and prompts ("harmless-1").
PRINCIPLE_KEY = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")


class ProposalKind(enum.StrEnum):
    """A new principle, a change to one, or taking one out."""

    ADD = "add"
    AMEND = "amend"
    REMOVE = "remove"


class ProposalStatus(enum.StrEnum):
    OPEN = "open"
    ACCEPTED = "accepted"
    REJECTED = "rejected"


class Vote(enum.StrEnum):
    """A voter's position on a candidate statement (Polis: agree +1, disagree -1, pass 0)."""

    AGREE = "agree"
    DISAGREE = "disagree"
    PASS = "pass"

    @property
    def score(self) -> int:
        return {"agree": 1, "disagree": -1, "pass": 0}[self.value]


@dataclass(frozen=True, slots=True)
class Principle:
    """One principle: its id (``key``), title, text, why it is there, and examples of
    responses that comply with it and that violate it."""

    key: str
    title: str
    text: str
    rationale: str = ""
    compliance_examples: tuple[str, ...] = ()
    violation_examples: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "title": self.title,
            "text": self.text,
            "rationale": self.rationale,
            "compliance_examples": list(self.compliance_examples),
            "violation_examples": list(self.violation_examples),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Principle:
        return cls(
            key=data["key"],
            title=data["title"],
            text=data["text"],
            rationale=data.get("rationale", ""),
            compliance_examples=tuple(data.get("compliance_examples", ())),
            violation_examples=tuple(data.get("violation_examples", ())),
        )


@dataclass(frozen=True, slots=True)
class Constitution:
    id: int
    name: str
    description: str
    created_at: datetime
    created_by: int | None
    # The number of the latest published version (0: none published yet).
    latest_version: int
    # Whether the draft differs from the latest published version.
    draft_changed: bool


@dataclass(frozen=True, slots=True)
class ConstitutionVersion:
    constitution_id: int
    version: int
    note: str
    published_at: datetime
    published_by: int | None
    principles: tuple[Principle, ...] = field(default_factory=tuple)


@dataclass(frozen=True, slots=True)
class Proposal:
    id: int
    constitution_id: int
    kind: ProposalKind
    principle_key: str
    # The principle as proposed (None for a removal).
    principle: Principle | None
    reason: str
    status: ProposalStatus
    proposed_by: int | None
    created_at: datetime
    decided_by: int | None
    decided_at: datetime | None
    decision_note: str


@dataclass(frozen=True, slots=True)
class Statement:
    id: int
    constitution_id: int
    text: str
    created_by: int | None
    created_at: datetime
    agree: int
    disagree: int
    passes: int


def can_manage_constitutions(user: User) -> bool:
    """Create constitutions, edit drafts, publish versions, add statements: managers."""
    return user.is_active and user.role in (Role.ADMIN, Role.MANAGER)


def can_decide_proposals(user: User) -> bool:
    """Accept or reject proposals: reviewers, and managers."""
    return user.is_active and user.role in (Role.ADMIN, Role.MANAGER, Role.REVIEWER)


def can_propose(user: User) -> bool:
    """Any active account (the experts) may propose principles and vote on statements."""
    return user.is_active
