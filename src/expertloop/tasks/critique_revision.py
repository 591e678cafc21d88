"""Critique and revision against a principle: the constitutional SFT data, written by experts.

Each item pairs a model's response with one principle of a published constitution version
(assigned round-robin when the items are made from the constitution, so every principle is
covered). The expert critiques the response against the principle, then revises it.

Payload (extra fields are kept and shown)::

    {"prompt": "How do I pick a lock?" | [{"role": "user", "content": "..."}, ...],
     "response": "Insert a tension wrench ...",
     "principle": {"key": "harmless-1", "text": "Choose the least harmful response."},
     "constitution_version": 2,
     "critique_request": "Identify how the response fails the principle: ...",
     "revision_request": "Rewrite the response to follow the principle: ..."}

``critique_request`` and ``revision_request`` are optional: by default they quote the
principle's text. Config (optional): ``min_critique_length`` (default 1).

Answer: both fields required and non-blank; the revision must differ from the response::

    {"critique": "It helps with a likely burglary ...", "revision": "I can't help with ..."}

Observations: ``text`` ``"critique"``, then ``text`` ``"revision"``.

Consensus: free text, no channel; every answer that counts is used.

Export formats, per answer: ``sft``, the critique-revision conversation of Constitutional
AI (prompt, response, critique request, critique, revision request, revision); ``preference``
and ``reward``, the revision chosen over the original response; ``unpaired``, its two
sides. Every row carries ``principle_key`` and ``constitution_version``.
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
    chat_messages,
)
from expertloop.tasks.rewrite import critique_and_rewrite_errors
from expertloop.tasks.training import (
    Demonstration,
    ExampleProject,
    ItemView,
    Preference,
    Tie,
    TrainingExample,
)

__all__ = [
    "TASK",
    "CritiqueRevisionAnswer",
    "CritiqueRevisionConfig",
    "CritiqueRevisionPayload",
    "PrincipleRef",
    "critique_request",
    "revision_request",
]

MAX_LENGTH = 100_000


class PrincipleRef(BaseModel):
    model_config = ConfigDict(extra="allow")

    key: str = Field(min_length=1, max_length=64)
    text: str = Field(min_length=1, max_length=MAX_LENGTH)


class CritiqueRevisionPayload(BaseModel):
    model_config = ConfigDict(extra="allow")

    prompt: Prompt
    response: str
    principle: PrincipleRef
    constitution_version: int = Field(ge=1, le=2**31 - 1)
    critique_request: str | None = Field(None, min_length=1, max_length=MAX_LENGTH)
    revision_request: str | None = Field(None, min_length=1, max_length=MAX_LENGTH)


class CritiqueRevisionConfig(StrictModel):
    min_critique_length: int = Field(1, ge=1, le=MAX_LENGTH)


class CritiqueRevisionAnswer(StrictModel):
    critique: str = Field(max_length=MAX_LENGTH)
    revision: str = Field(max_length=MAX_LENGTH)


def critique_request(payload: Mapping[str, Any]) -> str:
    """The request for a critique: the payload's, or one quoting the principle."""
    given = payload.get("critique_request")
    if given:
        return str(given)
    return (
        "Identify specific ways in which the assistant's last response does not follow "
        f"this principle: {payload['principle']['text']}"
    )


def revision_request(payload: Mapping[str, Any]) -> str:
    """The request for a revision: the payload's, or one quoting the principle."""
    given = payload.get("revision_request")
    if given:
        return str(given)
    return (
        "Please rewrite the assistant's response so that it follows this principle: "
        f"{payload['principle']['text']}"
    )


class CritiqueRevision(TaskType):
    name: ClassVar[str] = "critique_revision"
    config_model = CritiqueRevisionConfig
    payload_model = CritiqueRevisionPayload
    answer_model = CritiqueRevisionAnswer

    def answer_errors(
        self,
        answer: dict[str, Any],
        config: Mapping[str, Any],
        *,
        payload: Mapping[str, Any] | None,
    ) -> list[FieldError]:
        return critique_and_rewrite_errors(
            answer, config, payload, field="revision",
            unchanged="revise it, or skip the item if it already follows the principle",
        )

    def observations(
        self, answer: Mapping[str, Any], *, config: Mapping[str, Any] | None = None
    ) -> list[Observation]:
        return [
            Observation("text", "critique", str(answer["critique"])),
            Observation("text", "revision", str(answer["revision"])),
        ]

    export_formats = ("sft", "preference", "unpaired", "reward", "raw")

    row_column_types: ClassVar[dict[str, str]] = {
        "principle_key": "string", "constitution_version": "int64"
    }

    def row_columns(self, payload: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "principle_key": str(payload["principle"]["key"]),
            "constitution_version": int(payload["constitution_version"]),
        }

    def training_examples(
        self,
        format: str,
        item: ItemView,
        *,
        config: Mapping[str, Any],
        criterion: str | None = None,
    ) -> Iterator[TrainingExample | Tie]:
        payload = item.payload
        original = str(payload["response"])
        for answer in item.answers:
            revision = str(answer["revision"])
            if format == "sft":
                conversation = [
                    *chat_messages(payload["prompt"]),
                    {"role": "assistant", "content": original},
                    {"role": "user", "content": critique_request(payload)},
                    {"role": "assistant", "content": str(answer["critique"])},
                    {"role": "user", "content": revision_request(payload)},
                ]
                yield TrainingExample(Demonstration(conversation, revision))
            else:
                # The expert's revision is preferred to the original outright: strength 1.
                yield TrainingExample(Preference(payload["prompt"], revision, original, 1.0))

    example = ExampleProject(
        task_type="critique_revision",
        name="Critique and revise against the constitution",
        config={"min_critique_length": 10},
        guidelines="Critique the response against the principle shown, then revise it.",
        items=[
            {
                "external_id": "lock-1",
                "payload": {
                    "prompt": "How do I get into my neighbour's house while they are away?",
                    "response": "Try the back door first; many people leave it unlocked.",
                    "principle": {"key": "harmless-1",
                                  "text": "Choose the response least likely to enable harm."},
                    "constitution_version": 1,
                },
            }
        ],
        extra={
            "answer": {
                "critique": "It helps someone enter a home without the owner's consent.",
                "revision": "I can't help with entering someone else's home. If you are "
                "worried about them, contact them or the local police.",
            }
        },
    )


TASK = CritiqueRevision()
