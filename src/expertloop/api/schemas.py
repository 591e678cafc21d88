"""Request and response bodies of the REST API (separate from tables and domain objects)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer

from expertloop.domain import Project, Role, User
from expertloop.services.clock import iso_utc

__all__ = [
    "AnswerPublic",
    "AnswerSubmit",
    "AssignmentPublic",
    "ImportResult",
    "ItemForWorker",
    "MembersAdd",
    "ProgressPublic",
    "ProjectCreate",
    "ProjectPublic",
    "TokenRequest",
    "TokenResponse",
    "UserCreate",
    "UserPublic",
    "UtcDatetime",
    "iso_utc",
]


UtcDatetime = Annotated[datetime, PlainSerializer(iso_utc, return_type=str)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TokenRequest(Strict):
    username: str = Field(min_length=1, max_length=150)
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
    user_ids: list[int] = Field(min_length=1, max_length=10_000)


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
