"""Rating: Likert criteria with scales and anchors, scores per criterion, reward rows."""

from __future__ import annotations

import random

import pytest
from task_training import taught

from expertloop.tasks import Observation, TaskValidationError, get_task_type

rating = get_task_type("rating")
PAYLOAD = {"prompt": "Summarise the abstract.", "response": "It shows X."}
CONFIG = rating.validate_config(
    {
        "criteria": [
            {
                "name": "accuracy",
                "description": "Is every claim correct?",
                "anchors": {"1": "mostly wrong", "5": "fully correct"},
            },
            {"name": "clarity", "min": 0, "max": 10},
        ]
    }
)


def _errors(exc: pytest.ExceptionInfo[TaskValidationError]) -> dict[str, str]:
    return {e.field: e.message for e in exc.value.errors}


def test_config_fills_in_the_default_one_to_five_scale_and_keeps_anchors() -> None:
    assert CONFIG["criteria"][0] == {
        "name": "accuracy",
        "description": "Is every claim correct?",
        "min": 1,
        "max": 5,
        "anchors": {"1": "mostly wrong", "5": "fully correct"},
    }
    assert CONFIG["require_comment"] is False
    assert rating.validate_config(CONFIG) == CONFIG


@pytest.mark.parametrize(
    ("config", "field", "fragment"),
    [
        ({}, "criteria", "Field required"),
        ({"criteria": []}, "criteria", "at least 1"),
        ({"criteria": [{"name": "a"}, {"name": "a"}]}, "criteria", "distinct"),
        ({"criteria": [{"name": " "}]}, "criteria.0.name", "blank"),
        ({"criteria": [{"name": "a", "min": 5, "max": 5}]}, "criteria.0", "must be below max"),
        ({"criteria": [{"name": "a", "min": 0, "max": 101}]}, "criteria.0", "at most 100"),
        (
            {"criteria": [{"name": "a", "anchors": {"0": "none", "3": "ok"}}]},
            "criteria.0",
            "anchors [0] are outside the scale 1 to 5",
        ),
        ({"criteria": [{"name": "a", "scale": 5}]}, "criteria.0.scale", "Extra inputs"),
    ],
)
def test_invalid_configs_are_refused_naming_the_field(
    config: dict[str, object], field: str, fragment: str
) -> None:
    with pytest.raises(TaskValidationError) as exc:
        rating.validate_config(config)
    assert fragment in _errors(exc)[field]


def test_payload_needs_a_prompt_and_one_response() -> None:
    assert rating.validate_payload({**PAYLOAD, "model": "m"}, CONFIG)["model"] == "m"
    with pytest.raises(TaskValidationError) as exc:
        rating.validate_payload({"prompt": "p", "responses": ["a"]}, CONFIG)
    assert set(_errors(exc)) == {"response"}


def test_a_score_per_criterion_is_valid_and_stored_in_config_order() -> None:
    answer = rating.validate_answer(
        {"scores": {"clarity": 0, "accuracy": 5}, "comment": "ok"}, CONFIG
    )
    assert answer == {"scores": {"accuracy": 5, "clarity": 0}, "comment": "ok"}
    assert list(answer["scores"]) == ["accuracy", "clarity"]


@pytest.mark.parametrize(
    ("answer", "field", "fragment"),
    [
        ({"scores": {"accuracy": 3}}, "scores.clarity", "missing: score 'clarity' from 0 to 10"),
        ({"scores": {"accuracy": 6, "clarity": 1}}, "scores.accuracy", "outside the scale"),
        ({"scores": {"accuracy": 3, "clarity": 1, "tone": 2}}, "scores.tone", "not one of"),
        ({"scores": {"accuracy": 3.5, "clarity": 1}}, "scores.accuracy", "valid integer"),
        ({"scores": {"accuracy": True, "clarity": 1}}, "scores.accuracy", "valid integer"),
        ({"scores": {"accuracy": "3", "clarity": 1}}, "scores.accuracy", "valid integer"),
        ({"scores": {"accuracy": 3, "clarity": 1}, "total": 4}, "total", "Extra inputs"),
        ({}, "scores", "Field required"),
    ],
)
def test_invalid_answers_get_a_clear_message_naming_the_field(
    answer: dict[str, object], field: str, fragment: str
) -> None:
    with pytest.raises(TaskValidationError) as exc:
        rating.validate_answer(answer, CONFIG)
    assert fragment in _errors(exc)[field]


def test_a_comment_can_be_required_by_the_project() -> None:
    config = rating.validate_config({**CONFIG, "require_comment": True})
    with pytest.raises(TaskValidationError) as exc:
        rating.validate_answer({"scores": {"accuracy": 3, "clarity": 1}, "comment": " "}, config)
    assert _errors(exc) == {"comment": "this project requires a comment"}


def test_there_is_no_presentation_so_answers_are_already_canonical() -> None:
    answer = {"scores": {"accuracy": 3, "clarity": 1}}
    assert rating.new_presentation(random.Random(1)) is None
    assert rating.to_canonical(answer, None) == answer == rating.to_shown(answer, None)


def test_observations_are_a_score_per_criterion_then_the_comment() -> None:
    assert rating.observations({"scores": {"accuracy": 4, "clarity": 7}, "comment": "c"}) == [
        Observation("score", "accuracy", 4),
        Observation("score", "clarity", 7),
        Observation("text", "comment", "c"),
    ]


def test_a_reward_row_per_criterion_holds_the_consensus_score() -> None:
    answer = {"scores": {"accuracy": 4, "clarity": 7}}
    rows, _ = taught(rating, PAYLOAD, answer, "scores", config=CONFIG)
    assert rows == [
        {"prompt": "Summarise the abstract.", "completion": "It shows X.",
         "criterion": "accuracy", "score": 4.0},
        {"prompt": "Summarise the abstract.", "completion": "It shows X.",
         "criterion": "clarity", "score": 7.0},
    ]


def test_an_unpaired_label_says_whether_the_mean_score_is_above_the_middle_of_the_scales(
) -> None:
    high, _ = taught(rating, PAYLOAD, {"scores": {"accuracy": 5, "clarity": 7}}, "unpaired",
                     config=CONFIG)
    low, _ = taught(rating, PAYLOAD, {"scores": {"accuracy": 1, "clarity": 2}}, "unpaired",
                    config=CONFIG)
    assert [r["label"] for r in high + low] == [True, False]


def test_a_rating_exactly_in_the_middle_teaches_nothing_unpaired() -> None:
    config = {"criteria": [{"name": "accuracy"}]}
    assert taught(rating, PAYLOAD, {"scores": {"accuracy": 3}}, "unpaired",
                  config=config) == ([], 1)
