"""Authoring: a problem, its reference solution and rubric, exported as one problem row."""

from __future__ import annotations

import pytest
from task_training import taught

from expertloop.tasks import Observation, TaskValidationError, get_task_type

authoring = get_task_type("authoring")
PAYLOAD = {"brief": "A hard problem on Bayesian updating.", "topic": "statistics"}
ANSWER = {
    "problem": "A test has sensitivity 0.9 ...",
    "solution": "By Bayes' theorem ... 0.154.",
    "rubric": [
        {"criterion": "Sets up Bayes' theorem", "points": 2},
        {"criterion": "Final answer 0.154", "points": 3},
    ],
}


def _errors(exc: pytest.ExceptionInfo[TaskValidationError]) -> dict[str, str]:
    return {e.field: e.message for e in exc.value.errors}


def test_config_bounds_the_rubric_length() -> None:
    assert authoring.validate_config({}) == {"min_rubric_items": 1, "max_rubric_items": 50}
    with pytest.raises(TaskValidationError, match=r"min_rubric_items \(5\) exceeds"):
        authoring.validate_config({"min_rubric_items": 5, "max_rubric_items": 2})


def test_payload_is_a_non_blank_brief_with_any_extra_fields() -> None:
    assert authoring.validate_payload(PAYLOAD, {}) == PAYLOAD
    for bad, fragment in [({}, "Field required"), ({"brief": "  "}, "must not be blank")]:
        with pytest.raises(TaskValidationError) as exc:
            authoring.validate_payload(bad, {})
        assert fragment in _errors(exc)["brief"]


def test_a_problem_solution_and_rubric_are_valid() -> None:
    assert authoring.validate_answer(ANSWER, authoring.validate_config({})) == ANSWER


@pytest.mark.parametrize(
    ("answer", "field", "fragment"),
    [
        ({**ANSWER, "problem": " "}, "problem", "write the problem; it must not be blank"),
        ({**ANSWER, "solution": ""}, "solution", "write the solution; it must not be blank"),
        ({**ANSWER, "rubric": []}, "rubric", "write 1 to 50 rubric items; this has 0"),
        (
            {**ANSWER, "rubric": [{"criterion": "a", "points": 0}]},
            "rubric.0.points",
            "greater than or equal to 1",
        ),
        (
            {**ANSWER, "rubric": [{"criterion": "a", "points": 1.5}]},
            "rubric.0.points",
            "valid integer",
        ),
        ({**ANSWER, "rubric": [{"criterion": " ", "points": 1}]}, "rubric.0.criterion", "blank"),
        (
            {
                **ANSWER,
                "rubric": [{"criterion": "a b", "points": 1}, {"criterion": "a  b", "points": 2}],
            },
            "rubric.1.criterion",
            "'a b' is already in the rubric",
        ),
        ({**ANSWER, "rubric": [{"criterion": "a"}]}, "rubric.0.points", "Field required"),
        ({"problem": "p", "solution": "s"}, "rubric", "Field required"),
    ],
)
def test_invalid_answers_get_a_clear_message_naming_the_field(
    answer: dict[str, object], field: str, fragment: str
) -> None:
    with pytest.raises(TaskValidationError) as exc:
        authoring.validate_answer(answer, authoring.validate_config({}))
    assert fragment in _errors(exc)[field]


def test_the_project_can_ask_for_a_longer_rubric() -> None:
    config = authoring.validate_config({"min_rubric_items": 3})
    with pytest.raises(TaskValidationError) as exc:
        authoring.validate_answer(ANSWER, config)
    assert _errors(exc) == {"rubric": "write 3 to 50 rubric items; this has 2"}


def test_observations_are_the_texts_and_the_rubric_points() -> None:
    assert authoring.observations(ANSWER) == [
        Observation("text", "problem", ANSWER["problem"]),
        Observation("text", "solution", ANSWER["solution"]),
        Observation("score", "rubric_points", 5),
    ]


def test_the_problem_and_its_solution_make_an_sft_row_without_the_brief() -> None:
    rows, _ = taught(authoring, PAYLOAD, ANSWER, "sft")
    assert rows == [{"prompt": ANSWER["problem"], "completion": ANSWER["solution"]}]
    assert authoring.export_formats == ("rubric_rl", "sft", "raw")
