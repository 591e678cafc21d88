"""LLM judges and generation on a project (managers): generate items from models, run
judges as jobs, read their verdicts and their calibration against the experts, and choose
whether experts see verdicts. A worker reads
the verdicts on the item they hold only when the project shows them. See ``docs/llm.md``."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, status
from pydantic import BaseModel, Field

from expertloop.api.deps import CurrentUser, DatabaseDep, SettingsDep
from expertloop.api.openapi import error_responses
from expertloop.api.routes.jobs import JobPublic, job_public
from expertloop.api.schemas import Id, SmallId, Strict
from expertloop.services import llm

router = APIRouter(tags=["llm"])


class JudgeRunIn(Strict):
    provider: str = Field(min_length=1, max_length=64)
    judge: str | None = Field(
        None, max_length=100,
        description="Name of this judge in the project (default: the provider's).",
    )
    instructions: str | None = Field(None, max_length=20_000)
    params: dict[str, Any] = Field(default_factory=dict)
    seed: int | None = Field(None, ge=-(2**53 - 1), le=2**53 - 1)
    item_ids: list[Id] | None = Field(None, max_length=10_000)
    redo: bool = False


class GenerationIn(Strict):
    prompts: list[dict[str, Any]] = Field(
        min_length=1, max_length=5_000,
        description='`{"id": "p1", "prompt": "..." | [messages], ...}`; other fields go into '
        "each item's payload.",
    )
    providers: list[str] = Field(min_length=1, max_length=20)
    n: int = Field(1, ge=1, le=20, description="Samples per prompt from each provider.")
    params: dict[str, Any] = Field(default_factory=dict)
    seed: int = Field(0, ge=0, le=2**31 - 1)
    pairing: str = Field("all", description="Pairwise: `all`, `adjacent` or `random`.")
    pairs: int = Field(1, ge=1, le=1000, description="Pairwise `random`: pairs per prompt.")


class VerdictPublic(BaseModel):
    item_id: int
    judge: str
    provider: str
    model: str
    value: dict[str, Any] | None
    unsure: bool
    details: dict[str, Any]
    call_ids: list[Any]
    created_at: datetime


class AgreementPublic(BaseModel):
    """A judge's agreement with a reference: accuracy and Cohen's kappa over ``n`` items,
    with intervals at ``confidence``."""

    n: int
    accuracy: float | None
    accuracy_lower: float | None
    accuracy_upper: float | None
    kappa: float | None
    kappa_lower: float | None
    kappa_upper: float | None
    confidence: float


class CalibrationRowPublic(AgreementPublic):
    judge: str
    model: str
    key: str = Field(description="`overall`, a criterion, or `label`.")
    gold_items: int
    consensus_items: int
    unsure: int


class CalibrationPublic(BaseModel):
    project_id: int
    min_answers: int
    reference_items: int
    rows: list[CalibrationRowPublic]


class LlmSettingsPublic(BaseModel):
    project_id: int
    show_verdicts: bool
    triage: dict[str, Any] | None
    updated_at: datetime | None
    audit_share: float | None = Field(
        None, description="Adaptive redundancy's audit share; null: the project is not adaptive"
    )

    @classmethod
    def of(cls, settings: llm.LlmSettings) -> LlmSettingsPublic:
        return cls(
            project_id=settings.project_id, show_verdicts=settings.show_verdicts,
            triage=settings.triage, updated_at=settings.updated_at,
            audit_share=settings.audit_share,
        )


class LlmSettingsPatch(Strict):
    show_verdicts: bool | None = None
    # {"judges": ["judge name", ...]} turns triage on; null turns it off.
    triage: dict[str, Any] | None = None
    audit_share: float | None = Field(
        None, ge=0, le=1,
        description="Also set adaptive redundancy's audit share (its other settings kept), "
        "in the same change as triage",
    )


class JudgeAuditPublic(AgreementPublic):
    """A judge's agreement with the experts on the audit sample (the reported reliability)."""

    sample: str
    audit_share: float
    min_answers: int
    gold_items: int
    consensus_items: int
    split_items: int
    pending_items: int
    enough: bool


class JudgeMeasuredPublic(BaseModel):
    # The stopping model's accuracy and the agreement on the items two experts answered:
    # what the rule uses, biased low under triage; ``audit`` is the figure to report.
    accuracy: float
    agreement: float | None
    compared: int
    fitted_verdicts: int
    verdicts: int
    audit: JudgeAuditPublic | None = None


class TriagePublic(BaseModel):
    rule: dict[str, Any] | None
    judges: list[str]
    applied: bool
    policy: dict[str, Any] | None
    measured: dict[str, JudgeMeasuredPublic]
    model_fitted_at: str | None
    audit_min_items: int
    suggested_audit_share: float


