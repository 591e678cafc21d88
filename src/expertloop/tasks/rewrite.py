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


def critique_and_rewrite_errors(
    answer: Mapping[str, Any],
    config: Mapping[str, Any],
    payload: Mapping[str, Any] | None,
    *,
    field: str,
    unchanged: str,
) -> list[FieldError]:
    """What is wrong with a critique and the rewritten response in ``answer[field]``: a
    blank or too short critique (``min_critique_length``), a blank rewrite, or one that
    is the original response again (``unchanged`` says what to do instead)."""
    errors = []
    critique = len(answer["critique"].strip())
    low = config.get("min_critique_length", 1)
    if critique == 0:
        errors.append(FieldError("critique", "write a critique; it must not be blank"))
    elif critique < low:
        errors.append(
            FieldError("critique", f"write at least {low} characters; this has {critique}")
        )
    if not answer[field].strip():
        errors.append(FieldError(field, f"write the {field}; it must not be blank"))
    elif payload is not None and same_text(answer[field], str(payload["response"])):
        errors.append(
            FieldError(field, f"the {field} is the same as the original response; {unchanged}")
        )
    return errors


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
        return critique_and_rewrite_errors(
            answer, config, payload, field="rewrite",
            unchanged="improve it, or skip the item if it needs no change",
        )

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
        in_progress=(
            ("fill", "textarea[name=critique]", "Wrong after 20 weeks: NSAIDs risk fetal harm."),
        ),
    )


TASK = Rewrite()
