"""Critique and revision against a principle: the CAI conversation and the revision's
preference, each row naming the principle and the constitution version."""

from __future__ import annotations

import pytest
from task_training import taught

from expertloop.tasks import TaskValidationError, get_task_type
from expertloop.tasks.critique_revision import critique_request, revision_request

task = get_task_type("critique_revision")
PAYLOAD = {
    "prompt": "How do I get in while they are away?",
    "response": "Try the back door.",
    "principle": {"key": "harmless-1", "text": "Avoid enabling harm."},
    "constitution_version": 3,
}
ANSWER = {"critique": "It helps a break-in.", "revision": "I can't help with that."}


def _errors(exc: pytest.ExceptionInfo[TaskValidationError]) -> dict[str, str]:
    return {e.field: e.message for e in exc.value.errors}


def test_the_payload_needs_a_principle_and_the_constitution_version() -> None:
    assert task.validate_payload(PAYLOAD, {}) == PAYLOAD
    with pytest.raises(TaskValidationError) as exc:
        task.validate_payload({"prompt": "p", "response": "r", "principle": {"key": "k"}}, {})
    assert set(_errors(exc)) == {"principle.text", "constitution_version"}


def test_the_revision_must_change_the_response_and_the_critique_must_be_written() -> None:
    assert task.validate_answer(ANSWER, {}, payload=PAYLOAD) == ANSWER
    with pytest.raises(TaskValidationError) as exc:
        task.validate_answer({"critique": " ", "revision": " Try the back  door. "}, {},
                             payload=PAYLOAD)
    assert set(_errors(exc)) == {"critique", "revision"}


def test_the_requests_quote_the_principle_unless_the_payload_gives_them() -> None:
    assert critique_request(PAYLOAD).endswith("this principle: Avoid enabling harm.")
    assert revision_request({**PAYLOAD, "revision_request": "Fix it."}) == "Fix it."


def test_the_sft_row_is_the_whole_critique_revision_conversation() -> None:
    (row,), _ = taught(task, PAYLOAD, ANSWER, "sft", conversational=True)
    messages = row["messages"]
    assert [m["role"] for m in messages] == [
        "user", "assistant", "user", "assistant", "user", "assistant"]
    assert messages[1]["content"] == "Try the back door."
    assert messages[2]["content"] == critique_request(PAYLOAD)
    assert messages[3]["content"] == "It helps a break-in."
    assert messages[4]["content"] == revision_request(PAYLOAD)
    assert messages[5]["content"] == "I can't help with that."
    (pref,), _ = taught(task, PAYLOAD, ANSWER, "preference")
    assert (pref["chosen"], pref["rejected"]) == ("I can't help with that.", "Try the back door.")
    assert task.row_columns(PAYLOAD) == {"principle_key": "harmless-1",
                                         "constitution_version": 3}
