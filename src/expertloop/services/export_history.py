"""What the console's exports page shows: the formats and filters a project's export offers
(asked of its task type), and its past export jobs with who started them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from expertloop.domain import User
from expertloop.domain.policies import can_read_gold
from expertloop.errors import PermissionDenied
from expertloop.services.export_jobs import EXPORT_KIND
from expertloop.services.jobs import JobRow, list_jobs
from expertloop.services.projects import load_project
from expertloop.store import Database
from expertloop.store import users as user_store
from expertloop.tasks import get_task_type

__all__ = ["ExportChoices", "PastExport", "export_choices", "past_exports"]


@dataclass(frozen=True)
class ExportChoices:
    """The training formats the project's task type offers (in its order) and the criteria
    an export may select instead of its primary channel (none for most types)."""

    formats: tuple[str, ...]
    criteria: list[str]


def export_choices(db: Database, *, actor: User, project_id: int) -> ExportChoices:
    with db.read() as conn:
        project = load_project(conn, actor=actor, project_id=project_id)
    if not can_read_gold(actor, is_member=project.is_member):
        raise PermissionDenied("only the project's managers can export it")
    task = get_task_type(project.task_type)
    return ExportChoices(tuple(task.export_formats), task.export_criteria(project.config))


@dataclass(frozen=True)
class PastExport:
    job: JobRow
    username: str | None

    @property
    def options(self) -> dict[str, Any]:
        return dict(self.job.params.get("options") or {})

    @property
    def format(self) -> str:
        return str(self.options.get("format", ""))

    @property
    def output(self) -> str:
        return str(self.job.params.get("output", ""))

    @property
    def rows(self) -> int | None:
        result = self.job.result or {}
        rows = result.get("rows")
        return int(rows) if rows is not None else None


def past_exports(
    db: Database, *, actor: User, project_id: int, limit: int = 20
) -> list[PastExport]:
    """The project's export jobs, newest first, for its managers."""
    found = list_jobs(db, actor=actor, kind=EXPORT_KIND, project_id=project_id, limit=limit)
    with db.read() as conn:
        names = user_store.usernames(conn, [j.created_by for j in found if j.created_by])
    return [PastExport(j, names.get(j.created_by) if j.created_by else None) for j in found]
