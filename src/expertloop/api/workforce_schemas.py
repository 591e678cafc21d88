"""Request and response bodies of the workforce routes (skills, credentials, exams, gold)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from expertloop.api.schemas import UserPublic, UtcDatetime
from expertloop.domain import CredentialKind
from expertloop.services.workforce.exams import QualificationStatus
from expertloop.services.workforce.gold import GoldAccuracy
from expertloop.services.workforce.settings import WorkforceSettings
from expertloop.services.workforce.skills import Profile
from expertloop.store.workforce import CredentialRow

__all__ = [
    "WORKFORCE_FIELDS",
    "CredentialIn",
    "CredentialPublic",
    "GoldAccuracyPublic",
    "QualificationIn",
    "QualificationPublic",
    "SkillsPut",
    "UserProfile",
    "WorkforcePatch",
    "WorkforcePublic",
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SkillsPut(_Strict):
    skills: dict[str, Any] = Field(
        description="Skill name to level, 0 (none) to 5; replaces the user's skills",
        examples=[{"medicine": 3, "law": 1}],
    )


class CredentialIn(_Strict):
    kind: CredentialKind
    title: str = Field(min_length=1, max_length=300, examples=["MD, University of Lagos"])
    evidence: str = Field("", max_length=10_000, description="What the manager checked")
    verified: bool = Field(False, description="Mark it verified by the caller at once")


class CredentialPublic(BaseModel):
    id: int
    user_id: int
    kind: CredentialKind
    title: str
    evidence: str
    recorded_by: int | None
    recorded_at: UtcDatetime
    verified: bool
    verified_by: int | None
    verified_at: UtcDatetime | None

    @classmethod
    def of(cls, row: CredentialRow) -> CredentialPublic:
        return cls(
            id=row.id, user_id=row.user_id, kind=CredentialKind(row.kind), title=row.title,
            evidence=row.evidence, recorded_by=row.recorded_by, recorded_at=row.recorded_at,
            verified=row.verified_at is not None, verified_by=row.verified_by,
            verified_at=row.verified_at,
        )


class UserProfile(UserPublic):
    skills: dict[str, int]
    credentials: list[CredentialPublic]

    @classmethod
    def of_profile(cls, profile: Profile) -> UserProfile:
        base = UserPublic.of(profile.user)
        return cls(
            **base.model_dump(),
            skills=profile.skills,
            credentials=[CredentialPublic.of(c) for c in profile.credentials],
        )


class QualificationIn(_Strict):
    exam_project_id: int = Field(ge=1, le=2**31 - 1)
    pass_mark: float = Field(0.8, ge=0, le=1)
    retry_after_seconds: int = Field(86400, ge=0, le=366 * 24 * 3600)


WORKFORCE_FIELDS = ("required_skills", "qualification", "gold_share", "route_min_accuracy",
                    "escalate")


class WorkforcePatch(_Strict):
    """The settings to change; fields left out stay as they are, ``null`` clears one."""

    required_skills: dict[str, Any] | None = Field(
        None, description="Skill name to minimum level 1-5", examples=[{"medicine": 2}]
    )
    qualification: QualificationIn | None = None
    gold_share: float | None = Field(None, ge=0, le=1, examples=[0.1])
    route_min_accuracy: float | None = Field(None, ge=0, le=1, examples=[0.85])
    escalate: bool | None = None

    def changes(self) -> dict[str, Any]:
        out = {}
        for name in self.model_fields_set:
            value = getattr(self, name)
            if isinstance(value, BaseModel):
                value = value.model_dump()
            if name == "escalate" and value is None:
                value = False
            out[name] = value
        return out


class WorkforcePublic(BaseModel):
    project_id: int
    required_skills: dict[str, int]
    qualification: QualificationIn | None
    gold_share: float | None
    route_min_accuracy: float | None
    escalate: bool
    is_exam: bool

    @classmethod
    def of(cls, s: WorkforceSettings) -> WorkforcePublic:
        q = s.qualification
        return cls(
            project_id=s.project_id,
            required_skills=s.required_skills,
            qualification=None if q is None else QualificationIn(
                exam_project_id=q.exam_project_id, pass_mark=q.pass_mark,
                retry_after_seconds=q.retry_after_seconds,
            ),
            gold_share=s.gold_share,
            route_min_accuracy=s.route_min_accuracy,
            escalate=s.escalate,
            is_exam=s.is_exam,
        )


class QualificationPublic(BaseModel):
    """A worker's standing on a project's exam: scores, never the gold."""

    project_id: int
    exam_project_id: int
    exam_name: str
    pass_mark: float
    worker_id: int
    username: str
    status: Literal["not_started", "in_progress", "passed", "failed", "retry_available"]
    answered: int
    exam_items: int
    attempts: int
    score: float | None
    best_score: float | None
    finished_at: UtcDatetime | None
    retry_at: UtcDatetime | None
    qualified: bool

    @classmethod
    def of(cls, q: QualificationStatus) -> QualificationPublic:
        return cls(
            project_id=q.project_id, exam_project_id=q.exam_project_id, exam_name=q.exam_name,
            pass_mark=q.pass_mark, worker_id=q.worker_id, username=q.username, status=q.status,
            answered=q.answered, exam_items=q.exam_items, attempts=q.attempts, score=q.score,
            best_score=q.best_score, finished_at=q.finished_at, retry_at=q.retry_at,
            qualified=q.qualified,
        )


class GoldAccuracyPublic(BaseModel):
    worker_id: int
    username: str
    answers: int
    gold_answers: int
    gold_correct: int
    accuracy: float | None
    posterior_mean: float | None = Field(description="Beta(1, 1) prior, updated by the gold")
    lower: float | None = Field(description="95% credible interval")
    upper: float | None

    @classmethod
    def of(cls, g: GoldAccuracy) -> GoldAccuracyPublic:
        return cls(
            worker_id=g.worker_id, username=g.username, answers=g.answers,
            gold_answers=g.gold_answers, gold_correct=g.gold_correct, accuracy=g.accuracy,
            posterior_mean=g.posterior_mean, lower=g.lower, upper=g.upper,
        )
