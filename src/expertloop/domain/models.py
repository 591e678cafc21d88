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


class ItemReportReason(enum.StrEnum):
    """Why a worker reported an item instead of answering it."""

    BROKEN = "broken"
    AMBIGUOUS = "ambiguous"
    HARMFUL = "harmful"
    OUTSIDE_EXPERTISE = "outside_expertise"


class ItemReportResolution(enum.StrEnum):
    """What a manager did with an item's reports: kept the item in service, or disabled it."""

    RESOLVED = "resolved"
    DISABLED = "disabled"


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
    SCORES = "scores"
    CLASSIFICATION = "classification"
    RUBRIC_RL = "rubric_rl"
    RAW = "raw"


class ExportFile(enum.StrEnum):
    """What an export is written as: a file (JSON lines, Parquet) or a saved Hugging Face
    ``DatasetDict`` with its card (the CLI only: it writes a directory)."""

    JSONL = "jsonl"
    PARQUET = "parquet"
    HUB = "hub"


class SuggestionSource(enum.StrEnum):
    """Where a model's suggestion about an item came from: another tool's prediction
    (Label Studio) or suggestion (Argilla), or an expertloop JSON file, imported with the
    item. It also names the imported annotator accounts (``<source>:<annotator>``)."""

    LABEL_STUDIO = "label-studio"
    ARGILLA = "argilla"
    IMPORT = "import"


class ImportFormat(enum.StrEnum):
    """What an uploaded item file holds: a JSON array, one JSON object per line, CSV with a
    header row, Label Studio tasks or Argilla records."""

    JSON = "json"
    NDJSON = "ndjson"
    CSV = "csv"
    LABEL_STUDIO = "label-studio"
    ARGILLA = "argilla"


class ImportStatus(enum.StrEnum):
    """Where an import of a file stands: waiting for its job, storing its items, every item
    stored, refused (invalid lines; nothing stored), or stopped by an error."""

    QUEUED = "queued"
    IMPORTING = "importing"
    SUCCEEDED = "succeeded"
    REJECTED = "rejected"
    FAILED = "failed"


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
    guidelines_version: int = 1
    archived_at: datetime | None = None
    # How many times a worker may extend a lease by another ``lease_seconds``.
    max_lease_extensions: int = 2
    # The project has workforce settings (gold share, exam, routing; see services/workforce):
    # the annotator loop reads the worker's counters only for such projects.
    workforce: bool = False

    @property
    def is_archived(self) -> bool:
        return self.archived_at is not None


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
class GuidelinesVersion:
    """One version of a project's guidelines, as written by ``created_by``."""

    project_id: int
    version: int
    text: str
    created_at: datetime
    created_by: int | None
    created_by_name: str | None = None


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
    guidelines_version: int = 1


class WorkerRule(enum.StrEnum):
    """A rule that watches a worker's answers in a project (``domain/worker_rules.py``)."""

    GOLD_ACCURACY = "gold_accuracy"
    SPAMMER_SCORE = "spammer_score"
    TOO_FAST = "too_fast"
    STRAIGHT_LINING = "straight_lining"
    NEAR_DUPLICATE = "near_duplicate"
    PASTED_TEXT = "pasted_text"
    COPIED_LABELS = "copied_labels"


class FlagAction(enum.StrEnum):
    """How a manager closed a worker flag: the worker reinstated, or the flag dismissed."""

    REINSTATED = "reinstated"
    DISMISSED = "dismissed"


class PayRateKind(enum.StrEnum):
    """How a project pays an accepted answer: a piece rate, or an hourly rate on time on task."""

    PIECE = "piece"
    HOURLY = "hourly"


class BonusMetric(enum.StrEnum):
    """What a bonus rule measures over a period (``docs/pay.md``, Bonus rules)."""

    REVIEW_ACCEPTANCE = "review_acceptance"  # answers accepted or fixed, of those reviewed
    GOLD_ACCURACY = "gold_accuracy"  # answers on gold items that match the gold
    CONSENSUS_AGREEMENT = "consensus_agreement"  # answers that give the item's consensus


class BonusPeriod(enum.StrEnum):
    """The calendar periods (UTC) a bonus rule pays over: ISO weeks or months."""

    WEEK = "week"
    MONTH = "month"


class LedgerKind(enum.StrEnum):
    """What a ledger transaction records (see ``docs/pay.md``)."""

    CREDIT = "credit"  # an answer earned its pay: project budget -> worker pending
    REVERSAL = "reversal"  # a rejected answer gives it back: worker pending/approved -> budget
    APPROVAL = "approval"  # an accepted (or fixed) answer's pay: worker pending -> approved
    ADJUSTMENT = "adjustment"  # a manager's manual change, with a reason
    PAYOUT = "payout"  # worker approved -> paid, in a payout batch


class LedgerAccount(enum.StrEnum):
    """The ledger's accounts: a project's budget, and a worker's pending, approved and paid
    money. Every transaction's postings sum to zero across them."""

    BUDGET = "budget"
    PENDING = "pending"
    APPROVED = "approved"
    PAID = "paid"
