"""Value objects passed between services and their callers (never database rows)."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from typing import Any


class Role(enum.StrEnum):
    ADMIN = "admin"
    MANAGER = "manager"
    REVIEWER = "reviewer"
    WORKER = "worker"


class AssignmentStatus(enum.StrEnum):
    """Where a lease of an item to a worker stands: held, answered, given back, or run out."""

    LEASED = "leased"
    ANSWERED = "answered"
    RELEASED = "released"
    EXPIRED = "expired"


class ReviewOutcome(enum.StrEnum):
    """A reviewer's decision on an answer: keep it, drop it (with a reason), or correct it."""

    ACCEPTED = "accepted"
    REJECTED = "rejected"
    FIXED = "fixed"


class ReviewStatus(enum.StrEnum):
    """Where a review stands: waiting for a decision, or the outcome of one."""

    PENDING = "pending"
    ACCEPTED = ReviewOutcome.ACCEPTED.value
    REJECTED = ReviewOutcome.REJECTED.value
    FIXED = ReviewOutcome.FIXED.value


class ReviewSource(enum.StrEnum):
    """How an answer came to be reviewed: drawn in a random sample, chosen by id, or
    escalated because the item's answers kept disagreeing (the reviewer adjudicates)."""

    SAMPLE = "sample"
    REQUEST = "request"
    ESCALATION = "escalation"


class CredentialKind(enum.StrEnum):
    """What a worker's recorded credential is (see ``docs/workforce.md``)."""

    DEGREE = "degree"
    LICENCE = "licence"
    CERTIFICATION = "certification"
    MEMBERSHIP = "membership"
    EMPLOYMENT = "employment"
    OTHER = "other"


class ExportFormat(enum.StrEnum):
    """The training-ready datasets an export writes (TRL's formats, and the raw answers)."""

    PREFERENCE = "preference"
    UNPAIRED = "unpaired"
    SFT = "sft"
    REWARD = "reward"
    RAW = "raw"


class ExportFile(enum.StrEnum):
    """What an export is written as: a file (JSON lines, Parquet) or a saved Hugging Face
    ``DatasetDict`` with its card (the CLI only: it writes a directory)."""

    JSONL = "jsonl"
    PARQUET = "parquet"
    HUB = "hub"


@dataclass(frozen=True, slots=True)
class User:
    id: int
    username: str
    role: Role
    is_active: bool = True


@dataclass(frozen=True, slots=True)
class Project:
    id: int
    name: str
    task_type: str
    config: dict[str, Any]
    guidelines: str
    answers_per_item: int
    lease_seconds: int
    created_by: int | None
    created_at: datetime
    is_member: bool = False
    # The project has workforce settings (gold share, exam, routing; see services/workforce):
    # the annotator loop reads the worker's counters only for such projects.
    workforce: bool = False


@dataclass(frozen=True, slots=True)
class ItemPublic:
    """What a worker may see of an item: never its gold."""

    id: int
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Assignment:
    id: int
    project_id: int
    item: ItemPublic
    expires_at: datetime
    task_type: str


@dataclass(frozen=True, slots=True)
class Answer:
    id: int
    assignment_id: int
    item_id: int
    answer: dict[str, Any]
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Review:
    """An answer under review, with what the reviewer needs to judge it (canonical terms:
    the item's payload as stored, the answer as stored) and the decision once made.
    ``status`` is ``"pending"`` or the outcome."""

    id: int
    project_id: int
    answer_id: int
    item_id: int
    external_id: str | None
    worker_id: int
    source: ReviewSource
    status: ReviewStatus
    payload: dict[str, Any]
    answer: dict[str, Any]
    duration_ms: int
    answered_at: datetime
    requested_at: datetime
    reviewer_id: int | None
    lease_expires_at: datetime | None
    comment: str
    fixed_answer: dict[str, Any] | None
    decided_at: datetime | None
