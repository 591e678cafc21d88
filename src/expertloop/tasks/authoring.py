"""Authoring: an expert writes a problem, its reference solution and a grading rubric.

Used to build evaluation and RL sets: hard problems with checkable answers and rubrics.

Payload: a brief saying what to write; extra fields are kept and shown (e.g. ``topic``,
``difficulty``, ``examples``)::

    {"brief": "A graduate-level problem on Bayesian updating with a clinical test.",
     "topic": "statistics", "difficulty": "hard"}

Config (optional; ``{}`` is valid): how many rubric items an answer has, from
``min_rubric_items`` (default 1) to ``max_rubric_items`` (default 50)::

    {"min_rubric_items": 3, "max_rubric_items": 10}

Answer: a non-blank ``problem`` and ``solution`` (Markdown) and a ``rubric`` of distinct,
non-blank criteria, each worth a whole number of points from 1 to 1,000::

    {"problem": "A test for disease D has sensitivity 0.9 ...",
     "solution": "By Bayes' theorem, P(D | +) = ... = 0.154.",
     "rubric": [{"criterion": "Sets up Bayes' theorem correctly", "points": 2},
                {"criterion": "Final answer 0.154 (±0.001)", "points": 3}]}

Observations: ``text`` ``"problem"``, ``text`` ``"solution"``, then ``score``
``"rubric_points"``, the rubric's total points.

Consensus: free text, no channel; every answer that counts is used. Export formats, one row
per answer: ``rubric_rl``, the problem as the prompt with its reference solution and rubric
(for RL with a rubric-based reward); ``sft``, the problem as the prompt and its solution as
the reply.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, StrictInt, field_validator, model_validator

from expertloop.tasks.base import (
    FieldError,
    Observation,
    StrictModel,
    TaskType,
)
from expertloop.tasks.training import (
    Demonstration,
    ExampleProject,
    ItemView,
    Problem,
    Tie,
    TrainingExample,
)

__all__ = ["TASK", "AuthoringAnswer", "AuthoringConfig", "AuthoringPayload", "RubricItem"]

MAX_LENGTH = 100_000
MAX_RUBRIC_ITEMS = 100


class AuthoringPayload(BaseModel):
    model_config = ConfigDict(extra="allow")

    brief: str = Field(min_length=1)

    @field_validator("brief")
    @classmethod
    def _not_blank(cls, brief: str) -> str:
        if not brief.strip():
            raise ValueError("the brief must not be blank")
        return brief


class AuthoringConfig(StrictModel):
    min_rubric_items: int = Field(1, ge=1, le=MAX_RUBRIC_ITEMS)
    max_rubric_items: int = Field(50, ge=1, le=MAX_RUBRIC_ITEMS)

    @model_validator(mode="after")
    def _ordered(self) -> AuthoringConfig:
        if self.min_rubric_items > self.max_rubric_items:
            raise ValueError(
                f"min_rubric_items ({self.min_rubric_items}) exceeds max_rubric_items "
                f"({self.max_rubric_items})"
            )
        return self


class RubricItem(StrictModel):
    criterion: str = Field(max_length=5_000)
    points: StrictInt = Field(ge=1, le=1000)


class AuthoringAnswer(StrictModel):
    problem: str = Field(max_length=MAX_LENGTH)
    solution: str = Field(max_length=MAX_LENGTH)
    rubric: list[RubricItem] = Field(max_length=MAX_RUBRIC_ITEMS)


class Authoring(TaskType):
    name: ClassVar[str] = "authoring"
    config_model = AuthoringConfig
    payload_model = AuthoringPayload
    answer_model = AuthoringAnswer

    def answer_errors(
        self,
        answer: dict[str, Any],
        config: Mapping[str, Any],
        *,
        payload: Mapping[str, Any] | None,
    ) -> list[FieldError]:
        errors = [
            FieldError(field, f"write the {field}; it must not be blank")
            for field in ("problem", "solution")
            if not answer[field].strip()
        ]
        rubric = answer["rubric"]
        low, high = config.get("min_rubric_items", 1), config.get("max_rubric_items", 50)
        if not low <= len(rubric) <= high:
            errors.append(
                FieldError("rubric", f"write {low} to {high} rubric items; this has {len(rubric)}")
            )
        seen: set[str] = set()
        for i, item in enumerate(rubric):
            text = " ".join(item["criterion"].split())
            if not text:
                errors.append(FieldError(f"rubric.{i}.criterion", "must not be blank"))
            elif text in seen:
                errors.append(
                    FieldError(f"rubric.{i}.criterion", f"{text!r} is already in the rubric")
                )
            seen.add(text)
        return errors

    def observations(
        self, answer: Mapping[str, Any], *, config: Mapping[str, Any] | None = None
    ) -> list[Observation]:
        return [
            Observation("text", "problem", str(answer["problem"])),
            Observation("text", "solution", str(answer["solution"])),
            Observation("score", "rubric_points", sum(int(i["points"]) for i in answer["rubric"])),
        ]

    export_formats = ("rubric_rl", "sft", "raw")

    def training_examples(
        self,
        format: str,
        item: ItemView,
        *,
        config: Mapping[str, Any],
        criterion: str | None = None,
    ) -> Iterator[TrainingExample | Tie]:
        # The problem is the prompt; the brief is not in it.
        for answer in item.answers:
            problem, solution = str(answer["problem"]), str(answer["solution"])
            if format == "rubric_rl":
                rubric = tuple(
                    {"criterion": str(r["criterion"]), "points": int(r["points"])}
                    for r in answer["rubric"]
                )
                yield TrainingExample(Problem(problem, solution, rubric))
            else:
                yield TrainingExample(Demonstration(problem, solution))

    example = ExampleProject(
        task_type="authoring",
        name="Author statistics problems",
        config={"min_rubric_items": 2, "max_rubric_items": 6},
        guidelines="Problems must have one checkable final answer.",
        items=[
            {
                "external_id": "stats-1",
                "payload": {
                    "brief": "A graduate-level problem on **Bayesian updating** with a "
                    "clinical test, whose answer is a single probability.",
                    "topic": "statistics",
                    "difficulty": "hard",
                },
            }
        ],
        extra={
            "answer": {
                "problem": "A test has sensitivity 0.9 and specificity 0.95; prevalence "
                "is 1%. What is P(disease | positive)?",
                "solution": "By Bayes: 0.009 / (0.009 + 0.0495) = 0.154.",
                "rubric": [
                    {"criterion": "Sets up Bayes' theorem", "points": 2},
                    {"criterion": "Final answer 0.154", "points": 3},
                ],
            }
        },
        in_progress=(
            (
                "fill",
                "textarea[name=problem]",
                "A test for disease D has sensitivity 0.9 and specificity 0.95. Prevalence is "
                "1%. What is P(D | positive)?",
            ),
            ("fill", "[data-rubric-rows] input[type=text]", "Sets up Bayes' theorem correctly"),
            ("fill", "[data-rubric-rows] input[type=number]", "2"),
        ),
    )


TASK = Authoring()
