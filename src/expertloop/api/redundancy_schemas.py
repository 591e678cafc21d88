"""Request and response bodies of adaptive redundancy (``PUT /projects/{id}/redundancy``,
and ``redundancy`` in a new project)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from expertloop.quality.redundancy import DEFAULT_POLICY
from expertloop.services.redundancy import MAX_ANSWERS_LIMIT, Redundancy

__all__ = ["RedundancyPublic", "RedundancyPut"]


class RedundancyPut(BaseModel):
    model_config = ConfigDict(extra="forbid")

    min_answers: int = Field(
        DEFAULT_POLICY.min_answers, ge=1, le=MAX_ANSWERS_LIMIT,
        description="Answers every item gets before it may stop",
    )
    max_answers: int = Field(
        DEFAULT_POLICY.max_answers, ge=1, le=MAX_ANSWERS_LIMIT,
        description="Answers an item never goes past",
    )
    target_confidence: float = Field(
        DEFAULT_POLICY.target_confidence, ge=0.5, lt=1,
        description="An item stops once its consensus is this probable",
    )
    audit_share: float = Field(
        0.0, ge=0, le=1,
        description="Share of the items (chosen by project and item id) that get one answer "
        "more than min_answers whatever their confidence: the overlap on which workers' and "
        "triage judges' reliability is measured",
    )


class RedundancyPublic(BaseModel):
    adaptive: bool = Field(description="False: every item gets the project's answers_per_item")
    min_answers: int | None = None
    max_answers: int | None = None
    target_confidence: float | None = None
    audit_share: float | None = None

    @classmethod
    def of(cls, settings: Redundancy | None) -> RedundancyPublic:
        if settings is None:
            return cls(adaptive=False)
        return cls(adaptive=True, **settings.as_dict())
