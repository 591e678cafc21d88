"""Background jobs: their status, progress and result, and cancelling them."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel

from expertloop.api.deps import CurrentUser, DatabaseDep
from expertloop.api.schemas import Id, SmallId, UtcDatetime
from expertloop.services import jobs
from expertloop.services.jobs import JobRow

router = APIRouter(tags=["jobs"])

__all__ = ["JobPublic", "job_public", "router"]


class JobPublic(BaseModel):
    """A job as the API shows it (no lease owner: that is the workers' business)."""

    id: int
    kind: str
    project_id: int | None
    created_by: int | None
    status: Literal["queued", "running", "succeeded", "failed", "cancelled"]
    params: dict[str, Any]
    attempts: int
    max_attempts: int
    run_after: UtcDatetime
    progress_done: int
    progress_total: int | None
    result: dict[str, Any] | None
    error: str | None
    created_at: UtcDatetime
    started_at: UtcDatetime | None
    finished_at: UtcDatetime | None


def job_public(job: JobRow) -> JobPublic:
    fields = {name: getattr(job, name) for name in JobPublic.model_fields}
    return JobPublic(**fields)


@router.get("/jobs", summary="Jobs you may see, newest first")
def list_jobs(
    db: DatabaseDep,
    actor: CurrentUser,
    job_status: Annotated[
        Literal["queued", "running", "succeeded", "failed", "cancelled"] | None,
        Query(alias="status"),
    ] = None,
    kind: str | None = None,
    project_id: SmallId | None = None,
    before_id: Annotated[Id | None, Query(description="Page back from this job id")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
) -> list[JobPublic]:
    found = jobs.list_jobs(
        db, actor=actor, status=job_status, kind=kind, project_id=project_id,
        before_id=before_id, limit=limit,
    )
    return [job_public(job) for job in found]


@router.get("/jobs/{job_id}", summary="A job's status, progress and result")
def get_job(job_id: Id, db: DatabaseDep, actor: CurrentUser) -> JobPublic:
    return job_public(jobs.get_job(db, actor=actor, job_id=job_id))


@router.post("/jobs/{job_id}/cancel", summary="Cancel a queued or running job")
def cancel_job(job_id: Id, db: DatabaseDep, actor: CurrentUser) -> JobPublic:
    return job_public(jobs.cancel_job(db, actor=actor, job_id=job_id))
