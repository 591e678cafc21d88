"""Pairwise preference: which of two responses to a prompt is better (A, B or a tie).

The two responses are shown in a random order per assignment (recorded as the assignment's
presentation, ``{"swap": bool}``) so position bias averages out and can be measured; answers
are stored in canonical terms, where ``A`` always means the item's ``response_a``.
"""

from __future__ import annotations

import random
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from expertloop.tasks.base import StrictModel, TaskType

__all__ = ["TASK"]

Choice = Literal["A", "B", "tie"]
_SWAPPED: dict[str, str] = {"A": "B", "B": "A", "tie": "tie"}


class ChatMessage(StrictModel):
    role: Literal["system", "user", "assistant", "tool"]
    content: str


class PairwisePayload(BaseModel):
    model_config = ConfigDict(extra="allow")

    prompt: str | list[ChatMessage] = Field(min_length=1)
    response_a: str
    response_b: str


class PairwiseConfig(StrictModel):
    require_rationale: bool = False


class PairwiseAnswer(StrictModel):
    choice: Choice
    strength: int | None = Field(None, ge=1, le=3, description="1 slightly ... 3 much better")
    rationale: str | None = Field(None, max_length=20_000)

    @model_validator(mode="after")
    def _check(self, info: Any) -> PairwiseAnswer:
        if self.choice == "tie" and self.strength is not None:
            raise ValueError("strength applies to a preference for A or B, not to a tie")
        config = info.context or {}
        if config.get("require_rationale") and not (self.rationale or "").strip():
            raise ValueError("this project requires a rationale")
        return self


class Pairwise(TaskType):
    name: ClassVar[str] = "pairwise"
    config_model = PairwiseConfig
    payload_model = PairwisePayload
    answer_model = PairwiseAnswer

    def new_presentation(self, rng: random.Random) -> dict[str, Any]:
        return {"swap": rng.random() < 0.5}

    def present(
        self, payload: dict[str, Any], presentation: dict[str, Any] | None
    ) -> dict[str, Any]:
        if not (presentation and presentation.get("swap")):
            return payload
        shown = dict(payload)
        shown["response_a"], shown["response_b"] = payload["response_b"], payload["response_a"]
        return shown

    def to_canonical(
        self, answer: dict[str, Any], presentation: dict[str, Any] | None
    ) -> dict[str, Any]:
        if not (presentation and presentation.get("swap")):
            return answer
        return {**answer, "choice": _SWAPPED[answer["choice"]]}

    to_shown = to_canonical  # swapping is its own inverse

    def observation(self, answer: dict[str, Any]) -> str:
        return str(answer["choice"])


TASK = Pairwise()
