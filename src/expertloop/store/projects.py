"""Projects and their members."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Connection,
    DateTime,
    and_,
    delete,
    exists,
    func,
    insert,
    select,
    text,
    update,
)

from expertloop.domain import GuidelinesVersion, Project, Role
from expertloop.store import tables as t
from expertloop.store.dialects import insert_ignoring_conflicts
from expertloop.store.driver import DriverStatement

__all__ = [
    "Member",
    "add_guidelines_version",
    "add_members",
    "create_project",
    "existing_user_ids",
    "guidelines_versions",
    "list_members",
    "list_projects",
    "lock_project",
    "project_for_user",
    "remove_member",
    "set_archived",
    "update_project",
]

_PROJECT_COLUMNS = (
    t.Project.id,
    t.Project.name,
    t.Project.task_type,
    t.Project.config,
    t.Project.guidelines,
    t.Project.answers_per_item,
    t.Project.lease_seconds,
    t.Project.created_by,
    t.Project.created_at,
    t.Project.guidelines_version,
    t.Project.archived_at,
    t.Project.max_lease_extensions,
)


def _project(row: Any, *, is_member: bool) -> Project:
    return Project(
        id=row.id,
        name=row.name,
        task_type=row.task_type,
        config=row.config,
        guidelines=row.guidelines,
        answers_per_item=row.answers_per_item,
        lease_seconds=row.lease_seconds,
        created_by=row.created_by,
        created_at=row.created_at,
        is_member=is_member,
        guidelines_version=row.guidelines_version,
        archived_at=row.archived_at,
        max_lease_extensions=row.max_lease_extensions,
    )


def create_project(
    conn: Connection,
    *,
    name: str,
    task_type: str,
    config: dict[str, Any],
    guidelines: str,
    answers_per_item: int,
    lease_seconds: int,
    created_by: int,
    now: datetime,
    max_lease_extensions: int = 2,
) -> Project:
    row = conn.execute(
        insert(t.Project)
        .values(
            name=name,
            task_type=task_type,
            config=config,
            guidelines=guidelines,
            answers_per_item=answers_per_item,
            lease_seconds=lease_seconds,
            max_lease_extensions=max_lease_extensions,
            created_by=created_by,
            created_at=now,
        )
        .returning(*_PROJECT_COLUMNS)
    ).one()
    add_members(conn, row.id, [created_by], now=now)
    add_guidelines_version(
        conn, row.id, version=1, text=guidelines, created_by=created_by, now=now
    )
    return _project(row, is_member=True)


def _project_of(row: Sequence[Any]) -> Project:
    """A project from its columns in the order of its fields, then ``is_member``, the
    guidelines version, the archiving time, ``max_lease_extensions`` and ``workforce``."""
    (id_, name, task_type, config, guidelines, per_item, lease, creator, created, member,
     version, archived, extensions, workforce) = row
    return Project(
        id_, name, task_type, config, guidelines, per_item, lease, creator, created, bool(member),
        version, archived, extensions, bool(workforce),
    )


def _membership(user_id: Any) -> Any:
    return exists().where(
        and_(t.ProjectMember.project_id == t.Project.id, t.ProjectMember.user_id == user_id)
    )


# Hot path (every next-item request): plain SQL, so executing it costs no statement-cache
# key walk.
_PROJECT_FOR_USER = text(
    "SELECT p.id, p.name, p.task_type, p.config, p.guidelines, p.answers_per_item, "
    "p.lease_seconds, p.created_by, p.created_at, EXISTS (SELECT 1 FROM project_members m "
    "WHERE m.project_id = p.id AND m.user_id = :user_id) AS is_member, "
    "p.guidelines_version, p.archived_at, p.max_lease_extensions, "
    "EXISTS (SELECT 1 FROM project_workforce w WHERE w.project_id = p.id) AS workforce "
    "FROM projects p WHERE p.id = :project_id"
).columns(config=t.Json, created_at=DateTime(), archived_at=DateTime())


_PG_PROJECT_FOR_USER = DriverStatement(_PROJECT_FOR_USER)


def project_for_user(conn: Connection, project_id: int, user_id: int) -> Project | None:
    """The project with ``is_member`` set for ``user_id``, or ``None`` if it does not exist."""
    params = {"project_id": project_id, "user_id": user_id}
    if conn.dialect.name == "postgresql":
        row = _PG_PROJECT_FOR_USER.first(conn, params)
    else:
        row = conn.execute(_PROJECT_FOR_USER, params).first()
    return None if row is None else _project_of(row)


def list_projects(conn: Connection, user_id: int, *, all_projects: bool) -> list[Project]:
    membership = _membership(user_id)
    query = select(*_PROJECT_COLUMNS, membership.label("is_member")).order_by(t.Project.id)
    if not all_projects:
        query = query.where(membership)
    return [_project(r, is_member=bool(r.is_member)) for r in conn.execute(query)]


def existing_user_ids(conn: Connection, user_ids: Sequence[int]) -> set[int]:
    rows = conn.execute(select(t.User.id).where(t.User.id.in_(list(user_ids))))
    return {r.id for r in rows}


def user_ids_by_username(conn: Connection, usernames: Sequence[str]) -> dict[str, int]:
    """The ids of those of ``usernames`` that exist, by username."""
    rows = conn.execute(
        select(t.User.username, t.User.id).where(t.User.username.in_(list(usernames)))
    )
    return {r.username: r.id for r in rows}


def add_members(
    conn: Connection, project_id: int, user_ids: Iterable[int], *, now: datetime
) -> None:
    rows = [{"project_id": project_id, "user_id": u, "added_at": now} for u in user_ids]
    if rows:
        conn.execute(insert_ignoring_conflicts(conn, t.ProjectMember), rows)


def remove_member(conn: Connection, project_id: int, user_id: int) -> bool:
    """Take the user out of the project; ``False`` if they were not a member."""
    result = conn.execute(
        delete(t.ProjectMember).where(
            t.ProjectMember.project_id == project_id, t.ProjectMember.user_id == user_id
        )
    )
    return bool(result.rowcount)


def lock_project(conn: Connection, project_id: int) -> bool:
    """Lock the project's row until the transaction ends, so the project's settings
    changes that check one setting against another run one after the other, each reading
    what the last committed (``False``: no such project). On PostgreSQL ``FOR NO KEY
    UPDATE``, the lock an ``UPDATE`` of the row takes: it does not wait for, nor hold up,
    the inserts that reference the project (items, answers); SQLite's write transaction is
    exclusive already."""
    found = conn.execute(
        select(t.Project.id).where(t.Project.id == project_id).with_for_update(key_share=True)
    ).first()
    return found is not None


def update_project(conn: Connection, project_id: int, values: dict[str, Any]) -> None:
    """Set the given columns of the project (names as in ``projects``)."""
    if values:
        conn.execute(update(t.Project).where(t.Project.id == project_id).values(**values))


def set_archived(conn: Connection, project_id: int, archived_at: datetime | None) -> bool:
    """Archive (a time) or unarchive (``None``); ``False`` when it was so already."""
    column = t.Project.archived_at
    already = column.is_not(None) if archived_at is not None else column.is_(None)
    result = conn.execute(
        update(t.Project)
        .where(t.Project.id == project_id, ~already)
        .values(archived_at=archived_at)
    )
    return bool(result.rowcount)


def add_guidelines_version(
    conn: Connection,
    project_id: int,
    *,
    version: int,
    text: str,
    created_by: int | None,
    now: datetime,
) -> None:
    conn.execute(
        insert(t.ProjectGuidelines).values(
            project_id=project_id,
            version=version,
            text=text,
            created_at=now,
            created_by=created_by,
        )
    )


def guidelines_versions(conn: Connection, project_id: int) -> list[GuidelinesVersion]:
    """Every version of the project's guidelines, newest first, with its author's name."""
    rows = conn.execute(
        select(
            t.ProjectGuidelines.project_id,
            t.ProjectGuidelines.version,
            t.ProjectGuidelines.text,
            t.ProjectGuidelines.created_at,
            t.ProjectGuidelines.created_by,
            t.User.username,
        )
        .outerjoin(t.User, t.User.id == t.ProjectGuidelines.created_by)
        .where(t.ProjectGuidelines.project_id == project_id)
        .order_by(t.ProjectGuidelines.version.desc())
    )
    return [GuidelinesVersion(*row) for row in rows]


@dataclass(frozen=True, slots=True)
class Member:
    user_id: int
    username: str
    role: Role
    is_active: bool
    added_at: datetime


def list_members(conn: Connection, project_id: int) -> list[Member]:
    """The project's members, by username."""
    rows = conn.execute(
        select(
            t.User.id, t.User.username, t.User.role, t.User.is_active, t.ProjectMember.added_at
        )
        .join(t.ProjectMember, t.ProjectMember.user_id == t.User.id)
        .where(t.ProjectMember.project_id == project_id)
        .order_by(func.lower(t.User.username), t.User.username)
    )
    return [Member(r[0], r[1], Role(r[2]), bool(r[3]), r[4]) for r in rows]
