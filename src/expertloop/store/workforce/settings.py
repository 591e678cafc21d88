"""A project's workforce settings row (gold share, exam, routing, escalation)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, insert, select, update

from expertloop.store import tables as t

__all__ = [
    "ProjectSettingsRow",
    "load_settings",
    "save_settings",
]


@dataclass(frozen=True, slots=True)
class ProjectSettingsRow:
    project_id: int
    gold_share: float | None
    exam_project_id: int | None
    pass_mark: float | None
    retry_after_seconds: int
    is_exam: bool
    route_min_accuracy: float | None
    escalate: bool
    updated_at: datetime


_SETTINGS_COLUMNS = (
    t.ProjectWorkforce.project_id,
    t.ProjectWorkforce.gold_share,
    t.ProjectWorkforce.exam_project_id,
    t.ProjectWorkforce.pass_mark,
    t.ProjectWorkforce.retry_after_seconds,
    t.ProjectWorkforce.is_exam,
    t.ProjectWorkforce.route_min_accuracy,
    t.ProjectWorkforce.escalate,
    t.ProjectWorkforce.updated_at,
)


def load_settings(conn: Connection, project_id: int) -> ProjectSettingsRow | None:
    row = conn.execute(
        select(*_SETTINGS_COLUMNS).where(t.ProjectWorkforce.project_id == project_id)
    ).first()
    return None if row is None else ProjectSettingsRow(*row)


def save_settings(conn: Connection, row: ProjectSettingsRow) -> None:
    values = {
        "gold_share": row.gold_share,
        "exam_project_id": row.exam_project_id,
        "pass_mark": row.pass_mark,
        "retry_after_seconds": row.retry_after_seconds,
        "is_exam": row.is_exam,
        "route_min_accuracy": row.route_min_accuracy,
        "escalate": row.escalate,
        "updated_at": row.updated_at,
    }
    changed = conn.execute(
        update(t.ProjectWorkforce)
        .where(t.ProjectWorkforce.project_id == row.project_id)
        .values(**values)
    ).rowcount
    if not changed:
        conn.execute(insert(t.ProjectWorkforce).values(project_id=row.project_id, **values))
