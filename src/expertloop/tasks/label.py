"""Classification: pick one label (or several) from the project's label set, for any payload.

Payload: any JSON object; every field is stored and shown to the worker, e.g.
``{"text": "Chest pain for 20 minutes", "source": "triage-inbox"}``.

Config, single choice (the default)::

    {"labels": ["urgent", "routine", "not medical"]}

Config, multiple choice: ``min_choices`` (default 1, may be 0 for "none apply") and
``max_choices`` (default: every label) bound how many labels an answer picks; both are
refused without ``multiple: true``::

    {"labels": ["toxic", "off-topic", "spam"], "multiple": true,
     "min_choices": 0, "max_choices": 2}

Labels are 2 to 1,000 distinct, non-blank strings, in the order they are shown.

Answer, single choice: ``{"label": "urgent"}``. Multiple choice: ``{"labels": ["toxic",
"spam"]}``: distinct labels from the set, stored in the config's order. Each mode refuses
the other's field with a message saying which to send.

Observations: single choice -> ``class`` ``"label"`` -> the label. Multiple choice -> one
``class`` per label, key = the label, value ``"yes"`` or ``"no"`` (each label is its own
binary question); with ``config`` every configured label gets one, without it only the
chosen labels (as ``"yes"``).

Consensus: a class channel over the labels (multiple choice: a yes/no channel per label);
answer-shaped, ``{"label": ...}`` or ``{"labels": [...]}``. Export formats:
``classification``, one row per item, the payload's text (:func:`payload_text`) with the
consensus label, or labels, as positions in the config's labels.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from expertloop.tasks.base import (
    ChoiceMade,
    FieldError,
    Observation,
    StrictModel,
    TaskType,
)
from expertloop.tasks.training import (
    ChannelSpec,
    Classified,
    Estimate,
    ExampleProject,
    ItemView,
    Tie,
    TrainingExample,
    chance_of,
)

__all__ = ["TASK", "LabelAnswer", "LabelConfig", "LabelPayload", "payload_text"]


def payload_text(payload: Mapping[str, Any]) -> str:
    """The text a classifier reads of an item: the payload's ``text`` field where it has
    one; else its only text field; else its text fields as ``name: value`` lines, in the
    payload's order (other values, numbers or lists, are left out)."""
    text = payload.get("text")
    if isinstance(text, str):
        return text
    fields = [(k, v) for k, v in payload.items() if isinstance(v, str)]
    if len(fields) == 1:
        return fields[0][1]
    return "\n".join(f"{k}: {v}" for k, v in fields)


class LabelConfig(StrictModel):
    labels: list[str] = Field(min_length=2, max_length=1000)
    multiple: bool | None = None
    min_choices: int | None = Field(None, ge=0)
    max_choices: int | None = Field(None, ge=1)

    @field_validator("labels")
    @classmethod
    def _distinct_nonblank(cls, labels: list[str]) -> list[str]:
        if any(not label.strip() for label in labels):
            raise ValueError("labels must not be blank")
        if len(set(labels)) != len(labels):
            raise ValueError("labels must be distinct")
        return labels

    @model_validator(mode="after")
    def _choice_bounds(self) -> LabelConfig:
        if not self.multiple:
            if self.min_choices is not None or self.max_choices is not None:
                raise ValueError("min_choices and max_choices need multiple: true")
            return self
        low = 1 if self.min_choices is None else self.min_choices
        high = len(self.labels) if self.max_choices is None else self.max_choices
        if high > len(self.labels):
            raise ValueError(
                f"max_choices ({high}) exceeds the number of labels ({len(self.labels)})"
            )
        if low > high:
            raise ValueError(f"min_choices ({low}) exceeds max_choices ({high})")
        return self


class LabelPayload(BaseModel):
    model_config = ConfigDict(extra="allow")


def _check_in_set(label: str, labels: list[str] | None) -> None:
    if labels is not None and label not in labels:
        raise ValueError(f"{label!r} is not one of the project's labels {labels}")


class LabelAnswer(StrictModel):
    label: str | None = None
    labels: list[str] | None = Field(None, max_length=1000)

    @field_validator("label")
    @classmethod
    def _in_label_set(cls, label: str | None, info: ValidationInfo) -> str | None:
        if label is not None:
            _check_in_set(label, (info.context or {}).get("labels"))
        return label

    @field_validator("labels")
    @classmethod
    def _all_in_label_set(cls, labels: list[str] | None, info: ValidationInfo) -> list[str] | None:
        if labels is not None:
            for label in labels:
                _check_in_set(label, (info.context or {}).get("labels"))
            if len(set(labels)) != len(labels):
                raise ValueError("each label may be chosen once")
        return labels


def _bounds(config: Mapping[str, Any]) -> tuple[int, int]:
    low = config.get("min_choices")
    high = config.get("max_choices")
    return (1 if low is None else low, len(config.get("labels") or []) if high is None else high)