class ShownVerdictPublic(BaseModel):
    judge: str
    value: dict[str, Any]


@router.post(
    "/projects/{project_id}/judge-runs",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Run an LLM judge over the project's items as a job (managers)",
    responses=error_responses(404, 422),
)
def start_judging(
    project_id: SmallId, body: JudgeRunIn, db: DatabaseDep, actor: CurrentUser
) -> JobPublic:
    job = llm.start_judging(db, actor=actor, project_id=project_id, **body.model_dump())
    return job_public(job)


@router.post(
    "/projects/{project_id}/generations",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Generate responses from models and build items of them, as a job (managers)",
    responses=error_responses(404, 422),
)
def start_generation(
    project_id: SmallId, body: GenerationIn, db: DatabaseDep, actor: CurrentUser
) -> JobPublic:
    job = llm.start_generation(db, actor=actor, project_id=project_id, **body.model_dump())
    return job_public(job)


@router.get(
    "/projects/{project_id}/verdicts",
    summary="The judges' verdicts on the project's items, by item (managers)",
    responses=error_responses(404),
)
def list_verdicts(
    project_id: SmallId,
    db: DatabaseDep,
    actor: CurrentUser,
    judge: Annotated[str | None, Query(max_length=100)] = None,
    after_item_id: Annotated[int, Query(ge=0, le=2**53 - 1)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[VerdictPublic]:
    rows = llm.list_verdicts(
        db, actor=actor, project_id=project_id, judge=judge, after_item_id=after_item_id,
        limit=limit,
    )
    return [
        VerdictPublic(
            item_id=r.item_id, judge=r.judge, provider=r.provider, model=r.model,
            value=r.value, unsure=r.unsure, details=r.details, call_ids=r.call_ids,
            created_at=r.created_at,
        )
        for r in rows
    ]


@router.get(
    "/projects/{project_id}/calibration",
    summary="Judge-expert agreement per judge, model and criterion, with intervals (managers)",
    responses=error_responses(404),
)
def get_calibration(
    project_id: SmallId,
    db: DatabaseDep,
    settings: SettingsDep,
    actor: CurrentUser,
    min_answers: Annotated[int, Query(ge=1, le=100)] = 2,
) -> CalibrationPublic:
    result = llm.calibrate(
        db, actor=actor, project_id=project_id, min_answers=min_answers,
        inline_max_items=settings.export_job_threshold_items,
    )
    return CalibrationPublic.model_validate(result.to_dict())


@router.get(
    "/projects/{project_id}/llm-settings",
    summary="Whether experts see the judges' verdicts; the triage rule (managers)",
    responses=error_responses(404),
)
def get_settings(project_id: SmallId, db: DatabaseDep, actor: CurrentUser) -> LlmSettingsPublic:
    return LlmSettingsPublic.of(llm.get_llm_settings(db, actor=actor, project_id=project_id))


@router.patch(
    "/projects/{project_id}/llm-settings",
    summary="Show the judges' verdicts to experts or not; turn triage on or off, with the "
    "audit share (managers)",
    responses=error_responses(404, 422),
)
def patch_settings(
    project_id: SmallId, body: LlmSettingsPatch, db: DatabaseDep, actor: CurrentUser
) -> LlmSettingsPublic:
    changes: dict[str, Any] = {}
    if "show_verdicts" in body.model_fields_set and body.show_verdicts is not None:
        changes["show_verdicts"] = body.show_verdicts
    if "triage" in body.model_fields_set:
        changes["triage"] = body.triage
    if body.audit_share is not None:
        changes["audit_share"] = body.audit_share
    return LlmSettingsPublic.of(
        llm.update_llm_settings(db, actor=actor, project_id=project_id, **changes)
    )


@router.get(
    "/projects/{project_id}/triage",
    summary="Triage as applied: its judges, the policy, each judge's measured agreement",
    responses=error_responses(404),
)
def get_triage(project_id: SmallId, db: DatabaseDep, actor: CurrentUser) -> TriagePublic:
    return TriagePublic.model_validate(llm.get_triage(db, actor=actor, project_id=project_id))


@router.get(
    "/assignments/{assignment_id}/verdicts",
    summary="The judges' verdicts on the item you hold, if the project shows them",
    responses=error_responses(404),
)
def assignment_verdicts(
    assignment_id: Id, db: DatabaseDep, actor: CurrentUser
) -> list[ShownVerdictPublic]:
    return [
        ShownVerdictPublic(judge=v.judge, value=v.value)
        for v in llm.verdicts_for_assignment(db, actor=actor, assignment_id=assignment_id)
    ]
