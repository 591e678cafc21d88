"""Rubric: per-criterion grades, a computed weighted total, graded export rows."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from task_training import taught

from expertloop.tasks import Observation, TaskValidationError, get_task_type
from expertloop.tasks.rubric import total_score

rubric = get_task_type("rubric")
PAYLOAD = {"prompt": "Draft a discharge letter.", "response": "Dear Dr Smith, ..."}
CONFIG = rubric.validate_config(
    {
        "criteria": [
            {"name": "correct dose", "kind": "pass_fail", "weight": 2},
            {
                "name": "completeness",
                "kind": "points",
                "max_points": 3,
                "anchors": {"0": "misses most", "3": "covers all"},
            },
        ],
        "pass_threshold": 0.7,
    }
)


def _errors(exc: pytest.ExceptionInfo[TaskValidationError]) -> dict[str, str]:
    return {e.field: e.message for e in exc.value.errors}


def test_config_fills_in_weight_one_and_a_half_pass_threshold() -> None:
    config = rubric.validate_config({"criteria": [{"name": "a", "kind": "pass_fail"}]})
    assert config == {
        "criteria": [{"name": "a", "weight": 1.0, "kind": "pass_fail"}],
        "pass_threshold": 0.5,
    }
    assert CONFIG["criteria"][1]["anchors"] == {"0": "misses most", "3": "covers all"}
    assert rubric.validate_config(CONFIG) == CONFIG


@pytest.mark.parametrize(
    ("criterion", "field", "fragment"),
    [
        ({"name": "a", "kind": "points"}, "criteria.0", "give max_points"),
        ({"name": "a", "kind": "pass_fail", "max_points": 2}, "criteria.0", "is pass_fail"),
        ({"name": "a", "kind": "pass_fail", "anchors": {"1": "x"}}, "criteria.0", "is pass_fail"),
        (
            {"name": "a", "kind": "points", "max_points": 2, "anchors": {"3": "x"}},
            "criteria.0",
            "anchors [3] are outside 0 to 2",
        ),
        ({"name": "a", "kind": "pass_fail", "weight": 0}, "criteria.0.weight", "greater than 0"),
        ({"name": "a", "kind": "pass_fail", "weight": "inf"}, "criteria.0.weight", "finite"),
        ({"name": "a", "kind": "scale"}, "criteria.0.kind", "'pass_fail' or 'points'"),
        ({"name": "a"}, "criteria.0.kind", "Field required"),
        ({"name": "", "kind": "pass_fail"}, "criteria.0.name", "at least 1 character"),
    ],
)
def test_invalid_criteria_are_refused_naming_the_field(
    criterion: dict[str, object], field: str, fragment: str
) -> None:
    with pytest.raises(TaskValidationError) as exc:
        rubric.validate_config({"criteria": [criterion]})
    assert fragment in _errors(exc)[field]


def test_rubric_configs_need_distinct_criteria_and_a_threshold_within_zero_and_one() -> None:
    same = {"name": "a", "kind": "pass_fail"}
    with pytest.raises(TaskValidationError, match="distinct"):
        rubric.validate_config({"criteria": [same, same]})
    with pytest.raises(TaskValidationError, match="Field required"):
        rubric.validate_config({})
    with pytest.raises(TaskValidationError) as exc:
        rubric.validate_config({"criteria": [same], "pass_threshold": 1.5})
    assert "pass_threshold" in _errors(exc)


def test_an_answer_scores_each_criterion_and_may_comment_on_some() -> None:
    answer = {
        "scores": {"completeness": 2, "correct dose": True},
        "comments": {"completeness": "No follow-up."},
    }
    valid = rubric.validate_answer(answer, CONFIG)
    assert valid == answer
    assert list(valid["scores"]) == ["correct dose", "completeness"]


@pytest.mark.parametrize(
    ("answer", "field", "fragment"),
    [
        ({"scores": {"completeness": 2}}, "scores.correct dose", "missing: pass (true) or fail"),
        ({"scores": {"correct dose": True}}, "scores.completeness", "missing: 0 to 3 points"),
        (
            {"scores": {"correct dose": 1, "completeness": 2}},
            "scores.correct dose",
            "true or false",
        ),
        (
            {"scores": {"correct dose": True, "completeness": True}},
            "scores.completeness",
            "whole number",
        ),
        (
            {"scores": {"correct dose": True, "completeness": 4}},
            "scores.completeness",
            "outside 0 to 3",
        ),
        (
            {"scores": {"correct dose": True, "completeness": 1.5}},
            "scores.completeness",
            "a grade is true/false (pass/fail) or a whole number of points",
        ),
        (
            {"scores": {"correct dose": True, "completeness": 1, "tone": 1}},
            "scores.tone",
            "not one of the rubric's criteria: correct dose, completeness",
        ),
        (
            {"scores": {"correct dose": True, "completeness": 1}, "comments": {"tone": "x"}},
            "comments.tone",
            "not one of the rubric's criteria",
        ),
        ({}, "scores", "Field required"),
    ],
)
def test_invalid_answers_get_a_clear_message_naming_the_field(
    answer: dict[str, object], field: str, fragment: str
) -> None:
    with pytest.raises(TaskValidationError) as exc:
        rubric.validate_answer(answer, CONFIG)
    assert fragment in _errors(exc)[field]


@pytest.mark.parametrize("key", ["total", "total_score"])
def test_a_typed_total_is_refused_because_it_is_computed(key: str) -> None:
    answer = {"scores": {"correct dose": True, "completeness": 3}, key: 1.0}
    with pytest.raises(TaskValidationError) as exc:
        rubric.validate_answer(answer, CONFIG)
    assert _errors(exc) == {
        key: "the total is computed from the criterion scores; do not submit it"
    }


def test_the_total_is_the_weighted_mean_of_criterion_fractions() -> None:
    answer = {"scores": {"correct dose": True, "completeness": 2}}
    assert total_score(answer, CONFIG) == pytest.approx((2 * 1 + 1 * 2 / 3) / 3)
    assert total_score({"scores": {"correct dose": False, "completeness": 0}}, CONFIG) == 0
    assert total_score({"scores": {"correct dose": True, "completeness": 3}}, CONFIG) == 1


def test_the_total_of_a_consensus_accepts_fractions_of_graders() -> None:
    consensus = {"scores": {"correct dose": 0.5, "completeness": 1.5}}
    assert total_score(consensus, CONFIG) == pytest.approx((2 * 0.5 + 0.5) / 3)


def test_the_total_needs_every_criterion() -> None:
    with pytest.raises(TaskValidationError) as exc:
        total_score({"scores": {"correct dose": True}}, CONFIG)
    assert _errors(exc) == {"scores.completeness": "no score for this criterion"}


@given(
    passed=st.booleans(),
    points=st.integers(0, 3),
    weight=st.floats(0.01, 100),
)
def test_the_total_always_lies_between_zero_and_one(
    passed: bool, points: int, weight: float
) -> None:
    config = {
        **CONFIG,
        "criteria": [{**CONFIG["criteria"][0], "weight": weight}, CONFIG["criteria"][1]],
    }
    total = total_score({"scores": {"correct dose": passed, "completeness": points}}, config)
    assert 0 <= total <= 1


def test_observations_are_grades_per_criterion_comments_and_with_config_the_total() -> None:
    answer = {
        "scores": {"correct dose": False, "completeness": 3},
        "comments": {"correct dose": "10 mg, not 5"},
    }
    assert rubric.observations(answer) == [
        Observation("class", "correct dose", "fail"),
        Observation("score", "completeness", 3),
        Observation("text", "correct dose.comment", "10 mg, not 5"),
    ]
    assert rubric.observations(answer, config=CONFIG)[-1] == Observation(
        "score", "total", pytest.approx(1 / 3)
    )


def test_a_reward_row_holds_the_total_and_an_unpaired_row_whether_it_passes() -> None:
    answer = {"scores": {"correct dose": True, "completeness": 1}}
    reward, _ = taught(rubric, PAYLOAD, answer, "scores", config=CONFIG)
    assert reward == [
        {
            "prompt": "Draft a discharge letter.",
            "completion": "Dear Dr Smith, ...",
            "criterion": "total",
            "score": pytest.approx(7 / 9),
        }
    ]
    passed, _ = taught(rubric, PAYLOAD, answer, "unpaired", config=CONFIG)
    failed, _ = taught(rubric, PAYLOAD, {"scores": {"correct dose": False, "completeness": 3}},
                       "unpaired", config=CONFIG)
    assert [r["label"] for r in passed + failed] == [True, False]


def test_a_total_exactly_at_the_threshold_passes() -> None:
    config = {"criteria": [{"name": "a", "kind": "points", "max_points": 10}],
              "pass_threshold": 0.7}
    rows, _ = taught(rubric, PAYLOAD, {"scores": {"a": 7}}, "unpaired", config=config)
    assert rows[0]["label"] is True


def test_pass_fail_criteria_are_yes_no_classes_and_points_are_scales() -> None:
    channels = rubric.consensus_channels(CONFIG)
    assert channels["correct dose"].classes == ("fail", "pass")
    assert channels["completeness"].classes == (0, 1, 2, 3)
