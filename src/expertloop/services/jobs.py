"""Background jobs as people see them: queue, look at, list and cancel (see ``docs/jobs.md``).

Who sees a job: admins every job; the project's managers (members who may read its gold)
the jobs of their projects; anyone the jobs they started. Project-less jobs (the lease
sweep) are the admins'.
"""

from __future__ import annotations

import importlib
import pkgutil
from datetime import timedelta
from typing import Any

from expertloop.domain import Role, User
from expertloop.domain.policies import can_read_gold
from expertloop.errors import InputInvalid, NotFound
from expertloop.jobs import JobContext, JobKind, job_kind, job_kinds
from expertloop.services.projects import load_project
from expertloop.settings import Settings
from expertloop.store import Database, audit
from expertloop.store import jobs as job_store
from expertloop.store import projects as project_store
from expertloop.store.jobs import JOB_STATUSES, JobRow

__all__ = [
    "PRUNE_KIND",
    "JobRow",
    "cancel_job",
    "chosen_job_kinds",
    "get_job",
    "list_jobs",
    "load_job_kinds",
    "prune_finished_jobs",
    "queue_job",
]

PRUNE_KIND = "jobs.prune"
# Jobs whose output people download are kept: deleting one is deleting its files' record.
_KEPT_KINDS = ("export.dataset",)


def load_job_kinds() -> dict[str, JobKind]:
    """Every job kind, after importing the service modules that declare them.

    Feature modules register their kinds on import (``@job_kind``); importing every module
    of ``expertloop.services`` here means a new kind needs no edit outside its module.
    """
    import expertloop.services as services

    for module in pkgutil.iter_modules(services.__path__):
        importlib.import_module(f"expertloop.services.{module.name}")
    return job_kinds()


def chosen_job_kinds(settings: Settings) -> dict[str, JobKind]:
    """The kinds this process's job workers run: ``settings.job_kinds`` (comma-separated),
    or every registered kind when it is empty. An unknown name is a configuration error."""
    kinds = load_job_kinds()
    wanted = [name.strip() for name in settings.job_kinds.split(",") if name.strip()]
    if not wanted:
        return kinds
    unknown = sorted(set(wanted) - set(kinds))
    if unknown:
        raise ValueError(
            f"EXPERTLOOP_JOB_KINDS names unknown job kinds {unknown}; known: {sorted(kinds)}"
        )
    return {name: kinds[name] for name in wanted}


def queue_job(
    db: Database,
    *,
    kind: str,
    params: dict[str, Any],
    project_id: int | None = None,
    created_by: int | None = None,
    dedupe_key: str | None = None,
) -> tuple[JobRow, bool]:
    """Queue a job of a registered kind; ``(job, created)`` (see ``store.jobs.enqueue_job``).

    Callers check permission first: this is the plumbing, not a use case.
    """
    kinds = load_job_kinds()
    if kind not in kinds:
        raise InputInvalid.on_field("kind", f"unknown job kind {kind!r}")
    with db.write() as conn:
        return job_store.enqueue_job(
            conn,
            kind=kind,
            params=params,
            now=db.clock.now(),
            project_id=project_id,
            created_by=created_by,
            dedupe_key=dedupe_key,
            max_attempts=kinds[kind].max_attempts,
        )


def _may_see(db: Database, actor: User, job: JobRow) -> bool:
    if actor.role is Role.ADMIN or job.created_by == actor.id:
        return True
    if job.project_id is None:
        return False
    with db.read() as conn:
        try:
            project = load_project(conn, actor=actor, project_id=job.project_id)
        except NotFound:
            return False
    return can_read_gold(actor, is_member=project.is_member)


def get_job(db: Database, *, actor: User, job_id: int) -> JobRow:
    """The job, if ``actor`` may see it (``NotFound`` otherwise, so ids don't leak)."""
    with db.read() as conn:
        job = job_store.load_job(conn, job_id)
    if job is None or not _may_see(db, actor, job):
        raise NotFound(f"job {job_id} not found")
    return job


def list_jobs(
    db: Database,
    *,
    actor: User,
    status: str | None = None,
    kind: str | None = None,
    project_id: int | None = None,
    before_id: int | None = None,
    limit: int = 50,
) -> list[JobRow]:
    """The jobs ``actor`` may see, newest first (``before_id`` pages back)."""
    if status is not None and status not in JOB_STATUSES:
        raise InputInvalid.on_field(
            "status", f"unknown job status {status!r}; use one of {', '.join(JOB_STATUSES)}"
        )
    if not 1 <= limit <= 1000:
        raise InputInvalid.on_field("limit", "limit must be between 1 and 1000")
    with db.read() as conn:
        if project_id is not None:
            project = load_project(conn, actor=actor, project_id=project_id)
            if not can_read_gold(actor, is_member=project.is_member):
                raise NotFound(f"project {project_id} not found")
            scope: list[int] | None = [project_id]
        elif actor.role is Role.ADMIN:
            scope = None
        else:
            scope = [
                p.id
                for p in project_store.list_projects(conn, actor.id, all_projects=False)
                if can_read_gold(actor, is_member=p.is_member)
            ]
        return job_store.list_jobs(
            conn, project_ids=scope, status=status, kind=kind, before_id=before_id, limit=limit
        )


def cancel_job(db: Database, *, actor: User, job_id: int) -> JobRow:
    """Cancel a queued or running job; a running one stops at its next heartbeat."""
    before = get_job(db, actor=actor, job_id=job_id)
    now = db.clock.now()
    with db.write() as conn:
        job = job_store.cancel_job(conn, job_id, now=now)
        assert job is not None  # jobs are not deleted
        audit.record_event(
            conn,
            action="job.cancelled",
            actor_id=actor.id,
            now=now,
            project_id=job.project_id,
            details={"job_id": job_id, "kind": job.kind},
            before={"status": before.status},
            after={"status": job.status},
        )
    return job


@job_kind(PRUNE_KIND, max_attempts=1, every=lambda _settings: 3600.0)
def prune_finished_jobs(context: JobContext) -> dict[str, Any]:
    """Hourly: delete jobs that finished more than ``job_retention_days`` ago (consensus
    refreshes would otherwise pile up), except export jobs."""
    cutoff = context.database.clock.now() - timedelta(days=context.settings.job_retention_days)
    deleted = 0
    while True:
        with context.database.write() as conn:
            batch = job_store.prune_jobs(conn, finished_before=cutoff, keep_kinds=_KEPT_KINDS)
        deleted += batch
        context.advance(batch)
        if batch < 1000:
            return {"deleted": deleted}
