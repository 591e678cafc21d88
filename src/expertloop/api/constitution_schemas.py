"""Request and response bodies of the constitution routes."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from expertloop.api.schemas import UtcDatetime
from expertloop.domain.constitutions import (
    Constitution,
    ConstitutionVersion,
    Principle,
    Proposal,
    ProposalKind,
    ProposalStatus,
)
from expertloop.services.constitution_docs import PrincipleChange

__all__ = [
    "ConstitutionIn",
    "ConstitutionPublic",
    "DecisionIn",
    "PrincipleChangePublic",
    "PrincipleIn",
    "PrincipleItemsIn",
    "PrincipleOut",
    "ProposalIn",
    "ProposalPublic",
    "PublishIn",
    "VersionPublic",
]

_LONG = 10_000


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ConstitutionIn(_Strict):
    name: str = Field(min_length=1, max_length=200, examples=["Helpful and harmless"])
    description: str = Field("", max_length=_LONG)


class ConstitutionPublic(BaseModel):
    id: int
    name: str
    description: str
    created_at: UtcDatetime
    created_by: int | None
    latest_version: int = Field(description="The newest published version (0: none yet)")
    draft_changed: bool = Field(description="The draft differs from the newest version")

    @classmethod
    def of(cls, c: Constitution) -> ConstitutionPublic:
        return cls(
            id=c.id, name=c.name, description=c.description, created_at=c.created_at,
            created_by=c.created_by, latest_version=c.latest_version,
            draft_changed=c.draft_changed,
        )


class PrincipleIn(_Strict):
    key: str = Field(min_length=1, max_length=64, examples=["harmless-1"])
    title: str = Field(min_length=1, max_length=200)
    text: str = Field(min_length=1, max_length=_LONG)
    rationale: str = Field("", max_length=_LONG)
    compliance_examples: list[str] = Field(default_factory=list, max_length=20)
    violation_examples: list[str] = Field(default_factory=list, max_length=20)


class PrincipleOut(BaseModel):
    key: str
    title: str
    text: str
    rationale: str
    compliance_examples: list[str]
    violation_examples: list[str]

    @classmethod
    def of(cls, p: Principle) -> PrincipleOut:
        return cls(**p.to_dict())


class PublishIn(_Strict):
    note: str = Field("", max_length=_LONG, description="What changed, for readers")


class VersionPublic(BaseModel):
    constitution_id: int
    version: int
    note: str
    published_at: UtcDatetime
    published_by: int | None
    principles: list[PrincipleOut]

    @classmethod
    def of(cls, v: ConstitutionVersion) -> VersionPublic:
        return cls(
            constitution_id=v.constitution_id, version=v.version, note=v.note,
            published_at=v.published_at, published_by=v.published_by,
            principles=[PrincipleOut.of(p) for p in v.principles],
        )


class PrincipleChangePublic(BaseModel):
    key: str
    change: str = Field(description="added, removed, changed or moved")
    fields: list[str]
    lines: list[str] = Field(description="A unified diff of the changed fields")
    before: PrincipleOut | None
    after: PrincipleOut | None

    @classmethod
    def of(cls, c: PrincipleChange) -> PrincipleChangePublic:
        return cls(
            key=c.key, change=c.change, fields=list(c.fields), lines=list(c.lines),
            before=None if c.before is None else PrincipleOut.of(c.before),
            after=None if c.after is None else PrincipleOut.of(c.after),
        )


class ProposalIn(_Strict):
    kind: ProposalKind
    reason: str = Field(min_length=1, max_length=_LONG, description="Why the change is needed")
    principle: PrincipleIn | None = Field(
        None, description="add, amend: the principle as it should read"
    )
    principle_key: str | None = Field(
        None, min_length=1, max_length=64, description="remove: the principle to take out"
    )


class ProposalPublic(BaseModel):
    id: int
    constitution_id: int
    kind: ProposalKind
    principle_key: str
    principle: PrincipleOut | None
    reason: str
    status: ProposalStatus
    proposed_by: int | None
    created_at: UtcDatetime
    decided_by: int | None
    decided_at: UtcDatetime | None
    decision_note: str

    @classmethod
    def of(cls, p: Proposal) -> ProposalPublic:
        data: dict[str, Any] = {
            "id": p.id, "constitution_id": p.constitution_id, "kind": p.kind,
            "principle_key": p.principle_key,
            "principle": None if p.principle is None else PrincipleOut.of(p.principle),
            "reason": p.reason, "status": p.status, "proposed_by": p.proposed_by,
            "created_at": p.created_at, "decided_by": p.decided_by, "decided_at": p.decided_at,
            "decision_note": p.decision_note,
        }
        return cls(**data)


class DecisionIn(_Strict):
    accept: bool
    note: str = Field("", max_length=_LONG)


class PrincipleItemsIn(_Strict):
    project_id: int = Field(ge=1, le=2**31 - 1, description="The project to add items to")
    items: list[dict[str, Any]] = Field(
        min_length=1, max_length=10_000,
        description="Each: prompt, response, optional external_id and other payload fields",
    )
