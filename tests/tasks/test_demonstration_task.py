"""Demonstration: the ideal reply to a prompt or conversation, exported as an SFT example."""

from __future__ import annotations

import pytest
from task_training import taught

from expertloop.tasks import Observation, TaskValidationError, get_task_type

demonstration = get_task_type("demonstration")
CHAT = [
    {"role": "system", "content": "You are a tax adviser."},
    {"role": "user", "content": "Can I deduct my home office?"},
]


def _errors(exc: pytest.ExceptionInfo[TaskValidationError]) -> dict[str, str]:
    return {e.field: e.message for e in exc.value.errors}


def test_config_defaults_to_any_non_blank_reply() -> None:
    assert demonstration.validate_config({}) == {"min_length": 1, "max_length": 100_000}


@pytest.mark.parametrize(
    ("config", "field", "fragment"),
    [
        ({"min_length": 0}, "min_length", "greater than or equal to 1"),
        ({"min_length": 50, "max_length": 10}, "", "min_length (50) exceeds max_length (10)"),
        ({"min_len": 5}, "min_len", "Extra inputs"),
    ],
)
def test_invalid_configs_are_refused(config: dict[str, object], field: str, fragment: str) -> None:
    with pytest.raises(TaskValidationError) as exc:
        demonstration.validate_config(config)
    assert fragment in _errors(exc)[field]


def test_payload_is_a_prompt_or_a_conversation_awaiting_a_reply() -> None:
    assert demonstration.validate_payload({"prompt": "Hi", "topic": "x"}, {})["topic"] == "x"
    assert demonstration.validate_payload({"prompt": CHAT}, {}) == {"prompt": CHAT}
    ended = [*CHAT, {"role": "assistant", "content": "Yes."}]
    with pytest.raises(TaskValidationError) as exc:
        demonstration.validate_payload({"prompt": ended}, {})
    assert "must end with a user (or tool) message" in _errors(exc)["prompt"]
    for bad in ({"prompt": ""}, {"prompt": []}, {}):
        with pytest.raises(TaskValidationError) as exc:
            demonstration.validate_payload(bad, {})
        assert "prompt" in _errors(exc)


def test_a_reply_is_stored_as_written() -> None:
    answer = {"response": "  **Yes**, if it is used *exclusively* ...\n"}
    assert demonstration.validate_answer(answer, {"min_length": 10}) == answer


@pytest.mark.parametrize(
    ("answer", "config", "message"),
    [
        ({"response": "   "}, {}, "write a response; it must not be blank"),
        ({"response": " short "}, {"min_length": 10}, "write at least 10 characters; this has 5"),
        ({"response": "long reply"}, {"max_length": 4}, "write at most 4 characters; this has 10"),
    ],
)
def test_replies_outside_the_length_bounds_are_refused(
    answer: dict[str, str], config: dict[str, int], message: str
) -> None:
    config = demonstration.validate_config(config)
    with pytest.raises(TaskValidationError) as exc:
        demonstration.validate_answer(answer, config)
    assert _errors(exc) == {"response": message}


def test_other_fields_and_wrong_types_are_refused() -> None:
    with pytest.raises(TaskValidationError) as exc:
        demonstration.validate_answer({"response": 3, "notes": "x"}, {})
    assert set(_errors(exc)) == {"response", "notes"}


def test_observation_is_the_reply_text() -> None:
    assert demonstration.observations({"response": "Yes."}) == [
        Observation("text", "response", "Yes.")
    ]


def test_a_string_prompt_makes_a_user_then_assistant_conversation() -> None:
    rows, _ = taught(demonstration, {"prompt": "Hi"}, {"response": "Hello!"}, "sft",
                     conversational=True)
    assert rows == [
        {
            "messages": [
                {"role": "user", "content": "Hi"},
                {"role": "assistant", "content": "Hello!"},
            ]
        }
    ]
    assert demonstration.export_formats == ("sft", "raw")
    assert demonstration.consensus_channels({}) == {}


def test_a_conversation_makes_an_sft_row_with_the_reply_appended() -> None:
    rows, _ = taught(demonstration, {"prompt": CHAT}, {"response": "Yes, if ..."}, "sft",
                     conversational=True)
    assert rows == [{"messages": [*CHAT, {"role": "assistant", "content": "Yes, if ..."}]}]
