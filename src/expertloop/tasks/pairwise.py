"""Pairwise preference: which of two responses to a prompt is better (A, B or a tie).

The two responses are shown in a random order per assignment (recorded as the assignment's
presentation, ``{"swap": bool}``) so position bias averages out and can be measured; answers
are stored in canonical terms, where ``A`` always means the item's ``response_a``.

Payload (extra fields are kept and shown to the worker)::

    {"prompt": "What is 2+2?" | [{"role": "user", "content": "..."}, ...],
     "response_a": "4", "response_b": "5"}

Config (all optional; ``{}`` is valid)::

    {"require_rationale": false,
     "criteria": [{"name": "helpfulness", "description": "Does it solve the task?"},
                  {"name": "harmlessness"}]}

Criterion names are distinct, non-blank, and not ``"overall"`` (the key of the overall
choice in observations).

Answer (shown terms; canonical for gold and storage)::

    {"choice": "A",                  # required: "A", "B" or "tie", the overall preference
     "criteria": {"helpfulness": "B", "harmlessness": "tie"},
     "strength": 2,                  # optional 1..3, not with a tie
     "rationale": "..."}             # optional; required when require_rationale

``criteria`` holds exactly the configured criteria, each ``"A"``, ``"B"`` or ``"tie"``; it is
refused in a project without criteria. Swapping the presentation swaps ``choice`` and every
criterion's choice.

Observations: ``comparison`` ``"overall"`` -> the choice, then one ``comparison`` per
criterion (key = criterion name), then ``text`` ``"rationale"`` when given.

Consensus: one comparison channel per item for the overall choice (``"overall"``) and one per
criterion, read straight from the answer's fields when exporting; the consensus is
``{"choice": "A", "criteria"?: {...}}``. Export formats: ``preference`` (one row from the
overall choice, or from a chosen criterion's) and ``unpaired`` (its two sides), built a
batch at a time as columns (:attr:`columnar_comparison`); a tie yields no row.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from expertloop.tasks.base import (
    ChoiceMade,
    FieldError,
    Observation,
    Prompt,
    StrictModel,
    TaskType,
)
from expertloop.tasks.training import (
    COMPARISON_LABELS,
    TIE,
    ChannelSpec,
    ColumnarComparison,
    Estimate,
    ExampleProject,
    ItemView,
    Preference,
    Tie,
    TrainingExample,
)

__all__ = ["TASK", "PairwiseAnswer", "PairwiseConfig", "PairwiseCriterion", "PairwisePayload"]

Choice = Literal["A", "B", "tie"]
_SWAPPED: dict[str, str] = {"A": "B", "B": "A", "tie": "tie"}
# Other tools' names for a choice (Label Studio's pairwise "selected").
_FOREIGN_CHOICES = {"left": "A", "right": "B", "answer1": "A", "answer2": "B", "tie": "tie"}


class PairwisePayload(BaseModel):
    model_config = ConfigDict(extra="allow")

    prompt: Prompt
    response_a: str
    response_b: str


class PairwiseCriterion(StrictModel):
    name: str = Field(min_length=1, max_length=100)
    description: str | None = Field(None, max_length=5_000)

    @field_validator("name")
    @classmethod
    def _usable_name(cls, name: str) -> str:
        if not name.strip():
            raise ValueError("a criterion name must not be blank")
        if name == "overall":
            raise ValueError("'overall' is reserved for the overall choice")
        return name


class PairwiseConfig(StrictModel):
    require_rationale: bool = False
    criteria: list[PairwiseCriterion] | None = Field(None, min_length=1, max_length=50)

    @field_validator("criteria")
    @classmethod
    def _distinct(cls, criteria: list[PairwiseCriterion] | None) -> list[PairwiseCriterion] | None:
        names = [c.name for c in criteria or []]
        if len(set(names)) != len(names):
            raise ValueError("criterion names must be distinct")
        return criteria


class PairwiseAnswer(StrictModel):
    choice: Choice
    criteria: dict[str, Choice] | None = None
    strength: int | None = Field(None, ge=1, le=3, description="1 slightly ... 3 much better")
    rationale: str | None = Field(None, max_length=20_000)

    @model_validator(mode="after")
    def _check(self, info: Any) -> PairwiseAnswer:
        if self.choice == "tie" and self.strength is not None:
            raise ValueError("strength applies to a preference for A or B, not to a tie")
        config = info.context or {}
        if config.get("require_rationale") and not (self.rationale or "").strip():
            raise ValueError("this project requires a rationale")
        return self


def criterion_names(config: Mapping[str, Any]) -> list[str]:
    return [c["name"] for c in config.get("criteria") or []]


# The example project (:attr:`TaskType.example`): a clinical judgement, as experts see it.

_GUIDE = """\
# How to judge

