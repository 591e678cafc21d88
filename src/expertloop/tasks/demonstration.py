"""Demonstration: the expert writes the ideal assistant reply, for supervised fine-tuning.

Payload (extra fields are kept and shown): a prompt, or the conversation so far, which then
ends with a ``user`` (or ``tool``) message for the expert to reply to::

    {"prompt": "Explain the Monty Hall problem to a 12-year-old."}
    {"prompt": [{"role": "system", "content": "You are a tax adviser."},
                {"role": "user", "content": "Can I deduct my home office?"}]}

Config (optional; ``{}`` is valid): ``min_length`` (default 1) and ``max_length`` (default
100,000) bound the reply's length in characters, not counting leading and trailing
whitespace::

    {"min_length": 200, "max_length": 20000}

Answer: the reply, in Markdown (rendered sanitised), stored as written::

    {"response": "Imagine three doors ..."}

Observations: ``text`` ``"response"``.

Consensus: free text, no channel; every answer that counts is used. Export formats: ``sft``,
one row per answer, the prompt followed by the response as the assistant's reply.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from expertloop.tasks.base import (
    ChatMessage,
    FieldError,
    Observation,
    Prompt,
    StrictModel,
    TaskType,
)
from expertloop.tasks.generation import edit_size
from expertloop.tasks.training import Demonstration as Reply
from expertloop.tasks.training import (
    ExampleProject,
    ItemView,
    Tie,
    TrainingExample,
)

__all__ = ["TASK", "DemonstrationAnswer", "DemonstrationConfig", "DemonstrationPayload"]

MAX_LENGTH = 100_000


class DemonstrationPayload(BaseModel):
    model_config = ConfigDict(extra="allow")

    prompt: Prompt

    @field_validator("prompt")
    @classmethod
    def _ends_for_a_reply(cls, prompt: str | list[ChatMessage]) -> str | list[ChatMessage]:
        if isinstance(prompt, list) and prompt[-1].role not in ("user", "tool"):
            raise ValueError(
                "the conversation must end with a user (or tool) message for the expert to "
                f"reply to, not with a {prompt[-1].role} message"
            )
        return prompt


class DemonstrationConfig(StrictModel):
    min_length: int = Field(1, ge=1, le=MAX_LENGTH)
    max_length: int = Field(MAX_LENGTH, ge=1, le=MAX_LENGTH)

    @model_validator(mode="after")
    def _ordered(self) -> DemonstrationConfig:
        if self.min_length > self.max_length:
            raise ValueError(
                f"min_length ({self.min_length}) exceeds max_length ({self.max_length})"
            )
        return self


class DemonstrationAnswer(StrictModel):
    response: str = Field(max_length=MAX_LENGTH)


class Demonstration(TaskType):
    name: ClassVar[str] = "demonstration"
    config_model = DemonstrationConfig
    payload_model = DemonstrationPayload
    answer_model = DemonstrationAnswer

    def validate_answer(
        self,
        answer: Any,
        config: dict[str, Any],
        *,
        payload: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """An item generated from a model draft (``draft`` in its payload, see
        ``tasks/generation.py``) records how much the expert changed it: ``draft_edit``
        (characters inserted plus deleted, and that as a share), computed here, never sent."""
        if isinstance(answer, dict) and "draft_edit" in answer:
            answer = {k: v for k, v in answer.items() if k != "draft_edit"}
        value = super().validate_answer(answer, config, payload=payload)
        draft = payload.get("draft") if payload is not None else None
        if isinstance(draft, str):
            value["draft_edit"] = edit_size(draft, value["response"])
        return value

    def answer_errors(
        self,
        answer: dict[str, Any],
        config: Mapping[str, Any],
        *,
        payload: Mapping[str, Any] | None,
    ) -> list[FieldError]:
        length = len(answer["response"].strip())
        low, high = config.get("min_length", 1), config.get("max_length", MAX_LENGTH)
        if length < low:
            if length == 0:
                return [FieldError("response", "write a response; it must not be blank")]
            return [FieldError("response", f"write at least {low} characters; this has {length}")]
        if length > high:
            return [FieldError("response", f"write at most {high} characters; this has {length}")]
        return []

    def observations(
        self, answer: Mapping[str, Any], *, config: Mapping[str, Any] | None = None
    ) -> list[Observation]:
        return [Observation("text", "response", str(answer["response"]))]

    export_formats = ("sft", "raw")

    def training_examples(
        self,
        format: str,
        item: ItemView,
        *,
        config: Mapping[str, Any],
        criterion: str | None = None,
    ) -> Iterator[TrainingExample | Tie]:
        for answer in item.answers:
            yield TrainingExample(Reply(item.payload["prompt"], str(answer["response"])))

    example = ExampleProject(
        task_type="demonstration",
        name="Write model replies: tax questions",
        config={"min_length": 20},
        guidelines="Write the reply a careful, qualified adviser would send. Say when the "
        "person should see a professional.",
        items=[
            {
                "external_id": "tax-1",
                "payload": {
                    "prompt": [
                        {"role": "system", "content": "You are a UK tax adviser."},
                        {
                            "role": "user",
                            "content": "I work from home two days a week as an employee. "
                            "Can I claim anything for it?",
                        },
                    ]
                },
            }
        ],
        extra={
            "answer": {
                "response": "Yes, if your employer requires you to work from home you can "
                "claim tax relief of £6 a week without receipts."
            }
        },
        in_progress=(
            (
                "fill",
                "textarea[name=response]",
                "Probably yes. If your employer **requires** you to work from home, you can "
                "claim relief in one of two ways:\n\n1. A flat £6 a week, with no receipts "
                "needed.\n2. The exact extra costs (heating, metered broadband), with evidence.",
            ),
        ),
    )

    def answer_from_fields(
        self, fields: Mapping[str, Any], config: Mapping[str, Any]
    ) -> dict[str, Any]:
        """The one text question, whatever its name in the other tool."""
        if "response" not in fields and len(fields) == 1:
            (text,) = fields.values()
            return {"response": text}
        return dict(fields)


TASK = Demonstration()
