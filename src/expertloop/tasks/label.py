"""Classification: pick one label from the project's label set for any JSON payload."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from expertloop.tasks.base import StrictModel, TaskType

__all__ = ["TASK"]


class LabelConfig(StrictModel):
    labels: list[str] = Field(min_length=2, max_length=1000)

    @field_validator("labels")
    @classmethod
    def _distinct_nonblank(cls, labels: list[str]) -> list[str]:
        if any(not label.strip() for label in labels):
            raise ValueError("labels must not be blank")
        if len(set(labels)) != len(labels):
            raise ValueError("labels must be distinct")
        return labels


class LabelPayload(BaseModel):
    model_config = ConfigDict(extra="allow")


class LabelAnswer(StrictModel):
    label: str

    @field_validator("label")
    @classmethod
    def _in_label_set(cls, label: str, info: ValidationInfo) -> str:
        labels = (info.context or {}).get("labels")
        if labels is not None and label not in labels:
            raise ValueError(f"{label!r} is not one of the project's labels {labels}")
        return label


class Label(TaskType):
    name: ClassVar[str] = "label"
    config_model = LabelConfig
    payload_model = LabelPayload
    answer_model = LabelAnswer

    def observation(self, answer: dict[str, Any]) -> str:
        return str(answer["label"])


TASK = Label()
