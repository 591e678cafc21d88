"""Rubric grading: score one response against the project's rubric, criterion by criterion.

Payload (extra fields are kept and shown)::

    {"prompt": "Draft a discharge letter for ..." | [{"role": "user", "content": "..."}, ...],
     "response": "Dear Dr Smith, ..."}

Config: the rubric, 1 to 100 criteria with distinct non-blank names. Each has a ``kind``:
``"pass_fail"``, or ``"points"`` with ``max_points`` (a whole number >= 1) and optional
``anchors`` describing point values from 0 to ``max_points`` (JSON keys, so strings).
``weight`` (a number > 0, default 1) sets its share of the total. ``pass_threshold``
(0..1, default 0.5) is the total a response needs to pass::

    {"criteria": [
        {"name": "correct dose", "description": "States 5 mg once daily", "kind": "pass_fail",
         "weight": 2},
        {"name": "completeness", "kind": "points", "max_points": 3,
         "anchors": {"0": "misses most items", "3": "covers every item"}}],
     "pass_threshold": 0.7}

Answer: a score for every criterion (``true``/``false`` for pass/fail, a whole number from 0
to ``max_points`` for points) and optional comments by criterion::

    {"scores": {"correct dose": true, "completeness": 2},
     "comments": {"completeness": "Omits the follow-up appointment."}}

The total is computed, never typed: an answer carrying ``total`` or ``total_score`` is
refused. :func:`total_score` gives it: the weighted mean of each criterion's fraction
(pass = 1, fail = 0, points / max_points), so 0..1. Above: (2·1 + 1·2/3) / 3 = 0.889.

Observations: per criterion, in config order, ``class`` ``"pass"``/``"fail"`` for pass/fail
or ``score`` (points) for points; then ``text`` ``"<criterion>.comment"`` per comment; with
``config``, finally ``score`` ``"total"``.

Consensus: ``{"scores": {...}}``; a pass/fail score may be a fraction (the share of graders
who passed it: the probability of ``"pass"``) and points may be averages; a class channel
per criterion. Export formats: ``scores``, one row with criterion ``"total"`` and
:func:`total_score`; ``reward``, the responses to the same prompt paired by their total, the
higher chosen; ``unpaired``, one row, good when the total reaches ``pass_threshold``.
An item without a consensus on every criterion gives no row.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    field_validator,
    model_validator,
)

from expertloop.tasks.base import (
    FieldError,
    Observation,
    Prompt,
    StrictModel,
    TaskType,
    TaskValidationError,
    consensus_field,
)
from expertloop.tasks.training import (
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

__all__ = [
    "TASK",
    "RubricAnswer",
    "RubricConfig",
    "RubricCriterion",
    "RubricPayload",
    "total_score",
]

_TYPED_TOTALS = ("total", "total_score")


class RubricPayload(BaseModel):
    model_config = ConfigDict(extra="allow")

    prompt: Prompt
    response: str


class RubricCriterion(StrictModel):
    name: str = Field(min_length=1, max_length=200)
    description: str | None = Field(None, max_length=5_000)
    weight: float = Field(1.0, gt=0, allow_inf_nan=False)
    kind: Literal["pass_fail", "points"]
    max_points: int | None = Field(None, ge=1, le=1000)
    anchors: dict[int, str] | None = None

    @field_validator("name")
    @classmethod
    def _not_blank(cls, name: str) -> str:
        if not name.strip():
            raise ValueError("a criterion name must not be blank")
        return name

    @model_validator(mode="after")
    def _kind_fields(self) -> RubricCriterion:
        if self.kind == "pass_fail":
            if self.max_points is not None or self.anchors is not None:
                raise ValueError(
                    f"criterion {self.name!r} is pass_fail: max_points and anchors apply to "
                    "points criteria (describe pass and fail in its description)"
                )
            return self
        if self.max_points is None:
            raise ValueError(f"criterion {self.name!r} is scored in points: give max_points")
        outside = sorted(p for p in self.anchors or {} if not 0 <= p <= self.max_points)
        if outside:
            raise ValueError(
                f"criterion {self.name!r}: anchors {outside} are outside 0 to {self.max_points}"
            )
        return self


class RubricConfig(StrictModel):
    criteria: list[RubricCriterion] = Field(min_length=1, max_length=100)
    pass_threshold: float = Field(0.5, ge=0, le=1)

    @field_validator("criteria")
    @classmethod
    def _distinct(cls, criteria: list[RubricCriterion]) -> list[RubricCriterion]:
        names = [c.name for c in criteria]
        if len(set(names)) != len(names):
            raise ValueError("criterion names must be distinct")
        return criteria


def _grade(value: Any) -> Any:
    if not isinstance(value, bool | int):
        raise ValueError("a grade is true/false (pass/fail) or a whole number of points")
    return value


Grade = Annotated[StrictBool | StrictInt, BeforeValidator(_grade)]


class RubricAnswer(StrictModel):
    scores: dict[str, Grade]
    comments: dict[str, str] | None = None


def _fraction(criterion: Mapping[str, Any], value: Any) -> float:
    if criterion["kind"] == "pass_fail":
        return 1.0 if value is True else 0.0 if value is False else float(value)
    return float(value) / float(criterion["max_points"])


def total_score(answer: Mapping[str, Any], config: Mapping[str, Any]) -> float:
    """The weighted mean of every criterion's fraction (pass 1, fail 0, points/max), in 0..1.

    Works on answers and on consensus (where a pass/fail may be a fraction of graders).
    """
    scores = consensus_field(answer, "scores")
    criteria = config["criteria"]
    missing = [c["name"] for c in criteria if c["name"] not in scores]
    if missing:
        raise TaskValidationError(
            [FieldError(f"scores.{name}", "no score for this criterion") for name in missing]
        )
    weights = [float(c.get("weight", 1.0)) for c in criteria]
    total = sum(w * _fraction(c, scores[c["name"]]) for w, c in zip(weights, criteria, strict=True))
    return min(1.0, max(0.0, total / math.fsum(weights)))


class Rubric(TaskType):
    name: ClassVar[str] = "rubric"
    config_model = RubricConfig
    payload_model = RubricPayload
    answer_model = RubricAnswer

    def validate_answer(
        self,
        answer: Any,
        config: dict[str, Any],
        *,
        payload: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        if isinstance(answer, Mapping):
            typed = [key for key in _TYPED_TOTALS if key in answer]
            if typed:
                raise TaskValidationError(
                    [
                        FieldError(
                            key,
                            "the total is computed from the criterion scores; do not submit it",
                        )
                        for key in typed
                    ]
                )
        value = super().validate_answer(answer, config, payload=payload)
        order = [c["name"] for c in config.get("criteria") or []]
        value["scores"] = {name: value["scores"][name] for name in order}
        if "comments" in value:
            value["comments"] = {n: value["comments"][n] for n in order if n in value["comments"]}
        return value

    def answer_errors(
        self,
        answer: dict[str, Any],
        config: Mapping[str, Any],
        *,
        payload: Mapping[str, Any] | None,
    ) -> list[FieldError]:
        criteria = {c["name"]: c for c in config.get("criteria") or []}
        known = ", ".join(criteria)
        scores: dict[str, bool | int] = answer["scores"]
        errors = []
        for name, criterion in criteria.items():
            field = f"scores.{name}"
            value = scores.get(name)
            if criterion["kind"] == "pass_fail":
                if value is None:
                    errors.append(
                        FieldError(field, f"missing: pass (true) or fail (false) for {name!r}")
                    )
                elif not isinstance(value, bool):
                    errors.append(FieldError(field, f"{name!r} is pass/fail: answer true or false"))
                continue
            top = criterion["max_points"]
            if value is None:
                errors.append(FieldError(field, f"missing: 0 to {top} points for {name!r}"))
            elif isinstance(value, bool):
                errors.append(
                    FieldError(field, f"{name!r} is scored in points: a whole number, 0 to {top}")
                )
            elif not 0 <= value <= top:
                errors.append(FieldError(field, f"{value} is outside 0 to {top} points"))
        errors += [
            FieldError(f"scores.{name}", f"{name!r} is not one of the rubric's criteria: {known}")
            for name in scores
            if name not in criteria
        ]
        errors += [
            FieldError(f"comments.{name}", f"{name!r} is not one of the rubric's criteria: {known}")
            for name in answer.get("comments") or {}
            if name not in criteria
        ]
        return errors

    def observations(
        self, answer: Mapping[str, Any], *, config: Mapping[str, Any] | None = None
    ) -> list[Observation]:
        found = []
        for name, value in answer["scores"].items():
            if isinstance(value, bool):
                found.append(Observation("class", name, "pass" if value else "fail"))
            else:
                found.append(Observation("score", name, value))
        found += [
            Observation("text", f"{name}.comment", str(comment))
            for name, comment in (answer.get("comments") or {}).items()
        ]
        if config is not None:
            found.append(Observation("score", "total", total_score(answer, config)))
        return found

    export_formats = ("unpaired", "reward", "scores", "raw")

    def consensus_channels(self, config: Mapping[str, Any]) -> dict[str, ChannelSpec]:
        specs = {}
        for c in config["criteria"]:
            if c["kind"] == "pass_fail":
                specs[c["name"]] = ChannelSpec("class", ("fail", "pass"))
            else:
                specs[c["name"]] = ChannelSpec("class", tuple(range(c["max_points"] + 1)))
        return specs

    def consensus(
        self,
        estimates: Mapping[str, Estimate],
        pairs: Sequence[tuple[int, int, Estimate]],
        config: Mapping[str, Any],
    ) -> dict[str, Any] | None:
        scores: dict[str, Any] = {}
        pass_fail = {c["name"] for c in config["criteria"] if c["kind"] == "pass_fail"}
        for k, e in estimates.items():
            # A pass/fail grade is the share of belief in "pass"; points their posterior mean.
            scores[k] = e.probability("pass") if k in pass_fail else e.mean()
        return {"scores": scores}

    def training_examples(
        self,
        format: str,
        item: ItemView,
        *,
        config: Mapping[str, Any],
        criterion: str | None = None,
    ) -> Iterator[TrainingExample | Tie]:
        consensus = item.consensus()
        if consensus is None or any(
            c["name"] not in consensus.value["scores"] for c in config["criteria"]
        ):
            return  # a total needs every criterion
        total = total_score(consensus.value, config)
        prompt, completion = item.payload["prompt"], str(item.payload["response"])
        # A guess at each criterion's grade: what a consensus must beat (not for ``scores``,
        # whose total is made of posterior means, which already weigh the doubt).
        specs = self.consensus_channels(config).values()
        chance = None if format == "scores" else chance_of(*specs)
        if format in ("scores", "reward"):
            content: Score | Verdict = Score(prompt, completion, "total", total)
        else:
            # Tolerance: a total of exactly the threshold must not fail by rounding.
            passed = total >= float(config.get("pass_threshold", 0.5)) - 1e-9
            content = Verdict(prompt, completion, passed)
        yield TrainingExample(content, consensus.confidence, consensus.agreement, chance=chance)

    example = ExampleProject(
        task_type="rubric",
        name="Grade discharge letters",
        config={
            "criteria": [
                {
                    "name": "correct dose",
                    "description": "States apixaban 5 mg twice daily.",
                    "kind": "pass_fail",
                    "weight": 2,
                },
                {
                    "name": "completeness",
                    "description": "Diagnosis, medication changes, follow-up.",
                    "kind": "points",
                    "max_points": 3,
                    "anchors": {"0": "misses most", "3": "covers every item"},
                },
            ],
            "pass_threshold": 0.7,
        },
        guidelines="Grade against the rubric only; do not reward style.",
        items=[
            {
                "external_id": "letter-1",
                "payload": {
                    "prompt": "Draft a discharge letter to the GP for a patient admitted "
                    "with new atrial fibrillation, started on apixaban.",
                    "response": "Dear Dr Okafor,\n\nMr Patel (72) was admitted with new "
                    "**atrial fibrillation**. He was started on *apixaban 5 mg twice "
                    "daily* and bisoprolol 2.5 mg once daily.\n\n- Please check renal "
                    "function in 4 weeks.\n- Cardiology clinic in 6 weeks.",
                },
            }
        ],
        extra={"answer": {"scores": {"correct dose": True, "completeness": 3}}},
        in_progress=(("press", "1"), ("press", "2")),
    )

    def answer_from_fields(
        self, fields: Mapping[str, Any], config: Mapping[str, Any]
    ) -> dict[str, Any]:
        """One question per criterion; a pass/fail criterion may say ``"pass"``/``"fail"``
        (or yes/no)."""
        if "scores" in fields:
            return dict(fields)
        verdicts = {
            "pass": True,
            "yes": True,
            "true": True,
            "fail": False,
            "no": False,
            "false": False,
        }
        scores = {
            name: verdicts.get(value.lower(), value) if isinstance(value, str) else value
            for name, value in fields.items()
        }
        return {"scores": scores}

    def answer_to_fields(
        self, answer: Mapping[str, Any], config: Mapping[str, Any]
    ) -> dict[str, Any]:
        return {
            name: ("pass" if value else "fail") if isinstance(value, bool) else value
            for name, value in (answer.get("scores") or {}).items()
        }


TASK = Rubric()
