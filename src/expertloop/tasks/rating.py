"""Rating: score one response to a prompt on one or more Likert criteria.

Payload (extra fields are kept and shown)::

    {"prompt": "Summarise this abstract ..." | [{"role": "user", "content": "..."}, ...],
     "response": "The paper shows ..."}

Config: at least one criterion, each with an integer scale ``min`` < ``max`` (defaults 1
and 5, at most 100 points apart) and optional ``anchors`` describing points on the scale
(keys are points within the scale; JSON object keys, so strings such as ``"1"``)::

    {"criteria": [
        {"name": "accuracy", "description": "Is every claim correct?", "min": 1, "max": 5,
         "anchors": {"1": "mostly wrong", "3": "minor errors", "5": "fully correct"}},
        {"name": "clarity", "min": 1, "max": 7}],
     "require_comment": false}

Answer: a whole-number score for every criterion, within its scale; an optional comment
(required when ``require_comment``)::

    {"scores": {"accuracy": 4, "clarity": 6}, "comment": "Clear, one wrong date."}

Observations: one ``score`` per criterion (key = criterion name, in config order), then
``text`` ``"comment"`` when given.

Consensus: a class channel per criterion over the points of its scale; ``{"scores":
{"accuracy": 4.33, ...}}``, each the posterior mean. Export formats: ``scores``, one row per
criterion, the score on the criterion's own scale; ``reward``, the responses to the same
prompt paired by their mean over criteria of the score scaled to 0..1 (or by one criterion,
``criterion=``), the higher chosen; ``unpaired``, one row, good when that mean is above one
half (exactly one half: no row).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any, ClassVar

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, StrictInt, field_validator, model_validator

from expertloop.tasks.base import (
    FieldError,
    Observation,
    Prompt,
    StrictModel,
    TaskType,
)
from expertloop.tasks.training import (
    TIE,
    ChannelSpec,
    Estimate,
    ExampleProject,
    ItemView,
    Score,
    Tie,
    TrainingExample,
    Verdict,
    chance_of,
)

__all__ = ["TASK", "RatingAnswer", "RatingConfig", "RatingCriterion", "RatingPayload"]


class RatingPayload(BaseModel):
    model_config = ConfigDict(extra="allow")

    prompt: Prompt
    response: str


class RatingCriterion(StrictModel):
    name: str = Field(min_length=1, max_length=100)
    description: str | None = Field(None, max_length=5_000)
    min: int = 1
    max: int = 5
    anchors: dict[int, str] | None = None

    @field_validator("name")
    @classmethod
    def _not_blank(cls, name: str) -> str:
        if not name.strip():
            raise ValueError("a criterion name must not be blank")
        return name

    @model_validator(mode="after")
    def _scale(self) -> RatingCriterion:
        if self.min >= self.max:
            raise ValueError(
                f"criterion {self.name!r}: min ({self.min}) must be below max ({self.max})"
            )
        if self.max - self.min > 100:
            raise ValueError(f"criterion {self.name!r}: a scale spans at most 100 points")
        outside = sorted(p for p in self.anchors or {} if not self.min <= p <= self.max)
        if outside:
            raise ValueError(
                f"criterion {self.name!r}: anchors {outside} are outside the scale "
                f"{self.min} to {self.max}"
            )
        return self


class RatingConfig(StrictModel):
    criteria: list[RatingCriterion] = Field(min_length=1, max_length=50)
    require_comment: bool = False

    @field_validator("criteria")
    @classmethod
    def _distinct(cls, criteria: list[RatingCriterion]) -> list[RatingCriterion]:
        names = [c.name for c in criteria]
        if len(set(names)) != len(names):
            raise ValueError("criterion names must be distinct")
        return criteria


class RatingAnswer(StrictModel):
    scores: dict[str, StrictInt]
    comment: str | None = Field(None, max_length=20_000)


class Rating(TaskType):
    name: ClassVar[str] = "rating"
    config_model = RatingConfig
    payload_model = RatingPayload
    answer_model = RatingAnswer

    def answer_errors(
        self,
        answer: dict[str, Any],
        config: Mapping[str, Any],
        *,
        payload: Mapping[str, Any] | None,
    ) -> list[FieldError]:
        criteria = {c["name"]: c for c in config.get("criteria") or []}
        scores: dict[str, int] = answer["scores"]
        errors = []
        for name, criterion in criteria.items():
            low, high = criterion.get("min", 1), criterion.get("max", 5)
            if name not in scores:
                errors.append(
                    FieldError(f"scores.{name}", f"missing: score {name!r} from {low} to {high}")
                )
            elif not low <= scores[name] <= high:
                errors.append(
                    FieldError(
                        f"scores.{name}",
                        f"{scores[name]} is outside the scale of {name!r}: {low} to {high}",
                    )
                )
        errors += [
            FieldError(
                f"scores.{name}",
                f"{name!r} is not one of the project's criteria: {', '.join(criteria)}",
            )
            for name in scores
            if name not in criteria
        ]
        if config.get("require_comment") and not (answer.get("comment") or "").strip():
            errors.append(FieldError("comment", "this project requires a comment"))
        return errors

    def validate_answer(
        self,
        answer: Any,
        config: dict[str, Any],
        *,
        payload: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        value = super().validate_answer(answer, config, payload=payload)
        names = [c["name"] for c in config.get("criteria") or []]
        value["scores"] = {name: value["scores"][name] for name in names}
        return value

    def observations(
        self, answer: Mapping[str, Any], *, config: Mapping[str, Any] | None = None
    ) -> list[Observation]:
        found = [Observation("score", name, score) for name, score in answer["scores"].items()]
        if answer.get("comment"):
            found.append(Observation("text", "comment", str(answer["comment"])))
        return found

    export_formats = ("unpaired", "reward", "scores", "raw")

    def consensus_channels(self, config: Mapping[str, Any]) -> dict[str, ChannelSpec]:
        return {
            c["name"]: ChannelSpec("class", tuple(range(c.get("min", 1), c.get("max", 5) + 1)))
            for c in config["criteria"]
        }

    def export_criteria(self, config: Mapping[str, Any]) -> list[str]:
        return [c["name"] for c in config["criteria"]]

    def consensus(
        self,
        estimates: Mapping[str, Estimate],
        pairs: Sequence[tuple[int, int, Estimate]],
        config: Mapping[str, Any],
    ) -> dict[str, Any] | None:
        return {"scores": {k: e.mean() for k, e in estimates.items()}}

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
        scores = consensus.value["scores"]
        prompt, completion = item.payload["prompt"], str(item.payload["response"])
        specs = self.consensus_channels(config)
        if format == "scores":
            # One row per criterion (or the one asked for), each as sure as its own channel.
            # No default confidence filter: the score is a posterior mean, which already
            # weighs the doubt (a filter would keep the clear-cut items and skew the scores).
            for key, score in scores.items():
                if criterion is not None and key != criterion:
                    continue
                estimate = item.estimate(key)
                assert estimate is not None
                yield TrainingExample(
                    Score(prompt, completion, key, float(score)),
                    estimate.confidence,
                    estimate.agreement,
                )
            return
        # reward and unpaired: the score normalised to 0..1 (the mean over criteria, or the
        # criterion asked for).
        fractions = []
        used = []
        for c in config["criteria"]:
            name = c["name"]
            if name in scores and (criterion is None or name == criterion):
                low, high = c.get("min", 1), c.get("max", 5)
                fractions.append((scores[name] - low) / (high - low))
                used.append(name)
        if not fractions:
            return
        mean = float(np.mean(fractions))
        estimates = [item.estimate(name) for name in used]
        confidence = float(np.mean([e.confidence for e in estimates if e is not None]))
        agreement = float(np.mean([e.agreement for e in estimates if e is not None]))
        chance = chance_of(*(specs[name] for name in used))
        if format == "reward":
            # Paired by the exporter with the other responses to the same prompt.
            yield TrainingExample(
                Score(prompt, completion, criterion or "overall", mean),
                confidence,
                agreement,
                chance=chance,
            )
            return
        # unpaired: good when the normalised score is above the middle of the scale;
        # exactly the middle teaches nothing.
        if abs(mean - 0.5) < 1e-9:
            yield TIE
            return
        yield TrainingExample(
            Verdict(prompt, completion, mean > 0.5), confidence, agreement, chance=chance
        )

    example = ExampleProject(
        task_type="rating",
        name="Rate abstract summaries",
        config={
            "criteria": [
                {
                    "name": "accuracy",
                    "description": "Is every claim supported by the abstract?",
                    "min": 1,
                    "max": 5,
                    "anchors": {"1": "mostly wrong", "3": "minor errors", "5": "exact"},
                },
                {"name": "clarity", "min": 1, "max": 5},
            ],
            "require_comment": False,
        },
        guidelines="Score each summary against the abstract it summarises.",
        items=[
            {
                "external_id": "abs-1",
                "payload": {
                    "prompt": "Summarise for a clinician: *A randomised trial of 1,204 "
                    "adults found that a 12-week walking programme lowered systolic "
                    "blood pressure by 4.1 mmHg (95% CI 2.8-5.4) compared with usual "
                    "care.*",
                    "response": "In a large randomised trial, 12 weeks of walking lowered "
                    "systolic blood pressure by about **4 mmHg** versus usual care.",
                },
            }
        ],
        extra={"answer": {"scores": {"accuracy": 5, "clarity": 4}}},
        in_progress=(("press", "5"),),
    )

    def answer_from_fields(
        self, fields: Mapping[str, Any], config: Mapping[str, Any]
    ) -> dict[str, Any]:
        """One question per criterion (named as the criterion), and an optional
        ``comment``."""
        if "scores" in fields:
            return dict(fields)
        answer: dict[str, Any] = {"scores": {}}
        for name, value in fields.items():
            if name == "comment":
                answer["comment"] = value
            else:
                answer["scores"][name] = value
        return answer

    def answer_to_fields(
        self, answer: Mapping[str, Any], config: Mapping[str, Any]
    ) -> dict[str, Any]:
        fields = dict(answer.get("scores") or {})
        if answer.get("comment") is not None:
            fields["comment"] = answer["comment"]
        return fields


TASK = Rating()
