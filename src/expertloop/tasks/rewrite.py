"""Rewrite: critique a model's response, then rewrite it into the response it should have been.

Payload (extra fields are kept and shown)::

    {"prompt": "Is ibuprofen safe in pregnancy?" | [{"role": "user", "content": "..."}, ...],
     "response": "Yes, it is safe throughout pregnancy."}

Config (optional; ``{}`` is valid): ``min_critique_length`` (default 1) is the shortest
critique in characters, not counting surrounding whitespace::

    {"min_critique_length": 40}

Answer: both fields are required and non-blank; the rewrite must differ from the original
response (ignoring whitespace), checked when the item's payload is at hand::

    {"critique": "Wrong for the third trimester: NSAIDs risk ...",
     "rewrite": "Not after 20 weeks. Ibuprofen ..."}

Observations: ``text`` ``"critique"``, then ``text`` ``"rewrite"``.

Consensus: the selected answer, ``{"critique"?: ..., "rewrite": ...}``. Export: one
``preference`` row with the rewrite chosen over the original response, then one ``sft`` row
``{"messages": [...prompt, {"role": "assistant", "content": rewrite}]}``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from expertloop.tasks.base import (
    FieldError,
    Observation,
    Prompt,
    StrictModel,
    TaskType,
    chat_messages,
    consensus_field,
    preference_row,
    same_text,
)

__all__ = ["TASK", "RewriteAnswer", "RewriteConfig", "RewritePayload"]

MAX_LENGTH = 100_000


class RewritePayload(BaseModel):
    model_config = ConfigDict(extra="allow")

    prompt: Prompt
    response: str


class RewriteConfig(StrictModel):
    min_critique_length: int = Field(1, ge=1, le=MAX_LENGTH)


class RewriteAnswer(StrictModel):
    critique: str = Field(max_length=MAX_LENGTH)
    rewrite: str = Field(max_length=MAX_LENGTH)


class Rewrite(TaskType):
    name: ClassVar[str] = "rewrite"
    config_model = RewriteConfig
    payload_model = RewritePayload
    answer_model = RewriteAnswer

    def answer_errors(
        self,
        answer: dict[str, Any],
        config: Mapping[str, Any],
        *,
        payload: Mapping[str, Any] | None,
    ) -> list[FieldError]:
        errors = []
        critique = len(answer["critique"].strip())
        low = config.get("min_critique_length", 1)
        if critique == 0:
            errors.append(FieldError("critique", "write a critique; it must not be blank"))
        elif critique < low:
            errors.append(
                FieldError("critique", f"write at least {low} characters; this has {critique}")
            )
        if not answer["rewrite"].strip():
            errors.append(FieldError("rewrite", "write the rewrite; it must not be blank"))
        elif payload is not None and same_text(answer["rewrite"], str(payload["response"])):
            errors.append(
                FieldError(
                    "rewrite",
                    "the rewrite is the same as the original response; improve it, or skip "
                    "the item if it needs no change",
                )
            )
        return errors

    def observations(
        self, answer: Mapping[str, Any], *, config: Mapping[str, Any] | None = None
    ) -> list[Observation]:
        found = []
        if answer.get("critique"):
            found.append(Observation("text", "critique", str(answer["critique"])))
        found.append(Observation("text", "rewrite", str(answer["rewrite"])))
        return found

    def export_rows(
        self,
        payload: Mapping[str, Any],
        consensus: Mapping[str, Any],
        *,
        config: Mapping[str, Any] | None = None,
    ) -> list[dict[str, Any]]:
        rewrite = str(consensus_field(consensus, "rewrite"))
        prompt = payload["prompt"]
        return [
            preference_row(prompt, rewrite, str(payload["response"])),
            {"messages": [*chat_messages(prompt), {"role": "assistant", "content": rewrite}]},
        ]


TASK = Rewrite()
