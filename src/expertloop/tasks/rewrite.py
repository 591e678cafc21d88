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

Consensus: free text, no channel; every answer that counts is used. Export formats, per
answer: ``preference``, the rewrite chosen over the original response (margin 1);
``unpaired``, its two sides; ``sft``, the prompt followed by the rewrite.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from expertloop.tasks.base import (
    FieldError,
    Observation,
    Prompt,
    StrictModel,
    TaskType,
    same_text,
)
from expertloop.tasks.training import (
    Demonstration,
    ExampleProject,
    ItemView,
    Preference,
    Tie,
    TrainingExample,
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

    export_formats = ("preference", "unpaired", "reward", "sft", "raw")

    def training_examples(
        self,
        format: str,
        item: ItemView,
        *,
        config: Mapping[str, Any],
        criterion: str | None = None,
    ) -> Iterator[TrainingExample | Tie]:
        prompt = item.payload["prompt"]
        for answer in item.answers:
            rewrite = str(answer["rewrite"])
            if format == "sft":
                yield TrainingExample(Demonstration(prompt, rewrite))
            else:
                # An expert's rewrite is preferred to the original outright: strength 1.
                original = str(item.payload["response"])
                yield TrainingExample(Preference(prompt, rewrite, original, 1.0))

    example = ExampleProject(
        task_type="rewrite",
        name="Fix medication answers",
        config={"min_critique_length": 10},
        guidelines="Critique first, then rewrite. Keep what was right.",
        items=[
            {
                "external_id": "ibu-1",
                "payload": {
                    "prompt": "Is ibuprofen safe in pregnancy?",
                    "response": "Yes, ibuprofen is safe throughout pregnancy.",
                },
            }
        ],
        extra={
            "answer": {
                "critique": "Wrong after 20 weeks: NSAIDs carry fetal risks.",
                "rewrite": "Not after 20 weeks. Paracetamol is preferred; ask a midwife.",
            }
        },
    )


TASK = Rewrite()
