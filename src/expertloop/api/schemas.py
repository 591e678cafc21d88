"""Request and response bodies of the REST API (separate from tables and domain objects)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from annotated_types import Interval
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    field_validator,
    model_validator,
)

from expertloop.api.redundancy_schemas import RedundancyPut
from expertloop.domain import (
    GuidelinesVersion,
    Project,
    Review,
    ReviewOutcome,
    ReviewSource,
    ReviewStatus,
    Role,
    User,
)
from expertloop.domain.worker_rules import WorkerRules
from expertloop.services.clock import iso_utc
from expertloop.tasks import get_task_type

__all__ = [
    "MAX_ID",
    "MAX_SMALL_ID",
    "AnswerPublic",
    "AnswerSubmit",
    "AnswerTelemetryIn",
    "AssignmentPublic",
    "GoldPromotion",
    "GuidelinesHistory",
    "GuidelinesVersionPublic",
    "Id",
    "ImportResult",
    "ItemDisable",
    "ItemForWorker",
    "ItemGoldPublic",
    "ItemStatePublic",
    "MemberPublic",
    "MembersAdd",
    "ProgressPublic",
    "ProjectCreate",
    "ProjectPublic",
    "ProjectUpdate",
    "ReviewDecision",
    "ReviewPublic",
    "ReviewQueued",
    "ReviewRequest",
    "ReviewSummaryPublic",
    "SmallId",
    "TokenRequest",
    "TokenResponse",
    "UserCreate",
    "UserDirectoryEntry",
    "UserDirectoryPage",
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
    max_lease_extensions: int = Field(
        2,
        ge=0,
        le=100,
        description="How many times a worker may extend a lease, each time by lease_seconds.",
    )
    rules: WorkerRules | None = Field(
        None, description="Worker rules (flags and automatic pauses); left out: the defaults."
    )
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
    redundancy: RedundancyPut | None = Field(
        None,
        description="Adaptive redundancy (docs/quality.md); left out: answers_per_item on "
        "every item. Changed later with PUT /projects/{id}/redundancy.",
    )


class ProjectPublic(BaseModel):
    id: int
    name: str
    task_type: str
    config: dict[str, Any]
    guidelines: str
    answers_per_item: int
    lease_seconds: int
    max_lease_extensions: int
    created_by: int | None
    created_at: UtcDatetime
    export_formats: list[str] = Field(
        description="The training formats this project's task type exports (see docs/exports.md)"
    )
    guidelines_version: int
    archived: bool
    archived_at: UtcDatetime | None

    @classmethod
    def of(cls, project: Project) -> ProjectPublic:
        return cls(
            export_formats=list(get_task_type(project.task_type).export_formats),
            id=project.id,
            name=project.name,
            task_type=project.task_type,
            config=project.config,
            guidelines=project.guidelines,
            answers_per_item=project.answers_per_item,
            lease_seconds=project.lease_seconds,
            max_lease_extensions=project.max_lease_extensions,
            created_by=project.created_by,
            created_at=project.created_at,
            guidelines_version=project.guidelines_version,
            archived=project.is_archived,
            archived_at=project.archived_at,
        )


class ProjectUpdate(Strict):
    """The settings to change; fields left out stay as they are. Each has the limits of
    :class:`ProjectCreate`. New guidelines become a new version."""

    name: str | None = Field(None, min_length=1, max_length=200)
    config: dict[str, Any] | None = None
    guidelines: str | None = Field(None, max_length=200_000, description="Markdown.")
    answers_per_item: int | None = Field(
        None, ge=1, le=100, description="For items imported from now on"
    )
    lease_seconds: int | None = Field(None, ge=10, le=7 * 24 * 3600)
    max_lease_extensions: int | None = Field(
        None, ge=0, le=100, description="How many times a worker may extend a lease"
    )

    @field_validator("*")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        # Called only for the fields the request sets: null is not a setting's value.
        if value is None:
            raise ValueError("must not be null: leave the field out to keep it as it is")
        return value

    def changes(self) -> dict[str, Any]:
        """The fields the request set."""
        return {k: getattr(self, k) for k in sorted(self.model_fields_set)}


class GuidelinesVersionPublic(BaseModel):
    version: int
    text: str
    created_at: UtcDatetime
    created_by: int | None
    created_by_username: str | None

    @classmethod
    def of(cls, version: GuidelinesVersion) -> GuidelinesVersionPublic:
        return cls(
            version=version.version,
            text=version.text,
            created_at=version.created_at,
            created_by=version.created_by,
            created_by_username=version.created_by_name,
        )


class GuidelinesHistory(BaseModel):
    project_id: int
    current_version: int
    versions: list[GuidelinesVersionPublic] = Field(description="Newest first")


class MemberPublic(BaseModel):
    user_id: int
    username: str
    role: Role
    is_active: bool
    added_at: UtcDatetime


class UserDirectoryEntry(UserPublic):
    projects: list[int] = Field(
        description="Projects the user is a member of (for a manager: among the manager's own)"
    )


class UserDirectoryPage(BaseModel):
    users: list[UserDirectoryEntry]
    next_after: str | None = Field(
        description="Pass as ``after`` for the next page; null on the last page"
    )


class MembersAdd(Strict):
    """Users to add, by id, by username, or both (at least one user in all)."""

    user_ids: list[SmallId] = Field(default_factory=list, max_length=10_000)
    usernames: list[Annotated[str, Field(min_length=1, max_length=150)]] = Field(
        default_factory=list, max_length=10_000
    )

    @model_validator(mode="after")
    def _someone(self) -> MembersAdd:
        if not self.user_ids and not self.usernames:
            raise ValueError("name at least one user in user_ids or usernames")
        return self


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


class AnswerTelemetryIn(Strict):
    """How the web UI saw the answer's text entered (optional; stored beside the answer,
    never in it): characters typed and pasted into its text fields, and milliseconds spent
    typing."""

    typed_chars: int = Field(ge=0, le=10_000_000)
    pasted_chars: int = Field(ge=0, le=10_000_000)
    typing_ms: int = Field(ge=0, le=7 * 24 * 3600 * 1000)


class AnswerSubmit(Strict):
    answer: dict[str, Any] = Field(
        examples=[{"choice": "A", "strength": 2, "rationale": "More accurate."}]
    )
    telemetry: AnswerTelemetryIn | None = None


class AnswerPublic(BaseModel):
    answer_id: int
    assignment_id: int
    item_id: int
    answer: dict[str, Any]
    created_at: UtcDatetime
    guidelines_version: int = Field(
        description="The project's guidelines version when the item was leased to the worker"
    )


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
    guidelines_version: int = Field(
        description="The guidelines version the answer was given under"
    )

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
            guidelines_version=review.guidelines_version,
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


class GoldPromotion(Strict):
    """Set an item's gold: its consensus (``from_consensus: true``) or an explicit answer."""

    from_consensus: bool = Field(
        False, description="Use the item's consensus from the project's snapshot"
    )
    gold: dict[str, Any] | None = Field(
        None,
        description="A canonical answer, checked by the task type (instead of from_consensus)",
        examples=[{"choice": "A"}],
    )


class ItemGoldPublic(BaseModel):
    id: int
    project_id: int
    external_id: str | None
    gold: dict[str, Any] | None
