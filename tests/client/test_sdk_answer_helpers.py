"""The SDK's typed answer helpers build exactly the answers the server's task types accept."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from expertloop.client import answers
from expertloop.tasks import TASK_TYPES, get_task_type

# Each task type's example answer, rebuilt through its helper from the example's values.
BUILD: dict[str, Callable[[dict[str, Any]], Any]] = {
    "pairwise": lambda a: answers.pairwise(a["choice"], strength=a.get("strength")),
    "ranking": lambda a: answers.ranking([t[0] if len(t) == 1 else t for t in a["ranking"]]),
    "rating": lambda a: answers.rating(a["scores"]),
    "label": lambda a: answers.label(a["label"]),
    "demonstration": lambda a: answers.demonstration(a["response"]),
    "rubric": lambda a: answers.rubric(a["scores"]),
    "rewrite": lambda a: answers.rewrite(a["critique"], a["rewrite"]),
    "critique_revision": lambda a: answers.critique_revision(a["critique"], a["revision"]),
    "principle_grading": lambda a: answers.principle_grading(a["grades"]),
    "principle_pairwise": lambda a: answers.principle_pairwise(
        a["choice"], strength=a.get("strength")),
    "authoring": lambda a: answers.authoring(
        a["problem"], a["solution"], {r["criterion"]: r["points"] for r in a["rubric"]}
    ),
    "redteam": lambda a: answers.redteam(
        a["category"], a["success"], severity=a.get("severity"),
        ideal_response=a.get("ideal_response"),
    ),
}


def test_every_task_type_has_an_answer_helper_named_after_it() -> None:
    assert set(BUILD) == set(TASK_TYPES)
    for name in TASK_TYPES:
        assert callable(getattr(answers, name)), name
        assert name in answers.__all__


@pytest.mark.parametrize("task_type", sorted(TASK_TYPES))
def test_a_helper_builds_the_answer_the_task_type_accepts(task_type: str) -> None:
    task = get_task_type(task_type)
    example = task.example
    built = BUILD[task_type](example.extra["answer"])
    assert built == example.extra["answer"]
    payload = example.items[0]["payload"]
    assert task.validate_answer(dict(built), example.config, payload=payload) == (
        task.validate_answer(example.extra["answer"], example.config, payload=payload)
    )


def test_optional_fields_are_left_out_unless_given() -> None:
    assert answers.pairwise("tie") == {"choice": "tie"}
    assert answers.pairwise("B", rationale="shorter", criteria={"safety": "B"}) == {
        "choice": "B",
        "criteria": {"safety": "B"},
        "rationale": "shorter",
    }
    assert answers.rating({"accuracy": 4}, comment="ok") == {
        "scores": {"accuracy": 4},
        "comment": "ok",
    }


def test_several_labels_make_a_multi_label_answer() -> None:
    assert answers.label("fever", "cough") == {"labels": ["fever", "cough"]}


def test_a_ranking_group_is_a_tie() -> None:
    assert answers.ranking([2, [0, 1]]) == {"ranking": [[2], [0, 1]]}


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: answers.pairwise("C"), "choice must be"),  # type: ignore[arg-type]
        (lambda: answers.pairwise("A", strength=4), "strength must be"),
        (lambda: answers.ranking([]), "at least one response"),
        (lambda: answers.rating({}), "at least one criterion"),
        (lambda: answers.label(), "at least one label"),
        (lambda: answers.rubric({}), "at least one criterion"),
    ],
)
def test_a_malformed_answer_fails_before_it_is_sent(build: Callable[[], Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build()
