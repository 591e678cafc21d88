"""Projects: creation, settings, guidelines versions, archiving, access, membership and
progress."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection

from expertloop.domain import (
    GuidelinesVersion,
    Project,
    Role,
    User,
    can_add_members,
    can_create_projects,
    can_edit_project,
    can_read_project,
)
from expertloop.domain.safe_json import json_problem
from expertloop.errors import InputInvalid, NotFound, PermissionDenied
from expertloop.store import Database, audit
from expertloop.store import items as item_store
from expertloop.store import projects as project_store
from expertloop.tasks import TaskValidationError, get_task_type

if TYPE_CHECKING:
    from expertloop.services.caching import ExpiringCache

MAX_ANSWERS_PER_ITEM = 100
MIN_LEASE_SECONDS = 1
MAX_LEASE_SECONDS = 7 * 24 * 3600
MAX_LEASE_EXTENSIONS = 100

__all__ = [
    "EDITABLE",
    "add_members",
    "archive_project",
    "create_project",
    "forget_claimable",
    "get_project",
    "guidelines_versions",
    "list_members",
    "list_projects",
    "load_project",
    "project_progress",
    "unarchive_project",
    "update_project",
]


def _check_name(name: str) -> str:
    if not name.strip():
        raise InputInvalid.on_field("name", "project name must not be empty")
    return name.strip()


def _check_answers_per_item(answers_per_item: int) -> int:
    if not 1 <= answers_per_item <= MAX_ANSWERS_PER_ITEM:
        raise InputInvalid.on_field(
            "answers_per_item", f"answers_per_item must be 1 to {MAX_ANSWERS_PER_ITEM}"
        )
    return answers_per_item


def _check_lease_seconds(lease_seconds: int) -> int:
    if not MIN_LEASE_SECONDS <= lease_seconds <= MAX_LEASE_SECONDS:
        raise InputInvalid.on_field(
            "lease_seconds",
            f"lease_seconds must be {MIN_LEASE_SECONDS} to {MAX_LEASE_SECONDS} (7 days)",
        )
    return lease_seconds


def _check_lease_extensions(extensions: int) -> int:
    if not 0 <= extensions <= MAX_LEASE_EXTENSIONS:
        raise InputInvalid.on_field(
            "max_lease_extensions", f"max_lease_extensions must be 0 to {MAX_LEASE_EXTENSIONS}"
        )
    return extensions


def _check_config(task_type: str, config: dict[str, Any] | None) -> dict[str, Any]:
    task = get_task_type(task_type)
    try:
        return task.validate_config(config)
    except TaskValidationError as exc:
        errors = exc.prefixed("config").errors
        raise InputInvalid(
            f"invalid config for task type {task_type!r}: {exc.prefixed('config')}",
            details=[e.to_dict() for e in errors],
        ) from None


def _check_json(**values: Any) -> None:
    problem = json_problem(values)
    if problem is not None:
        raise InputInvalid(f"{problem.field}: {problem.message}", details=[problem.to_dict()])


# The settings a project's managers may change after creating it: each field's check, given
# the project and the new value, returns what is stored (the column of the same name).
# Another feature's setting is one entry here (and one in the API's ProjectUpdate and the
# console's SETTINGS_FIELDS).
EDITABLE: dict[str, Callable[[Project, Any], Any]] = {
    "name": lambda _, value: _check_name(value),
    "guidelines": lambda _, value: value,
    "config": lambda project, value: _check_config(project.task_type, value),
    "answers_per_item": lambda _, value: _check_answers_per_item(value),
    "lease_seconds": lambda _, value: _check_lease_seconds(value),
    "max_lease_extensions": lambda _, value: _check_lease_extensions(value),
}


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
    _check_name(name)
    _check_answers_per_item(answers_per_item)
    _check_lease_seconds(lease_seconds)
    _check_json(name=name, config=config, guidelines=guidelines)
    normalised = _check_config(task_type, config)
    _check_lease_extensions(max_lease_extensions)
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


def add_members(
    db: Database,
    *,
    actor: User,
    project_id: int,
    user_ids: Sequence[int] = (),
    usernames: Sequence[str] = (),
) -> list[int]:
    """Add users, named by id or by username, to the project; return the ids added (sorted).

    Unknown ids or usernames are an error naming them, and then nobody is added."""
    now = db.clock.now()
    with db.write() as conn:
        project = load_project(conn, actor=actor, project_id=project_id)
        if not can_add_members(actor, is_member=project.is_member):
            raise PermissionDenied("only the project's managers can add members")
        wanted = set(user_ids)
        if user_ids:
            missing = sorted(wanted - project_store.existing_user_ids(conn, sorted(wanted)))
            if missing:
                raise InputInvalid.on_field("user_ids", f"no such users: {missing}")
        if usernames:
            found = project_store.user_ids_by_username(conn, sorted(set(usernames)))
            unknown = sorted(set(usernames) - set(found))
            if unknown:
                raise InputInvalid.on_field("usernames", f"no such users: {', '.join(unknown)}")
            wanted |= set(found.values())
        added = sorted(wanted)
        project_store.add_members(conn, project_id, added, now=now)
        audit.record_event(
            conn,
            action="project.members_added",
            actor_id=actor.id,
            project_id=project_id,
            now=now,
            details={"user_ids": added},
        )
    return added


def project_progress(db: Database, *, actor: User, project_id: int) -> item_store.Progress:
    with db.read() as conn:
        load_project(conn, actor=actor, project_id=project_id)
        return item_store.project_progress(conn, project_id, now=db.clock.now())


def forget_claimable(claimable: ExpiringCache[tuple[int, int], Project] | None, pid: int) -> None:
    """This process's annotator loop remembers projects (``ClaimableProjects``); a changed
    one is dropped at once here, and other processes read it again within
    ``auth_cache_seconds``. Call it once the change is committed (inside
    :meth:`~expertloop.store.Database.transaction`, after the block)."""
    if claimable is not None:
        claimable.forget_where(lambda key, _: key[0] == pid)


def _editable_project(conn: Connection, actor: User, project_id: int) -> Project:
    project = load_project(conn, actor=actor, project_id=project_id)
    if not can_edit_project(actor, is_member=project.is_member):
        raise PermissionDenied("only the project's managers can change its settings")
    return project


def update_project(
    db: Database,
    *,
    actor: User,
    project_id: int,
    changes: Mapping[str, Any],
    claimable: ExpiringCache[tuple[int, int], Project] | None = None,
) -> Project:
    """Change the project's settings (any of :data:`EDITABLE`). New guidelines become a new
    version: items leased from then on (and their answers) record it. One audit event holds
    the changed fields as they were and as they became. The project's row is locked before
    it is read (``store.projects.lock_project``), so concurrent edits run one after the
    other: two guidelines edits become two versions, and each event's "before" is what the
    last edit committed."""
    unknown = sorted(set(changes) - set(EDITABLE))
    if unknown:
        raise InputInvalid.on_field(unknown[0], f"{unknown[0]!r} is not a project setting")
    _check_json(**dict(changes))
    now = db.clock.now()
    with db.write() as conn:
        project_store.lock_project(conn, project_id)
        project = _editable_project(conn, actor, project_id)
        values = {field: EDITABLE[field](project, value) for field, value in changes.items()}
        values = {k: v for k, v in values.items() if getattr(project, k, None) != v}
        before = {k: getattr(project, k, None) for k in values}
        after = dict(values)
        if "guidelines" in values:
            version = project.guidelines_version + 1
            project_store.add_guidelines_version(
                conn, project_id, version=version, text=values["guidelines"],
                created_by=actor.id, now=now,
            )
            values["guidelines_version"] = version
            # The texts are kept in the versions: the event names them.
            before["guidelines"] = {"version": project.guidelines_version}
            after["guidelines"] = {"version": version}
        if values:
            project_store.update_project(conn, project_id, values)
            audit.record_event(
                conn, action="project.updated", actor_id=actor.id, project_id=project_id,
                now=now, before=before, after=after,
            )
        updated = load_project(conn, actor=actor, project_id=project_id)
    forget_claimable(claimable, project_id)
    return updated


def _set_archived(
    db: Database,
    *,
    actor: User,
    project_id: int,
    archived: bool,
    claimable: ExpiringCache[tuple[int, int], Project] | None,
) -> Project:
    now = db.clock.now()
    with db.write() as conn:
        project = _editable_project(conn, actor, project_id)
        if project_store.set_archived(conn, project_id, now if archived else None):
            audit.record_event(
                conn,
                action="project.archived" if archived else "project.unarchived",
                actor_id=actor.id,
                project_id=project_id,
                now=now,
                before={"archived": project.is_archived},
                after={"archived": archived},
            )
        updated = load_project(conn, actor=actor, project_id=project_id)
    forget_claimable(claimable, project_id)
    return updated


def archive_project(
    db: Database,
    *,
    actor: User,
    project_id: int,
    claimable: ExpiringCache[tuple[int, int], Project] | None = None,
) -> Project:
    """Stop handing out the project's items (``next`` finds none); its items, answers and
    exports stay, and a lease already held can still be answered. Archiving an archived
    project changes nothing."""
    return _set_archived(
        db, actor=actor, project_id=project_id, archived=True, claimable=claimable
    )


def unarchive_project(
    db: Database,
    *,
    actor: User,
    project_id: int,
    claimable: ExpiringCache[tuple[int, int], Project] | None = None,
) -> Project:
    """Hand out the project's items again."""
    return _set_archived(
        db, actor=actor, project_id=project_id, archived=False, claimable=claimable
    )


def guidelines_versions(db: Database, *, actor: User, project_id: int) -> list[GuidelinesVersion]:
    """Every version of the guidelines, newest first (anyone who may see the project: its
    workers read the guidelines too)."""
    with db.read() as conn:
        load_project(conn, actor=actor, project_id=project_id)
        return project_store.guidelines_versions(conn, project_id)


def list_members(db: Database, *, actor: User, project_id: int) -> list[project_store.Member]:
    """The project's members with their roles (its managers and admins)."""
    with db.read() as conn:
        project = load_project(conn, actor=actor, project_id=project_id)
        if not can_add_members(actor, is_member=project.is_member):
            raise PermissionDenied("only the project's managers can list its members")
        return project_store.list_members(conn, project_id)
