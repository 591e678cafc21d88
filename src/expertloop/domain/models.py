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
    LEASED = "leased"
    ANSWERED = "answered"
    RELEASED = "released"
    EXPIRED = "expired"


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
