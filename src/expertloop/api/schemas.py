"""Request and response bodies of the REST API (separate from tables and domain objects)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from annotated_types import Interval
from pydantic import BaseModel, ConfigDict, Field, PlainSerializer

from expertloop.domain import Project, Review, ReviewOutcome, ReviewSource, ReviewStatus, Role, User
from expertloop.services.clock import iso_utc

__all__ = [
    "MAX_ID",
    "MAX_SMALL_ID",
    "AnswerPublic",
    "AnswerSubmit",
    "AssignmentPublic",
    "Id",
    "ImportResult",
    "ItemDisable",
    "ItemForWorker",
    "ItemStatePublic",
    "MembersAdd",
    "ProgressPublic",
    "ProjectCreate",
    "ProjectPublic",
    "ReviewDecision",
    "ReviewPublic",
    "ReviewQueued",
    "ReviewRequest",
    "ReviewSummaryPublic",
    "SmallId",
    "TokenRequest",
    "TokenResponse",
    "UserCreate",
    "UserPublic",
    "UtcDatetime",
    "WorkerReviewCounts",
    "iso_utc",
]


UtcDatetime = Annotated[datetime, PlainSerializer(iso_utc, return_type=str)]

MAX_ID = 2**63 - 1
MAX_SMALL_ID = 2**31 - 1
#: A row id in a path, query or body: items, assignments, answers and reviews have 64-bit
#: ids. Out of range is a 422 naming the parameter, never a database error.
Id = Annotated[int, Interval(ge=1, le=MAX_ID)]
#: The id of a user or a project: 32-bit INTEGER columns on PostgreSQL.
SmallId = Annotated[int, Interval(ge=1, le=MAX_SMALL_ID)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TokenRequest(Strict):
    # No NUL: PostgreSQL text cannot hold it, so the look-up would fail rather than miss.
    username: str = Field(min_length=1, max_length=150, pattern=r"^[^\x00]*$")
    password: str = Field(min_length=1, max_length=1000)


class TokenResponse(BaseModel):
    token: str
    token_type: str = "bearer"


class UserCreate(Strict):
    username: str = Field(min_length=1, max_length=150, pattern=r"^[A-Za-z0-9_.@+-]+$")
    password: str = Field(min_length=8, max_length=1000)
    role: Role


class UserPublic(BaseModel):
    id: int
    username: str
    role: Role
    is_active: bool

    @classmethod
    def of(cls, user: User) -> UserPublic:
        return cls(id=user.id, username=user.username, role=user.role, is_active=user.is_active)


class ProjectCreate(Strict):
    name: str = Field(min_length=1, max_length=200)
    task_type: str = Field(examples=["pairwise", "label"])
    config: dict[str, Any] = Field(default_factory=dict, examples=[{"labels": ["yes", "no"]}])
    guidelines: str = Field("", max_length=200_000, description="Markdown shown to workers.")
    answers_per_item: int = Field(3, ge=1, le=100)
    lease_seconds: int = Field(600, ge=10, le=7 * 24 * 3600)
    # The workforce (docs/workforce.md); changed later with PATCH /projects/{id}/workforce.
    required_skills: dict[str, Any] | None = Field(
        None, description="Skill name to minimum level 1-5", examples=[{"medicine": 2}]
    )
    qualification: dict[str, Any] | None = Field(
        None,
        description="The exam to pass first",
        examples=[{"exam_project_id": 7, "pass_mark": 0.8, "retry_after_seconds": 86400}],
    )
    gold_share: float | None = Field(None, ge=0, le=1, description="Share of gold items")
    route_min_accuracy: float | None = Field(
        None, ge=0, le=1, description="Gold accuracy from which a worker gets disputed items first"
    )
    escalate: bool = Field(False, description="Send items without a majority to reviewers")


class ProjectPublic(BaseModel):
    id: int
    name: str
    task_type: str
    config: dict[str, Any]
    guidelines: str
    answers_per_item: int
    lease_seconds: int
    created_by: int | None
    created_at: UtcDatetime

    @classmethod
    def of(cls, project: Project) -> ProjectPublic:
        return cls(
            id=project.id,
            name=project.name,
            task_type=project.task_type,
            config=project.config,
            guidelines=project.guidelines,
            answers_per_item=project.answers_per_item,
            lease_seconds=project.lease_seconds,
            created_by=project.created_by,
            created_at=project.created_at,
        )


class MembersAdd(Strict):
    user_ids: list[SmallId] = Field(min_length=1, max_length=10_000)


class ImportResult(BaseModel):
    count: int


class ItemForWorker(BaseModel):
    id: int
    payload: dict[str, Any]


class AssignmentPublic(BaseModel):
    assignment_id: int
    project_id: int
    task_type: str
    item: ItemForWorker
    expires_at: UtcDatetime


class AnswerSubmit(Strict):
    answer: dict[str, Any] = Field(
        examples=[{"choice": "A", "strength": 2, "rationale": "More accurate."}]
    )


class AnswerPublic(BaseModel):
    answer_id: int
    assignment_id: int
    item_id: int
    answer: dict[str, Any]
    created_at: UtcDatetime


class ProgressPublic(BaseModel):
    items: int
    answers: int
    items_complete: int
    active_leases: int


class ReviewRequest(Strict):
    """Exactly one of ``fraction``, ``count`` and ``answer_ids``."""

    fraction: float | None = Field(None, gt=0, le=1, examples=[0.1])
    count: int | None = Field(None, ge=1, le=10_000_000)
    worker_id: SmallId | None = None
    answer_ids: list[Id] | None = Field(None, min_length=1, max_length=10_000)


class ReviewQueued(BaseModel):
    queued: int


class ReviewDecision(Strict):
    outcome: ReviewOutcome
    comment: str = Field("", max_length=5000, description="Required when rejecting: why")
    answer: dict[str, Any] | None = Field(
        None, description="The corrected answer (canonical terms), for a fix only"
    )
    requeue: bool = Field(
        True, description="On a rejection: give the item one more answer to replace it"
    )


class ReviewPublic(BaseModel):
    review_id: int
    project_id: int
    status: ReviewStatus
    source: ReviewSource
    answer_id: int
    item_id: int
    external_id: str | None
    worker_id: int
    payload: dict[str, Any]
    answer: dict[str, Any]
    duration_ms: int
    answered_at: UtcDatetime
    requested_at: UtcDatetime
    reviewer_id: int | None
    lease_expires_at: UtcDatetime | None
    comment: str
    fixed_answer: dict[str, Any] | None
    decided_at: UtcDatetime | None

    @classmethod
    def of(cls, review: Review) -> ReviewPublic:
        return cls(
            review_id=review.id,
            project_id=review.project_id,
            status=review.status,
            source=review.source,
            answer_id=review.answer_id,
            item_id=review.item_id,
            external_id=review.external_id,
            worker_id=review.worker_id,
            payload=review.payload,
            answer=review.answer,
            duration_ms=review.duration_ms,
            answered_at=review.answered_at,
            requested_at=review.requested_at,
            reviewer_id=review.reviewer_id,
            lease_expires_at=review.lease_expires_at,
            comment=review.comment,
            fixed_answer=review.fixed_answer,
            decided_at=review.decided_at,
        )


class WorkerReviewCounts(BaseModel):
    worker_id: int
    username: str
    accepted: int
    rejected: int
    fixed: int
    pending: int
    acceptance_rate: float | None


class ReviewSummaryPublic(BaseModel):
    counts: dict[str, int]
    workers: list[WorkerReviewCounts]


class ItemStatePublic(BaseModel):
    """An item's state for its managers (no payload: that may be what cannot be served)."""

    id: int
    project_id: int
    external_id: str | None
    priority: int
    target: int
    n_answers: int
    open_slots: int
    created_at: UtcDatetime
    status: Literal["active", "disabled", "deleted"]
    disabled_at: UtcDatetime | None
    disabled_reason: str | None
    deleted_at: UtcDatetime | None


class ItemDisable(Strict):
    reason: str = Field("", max_length=2000, description="Why; shown to managers")
