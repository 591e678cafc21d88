"""Grading against a constitution version, and the per-principle statistics of the grades."""

from __future__ import annotations

from fastapi import APIRouter, status
from pydantic import BaseModel, ConfigDict, Field

from expertloop.api.deps import CurrentUser, DatabaseDep
from expertloop.api.schemas import SmallId
from expertloop.services import constitution_grading

router = APIRouter(tags=["constitutions"])

__all__ = ["GradingProjectIn", "PrincipleStatsPublic", "StatsPublic", "router"]


class GradingProjectIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)
    answers_per_item: int = Field(3, ge=1, le=100)
    guidelines: str = Field("", max_length=100_000)


class PrincipleStatsPublic(BaseModel):
    key: str
    judgments: int
    not_applicable_rate: float | None
    coverage: int = Field(description="Items where some expert found the principle applicable")
    alpha: float | None = Field(description="Krippendorff's alpha on the verdicts (nominal)")
    alpha_low: float | None = Field(None, description="95% bootstrap interval of alpha (items)")
    alpha_high: float | None = None
    unclear: bool


class StatsPublic(BaseModel):
    principles: list[PrincipleStatsPublic]
    unclear: list[str] = Field(description="Principles with low agreement: amend them")


@router.post("/constitutions/{constitution_id}/versions/{version}/grading-projects",
             status_code=status.HTTP_201_CREATED,
             summary="Create a project grading responses against the version's principles")
def grading_project(
    constitution_id: SmallId, version: SmallId, body: GradingProjectIn, db: DatabaseDep,
    actor: CurrentUser,
) -> dict[str, int]:
    made = constitution_grading.grading_project(
        db, actor=actor, constitution_id=constitution_id, version=version, name=body.name,
        answers_per_item=body.answers_per_item, guidelines=body.guidelines,
    )
    return {"project_id": made.id}


@router.get("/projects/{project_id}/principle-stats",
            summary="Per principle: agreement, not-applicable rate, coverage (managers)")
def principle_stats(project_id: SmallId, db: DatabaseDep, actor: CurrentUser) -> StatsPublic:
    found = constitution_grading.principle_stats(db, actor=actor, project_id=project_id)
    return StatsPublic(
        principles=[PrincipleStatsPublic(
            key=s.key, judgments=s.judgments, not_applicable_rate=s.not_applicable_rate,
            coverage=s.coverage, alpha=s.alpha, alpha_low=s.alpha_low,
            alpha_high=s.alpha_high, unclear=s.unclear) for s in found],
        unclear=[s.key for s in found if s.unclear],
    )