Read the prompt first, then every response in full.

1. **Correctness first.** A wrong or unsafe answer loses, however well written.
2. **Then helpfulness:** does it answer what was asked, completely and directly?
3. **Then clarity:** concise, well organised, no padding.

> When two answers are equally good, say so: a tie is a real answer.

| Key | Does |
|-----|------|
| `G` | shows or hides these guidelines |
| `S` | skips an item you cannot judge |
"""

_STATIN_PROMPT = (
    "A 62-year-old with an LDL of 4.1 mmol/L asks whether they should start a statin. "
    "They have no history of heart disease. What should a GP tell them?"
)
_STATIN_A = """\
It depends on their **overall 10-year cardiovascular risk**, not the LDL alone:

1. Estimate risk with a validated tool (QRISK3 in the UK, PCE in the US).
2. If the risk is **10% or more**, offer atorvastatin 20 mg and lifestyle advice.
3. Below that, focus on diet, activity and smoking, and reassess in 5 years.

Check lipids, ALT and HbA1c before starting; recheck lipids at 3 months.
"""
_STATIN_B = """\
Yes. Anyone with an LDL over 4 should start a high-dose statin straight away, since
cholesterol is the main cause of heart attacks. Side effects are rare and not worth
discussing.
"""


class Pairwise(TaskType):
    name: ClassVar[str] = "pairwise"
    config_model = PairwiseConfig
    payload_model = PairwisePayload
    answer_model = PairwiseAnswer

    def validate_gold(
        self,
        gold: Any,
        config: dict[str, Any],
        *,
        payload: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Gold needs no rationale, even where workers must give one."""
        relaxed = {**config, "require_rationale": False}
        return super().validate_gold(gold, relaxed, payload=payload)

    def answer_errors(
        self,
        answer: dict[str, Any],
        config: Mapping[str, Any],
        *,
        payload: Mapping[str, Any] | None,
    ) -> list[FieldError]:
        names = criterion_names(config)
        given = answer.get("criteria")
        if not names:
            if given is not None:
                return [FieldError("criteria", "this project declares no criteria")]
            return []
        if given is None:
            return [
                FieldError("criteria", f"choose A, B or tie for each criterion: {', '.join(names)}")
            ]
        errors = [
            FieldError(f"criteria.{name}", f"missing: choose A, B or tie for {name!r}")
            for name in names
            if name not in given
        ]
        errors += [
            FieldError(
                f"criteria.{name}",
                f"{name!r} is not one of the project's criteria: {', '.join(names)}",
            )
            for name in given
            if name not in names
        ]
        return errors

    def validate_answer(
        self,
        answer: Any,
        config: dict[str, Any],
        *,
        payload: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        value = super().validate_answer(answer, config, payload=payload)
        if "criteria" in value:  # in the config's order, whatever order was sent
            value["criteria"] = {n: value["criteria"][n] for n in criterion_names(config)}
        return value

    def new_presentation(self, rng: random.Random) -> dict[str, Any]:
        return {"swap": rng.random() < 0.5}

    def present(
        self, payload: dict[str, Any], presentation: dict[str, Any] | None
    ) -> dict[str, Any]:
        if not (presentation and presentation.get("swap")):
            return payload
        shown = dict(payload)
        shown["response_a"], shown["response_b"] = payload["response_b"], payload["response_a"]
        return shown

    def to_canonical(
        self, answer: dict[str, Any], presentation: dict[str, Any] | None
    ) -> dict[str, Any]:
        if not (presentation and presentation.get("swap")):
            return answer
        swapped = {**answer, "choice": _SWAPPED[answer["choice"]]}
        if "criteria" in answer:
            swapped["criteria"] = {k: _SWAPPED[v] for k, v in answer["criteria"].items()}
        return swapped

    to_shown = to_canonical  # swapping is its own inverse

    has_positions = True

    def position_choices(
        self, answer: Mapping[str, Any], presentation: Mapping[str, Any] | None
    ) -> list[str]:
        shown = self.to_shown(dict(answer), dict(presentation) if presentation else None)
        return [str(shown["choice"])]

    def choices_made(
        self,
        answer: Mapping[str, Any],
        presentation: Mapping[str, Any] | None,
        config: Mapping[str, Any],
    ) -> list[ChoiceMade]:
        # The side as the worker saw it: "A" is the response shown first. Ties pick no side.
        shown = self.to_shown(dict(answer), dict(presentation) if presentation else None)
        side = shown.get("choice")
        if side not in ("A", "B"):
            return []
        return [ChoiceMade("first" if side == "A" else "second", 2, by_position=True)]

    def observations(
        self, answer: Mapping[str, Any], *, config: Mapping[str, Any] | None = None
    ) -> list[Observation]:
        found = [Observation("comparison", "overall", str(answer["choice"]))]
        found += [
            Observation("comparison", name, str(choice))
            for name, choice in (answer.get("criteria") or {}).items()
        ]
        if answer.get("rationale"):
            found.append(Observation("text", "rationale", str(answer["rationale"])))
        return found

    export_formats = ("preference", "unpaired", "reward", "raw")
    columnar_comparison = ColumnarComparison(
        channel="overall", prompt="prompt", first="response_a", second="response_b"
    )

    def consensus_channels(self, config: Mapping[str, Any]) -> dict[str, ChannelSpec]:
        keys = ["overall", *(c["name"] for c in config.get("criteria") or [])]
        return {k: ChannelSpec("comparison", COMPARISON_LABELS) for k in keys}

    def coded_answer_fields(self, config: Mapping[str, Any]) -> dict[str, tuple[str, ...]]:
        return {
            key: ("choice",) if key == "overall" else ("criteria", key)
            for key in self.consensus_channels(config)
        }

    def export_criteria(self, config: Mapping[str, Any]) -> list[str]:
        return [c["name"] for c in config.get("criteria") or []]

    def consensus(
        self,
        estimates: Mapping[str, Estimate],
        pairs: Sequence[tuple[int, int, Estimate]],
        config: Mapping[str, Any],
    ) -> dict[str, Any] | None:
        overall = estimates.get("overall")
        if overall is None:
            return None
        consensus: dict[str, Any] = {"choice": overall.best}
        criteria = {k: e.best for k, e in estimates.items() if k != "overall"}
        if criteria:
            consensus["criteria"] = criteria
        return consensus

    def training_examples(
        self,
        format: str,
        item: ItemView,
        *,
        config: Mapping[str, Any],
        criterion: str | None = None,
    ) -> Iterator[TrainingExample | Tie]:
        estimate = item.estimate(criterion or "overall")
        if estimate is None:
            return
        if estimate.best == "tie":
            yield TIE
            return
        a, b = str(item.payload["response_a"]), str(item.payload["response_b"])
        chosen, rejected = (a, b) if estimate.best == "A" else (b, a)
        strength = abs(estimate.probability("A") - estimate.probability("B"))
        yield TrainingExample(
            Preference(item.payload["prompt"], chosen, rejected, strength),
            estimate.confidence,
            estimate.agreement,
            chance=0.5,  # "chosen is better" against "it is not"
        )

    example = ExampleProject(
        task_type="pairwise",
        name="Clinical answers: which is better?",
        config={"require_rationale": False},
        guidelines=_GUIDE,
        items=[
            {
                "external_id": "statin-1",
                "payload": {
                    "prompt": _STATIN_PROMPT,
                    "response_a": _STATIN_A,
                    "response_b": _STATIN_B,
                },
            }
        ],
        extra={"answer": {"choice": "A", "strength": 3}},
        in_progress=(
            ("press", "1"),
            ("press", "2"),
            (
                "fill",
                "textarea[name=rationale]",
                "One answer treats on LDL alone and dismisses side effects.",
            ),
            ("focus", "[data-action=submit]"),
        ),
    )

    # Label Studio's pairwise template names the responses answer1/answer2 and stores the
    # choice as {"selected": "left" | "right"}.
    payload_aliases: ClassVar[dict[str, str]] = {
        "answer1": "response_a",
        "answer2": "response_b",
    }

    def answer_from_fields(
        self, fields: Mapping[str, Any], config: Mapping[str, Any]
    ) -> dict[str, Any]:
        answer = dict(fields)
        selected = answer.pop("selected", None)
        if selected is not None and "choice" not in answer:
            answer["choice"] = _FOREIGN_CHOICES.get(str(selected).lower(), selected)
        return answer

    def answer_to_fields(
        self, answer: Mapping[str, Any], config: Mapping[str, Any]
    ) -> dict[str, Any]:
        fields = {k: v for k, v in answer.items() if v is not None and k != "choice"}
        choice = answer.get("choice")
        if choice in ("A", "B"):
            fields["selected"] = "left" if choice == "A" else "right"
        elif choice is not None:
            fields["choice"] = choice
        return fields


TASK = Pairwise()