class Label(TaskType):
    name: ClassVar[str] = "label"
    config_model = LabelConfig
    payload_model = LabelPayload
    answer_model = LabelAnswer

    def answer_errors(
        self,
        answer: dict[str, Any],
        config: Mapping[str, Any],
        *,
        payload: Mapping[str, Any] | None,
    ) -> list[FieldError]:
        if not config.get("multiple"):
            if "labels" in answer:
                return [FieldError("labels", 'this project takes one label: answer {"label": ...}')]
            if "label" not in answer:
                return [FieldError("label", "Field required")]
            return []
        if "label" in answer:
            return [
                FieldError("label", 'this project takes several labels: answer {"labels": [...]}')
            ]
        if "labels" not in answer:
            return [FieldError("labels", "Field required")]
        low, high = _bounds(config)
        count = len(answer["labels"])
        if count < low:
            return [FieldError("labels", f"choose at least {low} label(s); got {count}")]
        if count > high:
            return [FieldError("labels", f"choose at most {high} label(s); got {count}")]
        return []

    def validate_answer(
        self,
        answer: Any,
        config: dict[str, Any],
        *,
        payload: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        value = super().validate_answer(answer, config, payload=payload)
        if "labels" in value and "labels" in config:
            chosen = set(value["labels"])
            value["labels"] = [label for label in config["labels"] if label in chosen]
        return value

    def choices_made(
        self,
        answer: Mapping[str, Any],
        presentation: Mapping[str, Any] | None,
        config: Mapping[str, Any],
    ) -> list[ChoiceMade]:
        label = answer.get("label")
        if config.get("multiple") or not isinstance(label, str):
            return []
        return [ChoiceMade(label, len(config["labels"]), by_position=False)]

    def observations(
        self, answer: Mapping[str, Any], *, config: Mapping[str, Any] | None = None
    ) -> list[Observation]:
        if "label" in answer:
            return [Observation("class", "label", str(answer["label"]))]
        chosen = [str(label) for label in answer["labels"]]
        if config is None:
            return [Observation("class", label, "yes") for label in chosen]
        return [
            Observation("class", label, "yes" if label in chosen else "no")
            for label in config["labels"]
        ]

    def consensus_channels(self, config: Mapping[str, Any]) -> dict[str, ChannelSpec]:
        if config.get("multiple"):
            return {label: ChannelSpec("class", ("no", "yes")) for label in config["labels"]}
        return {"label": ChannelSpec("class", tuple(config["labels"]))}

    def coded_answer_fields(self, config: Mapping[str, Any]) -> dict[str, tuple[str, ...]] | None:
        # Multiple choice asks one yes/no question per label of a list: not one field each.
        return None if config.get("multiple") else {"label": ("label",)}

    def consensus(
        self,
        estimates: Mapping[str, Estimate],
        pairs: Sequence[tuple[int, int, Estimate]],
        config: Mapping[str, Any],
    ) -> dict[str, Any] | None:
        if config.get("multiple"):
            return {"labels": [k for k, e in estimates.items() if e.best == "yes"]}
        return {"label": estimates["label"].best}

    export_formats = ("classification", "raw")

    def class_names(self, config: Mapping[str, Any]) -> tuple[tuple[str, ...], bool]:
        return tuple(config["labels"]), bool(config.get("multiple"))

    def training_examples(
        self,
        format: str,
        item: ItemView,
        *,
        config: Mapping[str, Any],
        criterion: str | None = None,
    ) -> Iterator[TrainingExample | Tie]:
        consensus = item.consensus()
        if consensus is None:
            return
        labels = list(config["labels"])
        specs = self.consensus_channels(config)
        if config.get("multiple"):
            if len(specs) != sum(item.estimate(k) is not None for k in specs):
                return  # a label nobody was asked about (the labels changed): no verdict
            chosen = set(consensus.value["labels"])
            label: int | tuple[int, ...] = tuple(
                n for n, name in enumerate(labels) if name in chosen
            )
        else:
            label = labels.index(consensus.value["label"])
        yield TrainingExample(
            Classified(payload_text(item.payload), label),
            consensus.confidence,
            consensus.agreement,
            chance=chance_of(*specs.values()),
        )

    example = ExampleProject(
        task_type="label",
        name="Triage inbox: route each message",
        config={"labels": ["Urgent", "Routine", "Administrative", "Not medical"]},
        guidelines="Route each patient message to the queue that should answer it. "
        "**Urgent** means a clinician should see it today.",
        items=[
            {
                "external_id": "msg-1",
                "payload": {
                    "message": "I've had a tight chest for about 20 minutes and my left arm "
                    "feels heavy. Should I wait for my appointment on Thursday?",
                    "channel": "patient portal",
                },
            }
        ],
        extra={"answer": {"label": "Urgent"}},
    )

    def answer_from_fields(
        self, fields: Mapping[str, Any], config: Mapping[str, Any]
    ) -> dict[str, Any]:
        """Any one question holding the label (a string) or labels (a list), whatever its
        name in the other tool."""
        if "label" in fields or "labels" in fields:
            return dict(fields)
        if len(fields) == 1:
            (value,) = fields.values()
            if isinstance(value, list):
                return (
                    {"labels": value}
                    if config.get("multiple")
                    else ({"label": value[0]} if len(value) == 1 else {"labels": value})
                )
            return {"label": value}
        return dict(fields)


TASK = Label()
