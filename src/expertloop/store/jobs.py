"""The jobs table: queueing, claiming, heartbeats and outcomes of background work.

A worker claims the oldest due job of the kinds it can run: a ``queued`` job whose
``run_after`` has passed, or a ``running`` job whose lease expired (its worker died). On
PostgreSQL the claim locks the row with ``FOR UPDATE SKIP LOCKED``, so any number of
workers in any number of processes take distinct jobs without waiting on each other; on
SQLite the write transaction (the database write lock) serialises claims. Every later write
of a running job names its ``lease_owner``: a worker that lost its lease (it stalled past
it, or the job was cancelled) changes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, DateTime, bindparam, delete, func, insert, select, text, update
from sqlalchemy.exc import IntegrityError

from expertloop.store import tables as t

__all__ = [
    "JOB_STATUSES",
    "JobRow",
    "cancel_job",
    "claim_next_job",
    "enqueue_job",
    "fail_job",
    "finish_job",
    "heartbeat_job",
    "list_jobs",
    "live_dedupe_keys",
    "load_job",
    "next_due_time",
    "prune_jobs",
    "reschedule_job",
    "retry_job",
]

JOB_STATUSES = ("queued", "running", "succeeded", "failed", "cancelled")


@dataclass(frozen=True, slots=True)
class JobRow:
    id: int
    kind: str
    project_id: int | None
    created_by: int | None
    status: str
    params: dict[str, Any]
    dedupe_key: str | None
    attempts: int
    max_attempts: int
    run_after: datetime
    lease_owner: str | None
    lease_expires_at: datetime | None
    progress_done: int
    progress_total: int | None
    result: dict[str, Any] | None
    error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


_COLUMNS = tuple(getattr(t.Job, name) for name in JobRow.__slots__)


def _row(row: Any) -> JobRow:
    return JobRow(*row)


def enqueue_job(
    conn: Connection,
    *,
    kind: str,
    params: dict[str, Any],
    now: datetime,
    project_id: int | None = None,
    created_by: int | None = None,
    dedupe_key: str | None = None,
    max_attempts: int = 3,
    run_after: datetime | None = None,
) -> tuple[JobRow, bool]:
    """Queue a job; ``(job, True)``. With a ``dedupe_key`` already queued or running,
    ``(that job, False)`` and nothing is added."""
    values = {
        "kind": kind,
        "project_id": project_id,
        "created_by": created_by,
        "status": "queued",
        "params": params,
        "dedupe_key": dedupe_key,
        "attempts": 0,
        "max_attempts": max_attempts,
        "run_after": run_after or now,
        "progress_done": 0,
        "created_at": now,
    }
    stmt = insert(t.Job).values(**values).returning(*_COLUMNS)
    if dedupe_key is None:
        return _row(conn.execute(stmt).one()), True
    try:
        with conn.begin_nested():
            return _row(conn.execute(stmt).one()), True
    except IntegrityError:
        existing = conn.execute(
            select(*_COLUMNS).where(
                t.Job.dedupe_key == dedupe_key, t.Job.status.in_(("queued", "running"))
            )
        ).first()
        if existing is None:  # it finished in between: queue again
            return enqueue_job(
                conn, kind=kind, params=params, now=now, project_id=project_id,
                created_by=created_by, dedupe_key=dedupe_key, max_attempts=max_attempts,
                run_after=run_after,
            )
        return _row(existing), False


def live_dedupe_keys(conn: Connection, keys: Sequence[str]) -> set[str]:
    """Which of ``keys`` belong to a queued or running job."""
    if not keys:
        return set()
    rows = conn.execute(
        select(t.Job.dedupe_key).where(
            t.Job.dedupe_key.in_(list(keys)), t.Job.status.in_(("queued", "running"))
        )
    )
    return {str(r[0]) for r in rows}


_DUE = (
    "((status = 'queued' AND run_after <= :now) "
    "OR (status = 'running' AND lease_expires_at < :now)) AND kind IN :kinds"
)


def claim_next_job(
    conn: Connection, *, kinds: Sequence[str], owner: str, now: datetime, lease_seconds: float
) -> JobRow | None:
    """Take the oldest due job of ``kinds`` for ``owner`` until ``now + lease_seconds``.

    Counts an attempt. Call it in a write transaction (on SQLite that is what makes it
    exclusive).
    """
    if not kinds:
        return None
    params = {"now": now, "kinds": list(kinds)}
    pick = f"SELECT id FROM jobs WHERE {_DUE} ORDER BY run_after, id LIMIT 1"
    if conn.dialect.name == "postgresql":
        pick += " FOR UPDATE SKIP LOCKED"
    stmt = text(pick).bindparams(
        bindparam("kinds", expanding=True), bindparam("now", type_=DateTime())
    )
    job_id = conn.execute(stmt, params).scalar()
    if job_id is None:
        return None
    row = conn.execute(
        update(t.Job)
        .where(t.Job.id == job_id)
        .values(
            status="running",
            lease_owner=owner,
            lease_expires_at=now + timedelta(seconds=lease_seconds),
            attempts=t.Job.attempts + 1,
            started_at=func.coalesce(t.Job.started_at, now),
            error=None,
        )
        .returning(*_COLUMNS)
    ).one()
    return _row(row)


def next_due_time(conn: Connection, *, kinds: Sequence[str]) -> datetime | None:
    """When the next job of ``kinds`` becomes due (a queued job's ``run_after`` or a running
    job's lease expiry), for a worker deciding how long to wait."""
    if not kinds:
        return None
    queued = select(func.min(t.Job.run_after)).where(
        t.Job.status == "queued", t.Job.kind.in_(list(kinds))
    )
    running = select(func.min(t.Job.lease_expires_at)).where(
        t.Job.status == "running", t.Job.kind.in_(list(kinds))
    )
    times = [conn.execute(queued).scalar(), conn.execute(running).scalar()]
    known = [moment for moment in times if moment is not None]
    return min(known) if known else None


def _owned(job_id: int, owner: str) -> Any:
    return (t.Job.id == job_id) & (t.Job.lease_owner == owner) & (t.Job.status == "running")


def heartbeat_job(
    conn: Connection,
    job_id: int,
    *,
    owner: str,
    now: datetime,
    lease_seconds: float,
    done: int,
    total: int | None,
) -> bool:
    """Extend the lease and record progress; ``False`` when the job is no longer ``owner``'s
    (cancelled, or claimed by another worker after the lease ran out)."""
    result = conn.execute(
        update(t.Job)
        .where(_owned(job_id, owner))
        .values(
            lease_expires_at=now + timedelta(seconds=lease_seconds),
            progress_done=done,
            progress_total=total,
        )
    )
    return result.rowcount == 1


def finish_job(
    conn: Connection,
    job_id: int,
    *,
    owner: str,
    now: datetime,
    result: dict[str, Any] | None,
    done: int,
    total: int | None,
) -> bool:
    """Mark ``owner``'s job succeeded with its result; ``False`` if it was not theirs."""
    changed = conn.execute(
        update(t.Job)
        .where(_owned(job_id, owner))
        .values(
            status="succeeded",
            result=result,
            error=None,
            lease_owner=None,
            lease_expires_at=None,
            progress_done=done,
            progress_total=total,
            finished_at=now,
        )
    )
    return changed.rowcount == 1


def reschedule_job(
    conn: Connection,
    job_id: int,
    *,
    owner: str,
    now: datetime,
    run_after: datetime,
    result: dict[str, Any] | None,
) -> bool:
    """Queue ``owner``'s finished periodic job again for ``run_after``, keeping its last
    result: a periodic kind is one row, not one row per run."""
    changed = conn.execute(
        update(t.Job)
        .where(_owned(job_id, owner))
        .values(status="queued", result=result, error=None, attempts=0, lease_owner=None,
                lease_expires_at=None, run_after=run_after, finished_at=now)
    )
    return changed.rowcount == 1


def prune_jobs(
    conn: Connection, *, finished_before: datetime, keep_kinds: Sequence[str], limit: int = 1000
) -> int:
    """Delete up to ``limit`` jobs that finished before ``finished_before`` (not ``keep_kinds``)."""
    doomed = (
        select(t.Job.id)
        .where(
            t.Job.status.in_(("succeeded", "failed", "cancelled")),
            t.Job.finished_at < finished_before,
            t.Job.kind.not_in(list(keep_kinds)),
        )
        .limit(limit)
    )
    ids = list(conn.execute(doomed).scalars())
    if not ids:
        return 0
    return int(conn.execute(delete(t.Job).where(t.Job.id.in_(ids))).rowcount)


def retry_job(
    conn: Connection, job_id: int, *, owner: str, error: str, run_after: datetime
) -> bool:
    """Put ``owner``'s job back in the queue after a failed attempt, due at ``run_after``."""
    changed = conn.execute(
        update(t.Job)
        .where(_owned(job_id, owner))
        .values(status="queued", error=error, lease_owner=None, lease_expires_at=None,
                run_after=run_after)
    )
    return changed.rowcount == 1


def fail_job(conn: Connection, job_id: int, *, owner: str, error: str, now: datetime) -> bool:
    """Mark ``owner``'s job failed for good."""
    changed = conn.execute(
        update(t.Job)
        .where(_owned(job_id, owner))
        .values(status="failed", error=error, lease_owner=None, lease_expires_at=None,
                finished_at=now)
    )
    return changed.rowcount == 1


def cancel_job(conn: Connection, job_id: int, *, now: datetime) -> JobRow | None:
    """Cancel a queued or running job (a running one stops at its next heartbeat); the job
    as it now is, or ``None`` if there is no such job. Finished jobs stay as they are."""
    conn.execute(
        update(t.Job)
        .where(t.Job.id == job_id, t.Job.status.in_(("queued", "running")))
        .values(status="cancelled", lease_owner=None, lease_expires_at=None, finished_at=now)
    )
    return load_job(conn, job_id)


def load_job(conn: Connection, job_id: int) -> JobRow | None:
    row = conn.execute(select(*_COLUMNS).where(t.Job.id == job_id)).first()
    return None if row is None else _row(row)


def list_jobs(
    conn: Connection,
    *,
    project_ids: Sequence[int] | None = None,
    status: str | None = None,
    kind: str | None = None,
    before_id: int | None = None,
    limit: int = 50,
) -> list[JobRow]:
    """Jobs newest first; ``project_ids`` limits them to those projects' jobs."""
    stmt = select(*_COLUMNS).order_by(t.Job.id.desc()).limit(limit)
    if project_ids is not None:
        stmt = stmt.where(t.Job.project_id.in_(list(project_ids)))
    if status is not None:
        stmt = stmt.where(t.Job.status == status)
    if kind is not None:
        stmt = stmt.where(t.Job.kind == kind)
    if before_id is not None:
        stmt = stmt.where(t.Job.id < before_id)
    return [_row(r) for r in conn.execute(stmt)]
