"""Projects: creation, access, membership and progress."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection

from expertloop.domain import (
    Project,
    Role,
    User,
    can_add_members,
    can_create_projects,
    can_read_project,
)
from expertloop.domain.safe_json import json_problem
from expertloop.errors import InputInvalid, NotFound, PermissionDenied
from expertloop.store import Database, audit
from expertloop.store import items as item_store
from expertloop.store import projects as project_store
from expertloop.tasks import TaskValidationError, get_task_type

MAX_ANSWERS_PER_ITEM = 100
MIN_LEASE_SECONDS = 1
MAX_LEASE_SECONDS = 7 * 24 * 3600
MAX_LEASE_EXTENSIONS = 100

__all__ = [
    "add_members",
    "create_project",
    "get_project",
    "list_projects",
    "load_project",
    "project_progress",
]


def create_project(
    db: Database,
    *,
    actor: User,
    name: str,
    task_type: str,
    config: dict[str, Any] | None = None,
    guidelines: str = "",
    answers_per_item: int = 3,
    lease_seconds: int = 600,
    max_lease_extensions: int = 2,
) -> Project:
    if not can_create_projects(actor):
        raise PermissionDenied("only managers and admins can create projects")
    if not name.strip():
        raise InputInvalid.on_field("name", "project name must not be empty")
    if not 1 <= answers_per_item <= MAX_ANSWERS_PER_ITEM:
        raise InputInvalid.on_field(
            "answers_per_item", f"answers_per_item must be 1 to {MAX_ANSWERS_PER_ITEM}"
        )
    if not MIN_LEASE_SECONDS <= lease_seconds <= MAX_LEASE_SECONDS:
        raise InputInvalid.on_field(
            "lease_seconds",
            f"lease_seconds must be {MIN_LEASE_SECONDS} to {MAX_LEASE_SECONDS} (7 days)",
        )
    if not 0 <= max_lease_extensions <= MAX_LEASE_EXTENSIONS:
        raise InputInvalid.on_field(
            "max_lease_extensions",
            f"max_lease_extensions must be 0 to {MAX_LEASE_EXTENSIONS}",
        )
    problem = json_problem({"name": name, "config": config, "guidelines": guidelines})
    if problem is not None:
        raise InputInvalid(f"{problem.field}: {problem.message}", details=[problem.to_dict()])
    task = get_task_type(task_type)
    try:
        normalised = task.validate_config(config)
    except TaskValidationError as exc:
        errors = exc.prefixed("config").errors
        raise InputInvalid(
            f"invalid config for task type {task_type!r}: {exc.prefixed('config')}",
            details=[e.to_dict() for e in errors],
        ) from None
    now = db.clock.now()
    with db.write() as conn:
        project = project_store.create_project(
            conn,
            name=name.strip(),
            task_type=task_type,
            config=normalised,
            guidelines=guidelines,
            answers_per_item=answers_per_item,
            lease_seconds=lease_seconds,
            max_lease_extensions=max_lease_extensions,
            created_by=actor.id,
            now=now,
        )
        audit.record_event(
            conn, action="project.created", actor_id=actor.id, project_id=project.id, now=now
        )
    return project


def load_project(conn: Connection, *, actor: User, project_id: int) -> Project:
    """The project if ``actor`` may see it; otherwise ``NotFound``, so ids don't leak."""
    project = project_store.project_for_user(conn, project_id, actor.id)
    if project is None or not can_read_project(actor, is_member=project.is_member):
        raise NotFound(f"project {project_id} not found")
    return project


def get_project(db: Database, *, actor: User, project_id: int) -> Project:
    with db.read() as conn:
        return load_project(conn, actor=actor, project_id=project_id)


def list_projects(db: Database, *, actor: User) -> list[Project]:
    with db.read() as conn:
        return project_store.list_projects(conn, actor.id, all_projects=actor.role is Role.ADMIN)


def add_members(db: Database, *, actor: User, project_id: int, user_ids: Sequence[int]) -> None:
    now = db.clock.now()
    with db.write() as conn:
        project = load_project(conn, actor=actor, project_id=project_id)
        if not can_add_members(actor, is_member=project.is_member):
            raise PermissionDenied("only the project's managers can add members")
        wanted = sorted(set(user_ids))
        missing = sorted(set(wanted) - project_store.existing_user_ids(conn, wanted))
        if missing:
            raise InputInvalid.on_field("user_ids", f"no such users: {missing}")
        project_store.add_members(conn, project_id, wanted, now=now)
        audit.record_event(
            conn,
            action="project.members_added",
            actor_id=actor.id,
            project_id=project_id,
            now=now,
            details={"user_ids": wanted},
        )


def project_progress(db: Database, *, actor: User, project_id: int) -> item_store.Progress:
    with db.read() as conn:
        load_project(conn, actor=actor, project_id=project_id)
        return item_store.project_progress(conn, project_id, now=db.clock.now())
