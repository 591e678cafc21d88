"""Rewrite: a critique and a better response, exported as a preference and an SFT example."""

from __future__ import annotations

import pytest
from task_training import taught

from expertloop.tasks import Observation, TaskValidationError, get_task_type

rewrite = get_task_type("rewrite")
PAYLOAD = {"prompt": "Is ibuprofen safe in pregnancy?", "response": "Yes, always."}
ANSWER = {"critique": "Wrong after 20 weeks.", "rewrite": "Not after 20 weeks; ask ..."}


def _errors(exc: pytest.ExceptionInfo[TaskValidationError]) -> dict[str, str]:
    return {e.field: e.message for e in exc.value.errors}


def test_config_defaults_and_refuses_unknown_options() -> None:
    assert rewrite.validate_config({}) == {"min_critique_length": 1}
    with pytest.raises(TaskValidationError) as exc:
        rewrite.validate_config({"min_critique_length": 0, "x": 1})
    assert set(_errors(exc)) == {"min_critique_length", "x"}


def test_payload_needs_a_prompt_and_the_response_to_rewrite() -> None:
    assert rewrite.validate_payload(PAYLOAD, {}) == PAYLOAD
    with pytest.raises(TaskValidationError) as exc:
        rewrite.validate_payload({"prompt": "p"}, {})
    assert set(_errors(exc)) == {"response"}


def test_a_critique_and_a_changed_response_are_valid() -> None:
    assert rewrite.validate_answer(ANSWER, {}, payload=PAYLOAD) == ANSWER


@pytest.mark.parametrize(
    ("answer", "config", "field", "message"),
    [
        ({**ANSWER, "critique": " "}, {}, "critique", "write a critique; it must not be blank"),
        (
            {**ANSWER, "critique": "Bad."},
            {"min_critique_length": 10},
            "critique",
            "write at least 10 characters; this has 4",
        ),
        ({**ANSWER, "rewrite": "\n"}, {}, "rewrite", "write the rewrite; it must not be blank"),
        (
            {**ANSWER, "rewrite": "  Yes,\n always. "},
            {},
            "rewrite",
            "the rewrite is the same as the original response; improve it, or skip the item "
            "if it needs no change",
        ),
        ({"critique": "x"}, {}, "rewrite", "Field required"),
        ({**ANSWER, "score": 3}, {}, "score", "Extra inputs are not permitted"),
    ],
)
def test_invalid_answers_get_a_clear_message_naming_the_field(
    answer: dict[str, object], config: dict[str, int], field: str, message: str
) -> None:
    with pytest.raises(TaskValidationError) as exc:
        rewrite.validate_answer(answer, rewrite.validate_config(config), payload=PAYLOAD)
    assert _errors(exc)[field] == message


def test_an_unchanged_rewrite_is_caught_only_when_the_payload_is_given() -> None:
    same = {**ANSWER, "rewrite": PAYLOAD["response"]}
    assert rewrite.validate_answer(same, {}) == same
    with pytest.raises(TaskValidationError, match="same as the original"):
        rewrite.validate_gold(same, {}, payload=PAYLOAD)


def test_observations_are_the_critique_then_the_rewrite() -> None:
    assert rewrite.observations(ANSWER) == [
        Observation("text", "critique", ANSWER["critique"]),
        Observation("text", "rewrite", ANSWER["rewrite"]),
    ]


def test_the_rewrite_is_preferred_to_the_original_and_is_an_sft_example() -> None:
    preference, _ = taught(rewrite, PAYLOAD, ANSWER, "preference")
    sft, _ = taught(rewrite, PAYLOAD, ANSWER, "sft")
    assert preference == [
        {"prompt": "Is ibuprofen safe in pregnancy?", "chosen": "Not after 20 weeks; ask ...",
         "rejected": "Yes, always.", "preference_strength": 1.0}
    ]
    assert sft == [
        {"prompt": "Is ibuprofen safe in pregnancy?", "completion": "Not after 20 weeks; ask ..."}
    ]
    assert rewrite.export_formats == ("preference", "unpaired", "reward", "sft", "raw")


def test_a_conversation_makes_rows_in_conversational_form() -> None:
    chat = [{"role": "user", "content": "Hi"}]
    rows, _ = taught(rewrite, {**PAYLOAD, "prompt": chat}, {"rewrite": "Hello!"}, "sft",
                     conversational=True)
    assert rows == [{"messages": [*chat, {"role": "assistant", "content": "Hello!"}]}]
