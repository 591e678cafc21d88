"""Worker rules and flags: a project's rules, the flags they raise with their numbers,
reinstating a paused worker, dismissing a flag, and what a worker is told about themselves."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from expertloop.api.deps import CurrentUser, DatabaseDep
from expertloop.api.openapi import error_responses
from expertloop.api.schemas import Id, SmallId, UtcDatetime
from expertloop.domain.worker_rules import WorkerRules
from expertloop.services import worker_rules
from expertloop.services.worker_rules import FlagRow, PauseState

router = APIRouter(tags=["worker rules"])


class PausePublic(BaseModel):
    paused_at: UtcDatetime
    reason: str

    @classmethod
    def of(cls, state: PauseState | None) -> PausePublic | None:
        return None if state is None else cls(paused_at=state.paused_at, reason=state.reason)


class WorkerFlagPublic(BaseModel):
    id: int
    project_id: int
    worker_id: int
    worker: str
    rule: str
    title: str
    message: str = Field(description="Why, with the numbers")
    details: dict[str, Any]
    events: int
    paused: bool = Field(description="The rule paused the worker when it raised this flag")
    created_at: UtcDatetime
    updated_at: UtcDatetime
    resolved_at: UtcDatetime | None
    resolved_by: int | None
    action: str | None
    worker_paused: PausePublic | None = Field(
        None, description="The worker's pause in the project now, if paused"
    )

    @classmethod
    def of(cls, flag: FlagRow, pause: PauseState | None = None) -> WorkerFlagPublic:
        return cls(
            id=flag.id, project_id=flag.project_id, worker_id=flag.worker_id,
            worker=flag.worker_name, rule=flag.rule, title=worker_rules.rule_title(flag.rule),
            message=flag.message, details=flag.details, events=flag.n_events,
            paused=flag.paused, created_at=flag.created_at, updated_at=flag.updated_at,
            resolved_at=flag.resolved_at, resolved_by=flag.resolved_by, action=flag.action,
            worker_paused=PausePublic.of(pause),
        )


class ReinstateBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: str = Field("", max_length=1000, description="Why, for the audit log")


class Reinstated(BaseModel):
    worker_id: int
    resolved_flags: list[int]


class StandingPublic(BaseModel):
    project_id: int
    paused: PausePublic | None


class EvaluationQueued(BaseModel):
    job_id: int


@router.get(
    "/projects/{project_id}/rules",
    summary="The project's worker rules (defaults where not set) (manager)",
    responses=error_responses(404),
)
def get_rules(project_id: SmallId, db: DatabaseDep, actor: CurrentUser) -> WorkerRules:
    return worker_rules.get_rules(db, actor=actor, project_id=project_id)


@router.put(
    "/projects/{project_id}/rules",
    summary="Set the project's worker rules; fields left out take their defaults (manager)",
    responses=error_responses(404, 422),
)
def put_rules(
    project_id: SmallId, body: WorkerRules, db: DatabaseDep, actor: CurrentUser
) -> WorkerRules:
    return worker_rules.set_rules(db, actor=actor, project_id=project_id, rules=body)


@router.post(
    "/projects/{project_id}/rules/evaluate",
    status_code=202,
    summary="Queue an evaluation of the project's worker rules now (manager)",
    responses=error_responses(404),
)
def evaluate_now(project_id: SmallId, db: DatabaseDep, actor: CurrentUser) -> EvaluationQueued:
    worker_rules.get_rules(db, actor=actor, project_id=project_id)  # authorises
    job = worker_rules.queue_evaluation(db, project_id)
    return EvaluationQueued(job_id=job.id)


@router.get(
    "/projects/{project_id}/worker-flags",
    summary="Flags the worker rules raised in the project, newest first (manager)",
    responses=error_responses(404),
)
def list_flags(
    project_id: SmallId,
    db: DatabaseDep,
    actor: CurrentUser,
    status: Literal["open", "all"] = "open",
    worker_id: SmallId | None = None,
) -> list[WorkerFlagPublic]:
    flags, pauses = worker_rules.list_worker_flags(
        db, actor=actor, project_id=project_id, open_only=status == "open", worker_id=worker_id
    )
    return [WorkerFlagPublic.of(f, pauses.get(f.worker_id)) for f in flags]


@router.post(
    "/projects/{project_id}/worker-flags/{flag_id}/dismiss",
    summary="Dismiss an open flag as a false alarm (manager); a paused worker stays paused",
    responses=error_responses(404, 422),
)
def dismiss_flag(
    project_id: SmallId, flag_id: Id, db: DatabaseDep, actor: CurrentUser
) -> WorkerFlagPublic:
    flag = worker_rules.dismiss_flag(db, actor=actor, project_id=project_id, flag_id=flag_id)
    return WorkerFlagPublic.of(flag)


@router.post(
    "/projects/{project_id}/workers/{worker_id}/reinstate",
    summary="Reinstate a paused or flagged worker in the project (manager)",
    responses=error_responses(404, 422),
)
def reinstate(
    project_id: SmallId,
    worker_id: SmallId,
    db: DatabaseDep,
    actor: CurrentUser,
    body: ReinstateBody | None = None,
) -> Reinstated:
    resolved = worker_rules.reinstate_worker(
        db, actor=actor, project_id=project_id, worker_id=worker_id,
        note=body.note if body is not None else "",
    )
    return Reinstated(worker_id=worker_id, resolved_flags=resolved)


@router.get(
    "/projects/{project_id}/my-standing",
    summary="Whether a worker rule paused the caller in the project, and why",
    responses=error_responses(404),
)
def my_standing(project_id: SmallId, db: DatabaseDep, actor: CurrentUser) -> StandingPublic:
    standing = worker_rules.my_standing(db, actor=actor, project_id=project_id)
    return StandingPublic(project_id=project_id, paused=PausePublic.of(standing.paused))
