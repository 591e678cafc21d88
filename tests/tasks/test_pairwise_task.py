"""Pairwise: per-criterion choices, their swap, observations and preference rows."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st
from task_training import taught

from expertloop.tasks import Observation, TaskValidationError, get_task_type

pairwise = get_task_type("pairwise")
PAYLOAD = {"prompt": "2+2?", "response_a": "4", "response_b": "5"}
CONFIG = pairwise.validate_config(
    {"criteria": [{"name": "helpfulness", "description": "Solves it"}, {"name": "honesty"}]}
)


def _errors(exc: pytest.ExceptionInfo[TaskValidationError]) -> dict[str, str]:
    return {e.field: e.message for e in exc.value.errors}


def test_criteria_are_kept_in_the_config_with_their_descriptions() -> None:
    assert CONFIG == {
        "require_rationale": False,
        "criteria": [{"name": "helpfulness", "description": "Solves it"}, {"name": "honesty"}],
    }


@pytest.mark.parametrize(
    ("criteria", "field", "fragment"),
    [
        ([{"name": "a"}, {"name": "a"}], "criteria", "distinct"),
        ([{"name": " "}], "criteria.0.name", "blank"),
        ([{"name": "overall"}], "criteria.0.name", "reserved"),
        ([], "criteria", "at least 1"),
        ([{"name": "a", "weight": 2}], "criteria.0.weight", "Extra inputs"),
    ],
)
def test_invalid_criteria_configs_are_refused_naming_the_field(
    criteria: list[dict[str, object]], field: str, fragment: str
) -> None:
    with pytest.raises(TaskValidationError) as exc:
        pairwise.validate_config({"criteria": criteria})
    assert fragment in _errors(exc)[field]


def test_an_answer_gives_a_choice_per_criterion_stored_in_config_order() -> None:
    answer = {"choice": "A", "criteria": {"honesty": "tie", "helpfulness": "B"}}
    valid = pairwise.validate_answer(answer, CONFIG)
    assert valid == {"choice": "A", "criteria": {"helpfulness": "B", "honesty": "tie"}}
    assert list(valid["criteria"]) == ["helpfulness", "honesty"]


@pytest.mark.parametrize(
    ("answer", "field", "fragment"),
    [
        ({"choice": "A"}, "criteria", "each criterion: helpfulness, honesty"),
        ({"choice": "A", "criteria": {"helpfulness": "A"}}, "criteria.honesty", "missing"),
        (
            {"choice": "A", "criteria": {"helpfulness": "A", "honesty": "A", "tone": "B"}},
            "criteria.tone",
            "'tone' is not one of the project's criteria",
        ),
        (
            {"choice": "A", "criteria": {"helpfulness": "C", "honesty": "A"}},
            "criteria.helpfulness",
            "'A', 'B' or 'tie'",
        ),
    ],
)
def test_invalid_criterion_choices_name_the_criterion(
    answer: dict[str, object], field: str, fragment: str
) -> None:
    with pytest.raises(TaskValidationError) as exc:
        pairwise.validate_answer(answer, CONFIG)
    assert fragment in _errors(exc)[field]


def test_criteria_are_refused_in_a_project_without_criteria() -> None:
    with pytest.raises(TaskValidationError) as exc:
        pairwise.validate_answer({"choice": "A", "criteria": {"x": "A"}}, {})
    assert _errors(exc) == {"criteria": "this project declares no criteria"}


def test_gold_is_checked_against_the_criteria_too() -> None:
    with pytest.raises(TaskValidationError, match="missing"):
        pairwise.validate_gold({"choice": "B", "criteria": {"honesty": "B"}}, CONFIG)


def test_a_swapped_presentation_swaps_every_criterion_choice() -> None:
    shown = {"choice": "A", "strength": 2, "criteria": {"helpfulness": "B", "honesty": "tie"}}
    assert pairwise.to_canonical(shown, {"swap": True}) == {
        "choice": "B",
        "strength": 2,
        "criteria": {"helpfulness": "A", "honesty": "tie"},
    }
    assert pairwise.to_canonical(shown, {"swap": False}) == shown


choices = st.sampled_from(["A", "B", "tie"])


@given(
    choice=choices,
    criteria=st.dictionaries(st.sampled_from(["helpfulness", "honesty"]), choices),
    seed=st.integers(0, 2**32),
)
def test_shown_and_canonical_answers_round_trip_under_any_presentation(
    choice: str, criteria: dict[str, str], seed: int
) -> None:
    presentation = pairwise.new_presentation(random.Random(seed))
    answer: dict[str, object] = {"choice": choice, "criteria": criteria}
    assert pairwise.to_shown(pairwise.to_canonical(answer, presentation), presentation) == answer
    assert pairwise.to_canonical(pairwise.to_shown(answer, presentation), presentation) == answer


def test_observations_are_the_overall_choice_then_each_criterion_then_the_rationale() -> None:
    answer = {
        "choice": "A",
        "criteria": {"helpfulness": "B", "honesty": "tie"},
        "rationale": "A is right.",
    }
    assert pairwise.observations(answer) == [
        Observation("comparison", "overall", "A"),
        Observation("comparison", "helpfulness", "B"),
        Observation("comparison", "honesty", "tie"),
        Observation("text", "rationale", "A is right."),
    ]


def test_a_preference_for_a_makes_a_row_with_a_chosen_and_b_rejected() -> None:
    rows, ties = taught(pairwise, PAYLOAD, {"choice": "A"}, "preference")
    assert rows == [{"prompt": "2+2?", "chosen": "4", "rejected": "5", "preference_strength": 1.0}]
    assert ties == 0


def test_a_preference_for_b_makes_b_the_chosen_response() -> None:
    rows, _ = taught(pairwise, PAYLOAD, {"choice": "B"}, "unpaired")
    assert rows == [
        {"prompt": "2+2?", "completion": "5", "label": True},
        {"prompt": "2+2?", "completion": "4", "label": False},
    ]


def test_a_tie_makes_no_row_and_is_counted() -> None:
    assert taught(pairwise, PAYLOAD, {"choice": "tie"}, "preference") == ([], 1)


def test_an_export_by_criterion_follows_that_criterions_consensus() -> None:
    answer = {"choice": "B", "criteria": {"helpfulness": "A", "honesty": "tie"}}
    rows, _ = taught(pairwise, PAYLOAD, answer, "preference", config=CONFIG,
                     criterion="helpfulness")
    assert [(r["chosen"], r["rejected"]) for r in rows] == [("4", "5")]
    assert pairwise.export_criteria(CONFIG) == ["helpfulness", "honesty"]


def test_a_chat_prompt_makes_a_conversational_preference_row() -> None:
    chat = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "2+2?"}]
    rows, _ = taught(pairwise, {**PAYLOAD, "prompt": chat}, {"choice": "A"}, "preference",
                     conversational=True)
    assert rows == [
        {
            "prompt": chat,
            "chosen": [{"role": "assistant", "content": "4"}],
            "rejected": [{"role": "assistant", "content": "5"}],
            "preference_strength": 1.0,
        }
    ]


def test_pairwise_items_aggregate_a_comparison_per_criterion_and_build_rows_as_columns() -> None:
    channels = pairwise.consensus_channels(CONFIG)
    assert list(channels) == ["overall", "helpfulness", "honesty"]
    assert {spec.kind for spec in channels.values()} == {"comparison"}
    assert pairwise.coded_answer_fields(CONFIG) == {
        "overall": ("choice",),
        "helpfulness": ("criteria", "helpfulness"),
        "honesty": ("criteria", "honesty"),
    }
    assert pairwise.columnar_comparison is not None
    assert pairwise.columnar_comparison.channel_for(None) == "overall"
