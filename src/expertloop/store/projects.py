"""Projects and their members."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, DateTime, and_, delete, exists, insert, select, text

from expertloop.domain import Project
from expertloop.store import tables as t
from expertloop.store.dialects import insert_ignoring_conflicts
from expertloop.store.driver import DriverStatement

__all__ = [
    "add_members",
    "create_project",
    "existing_user_ids",
    "list_projects",
    "project_for_user",
    "remove_member",
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
            created_by=created_by,
            created_at=now,
        )
        .returning(*_PROJECT_COLUMNS)
    ).one()
    add_members(conn, row.id, [created_by], now=now)
    return _project(row, is_member=True)


def _project_of(row: Sequence[Any]) -> Project:
    """A project from its columns in the order of its fields, then ``is_member`` and
    ``workforce``."""
    (id_, name, task_type, config, guidelines, per_item, lease, creator, created, member,
     workforce) = row
    return Project(
        id_, name, task_type, config, guidelines, per_item, lease, creator, created,
        bool(member), bool(workforce),
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
    "EXISTS (SELECT 1 FROM project_workforce w WHERE w.project_id = p.id) AS workforce "
    "FROM projects p WHERE p.id = :project_id"
).columns(config=t.Json, created_at=DateTime())


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
