"""The redteam task type: taxonomy, labels, the attached conversation, and training rows."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

import pytest

from expertloop.tasks import TaskValidationError, get_task_type
from expertloop.tasks.training import AnswerAsConsensus, Demonstration, Preference

redteam = get_task_type("redteam")
CONFIG = redteam.validate_config({})
LIVE = {"goal": "g", "target": {"provider": "local", "system_prompt": "Be safe."}}
TURNS = [
    {"role": "user", "content": "hi", "call_id": None},
    {"role": "assistant", "content": "hello", "call_id": 1, "provider": "local", "model": "m"},
    {"role": "user", "content": "now the harmful thing"},
    {"role": "assistant", "content": "HARMFUL", "call_id": 2, "provider": "local", "model": "m"},
]


def _errors(exc: pytest.ExceptionInfo[TaskValidationError]) -> dict[str, str]:
    return {e.field: e.message for e in exc.value.errors}


def _answer(**fields: Any) -> dict[str, Any]:
    return {"category": "vcr", "success": True, "severity": 2, **fields}


def _with_turns(answer: dict[str, Any], turns: list[dict[str, Any]] = TURNS) -> dict[str, Any]:
    clean = [{k: v for k, v in t.items() if v is not None} for t in turns]
    return redteam.attach_conversation(answer, clean)


def test_the_default_taxonomy_is_the_twelve_ailuminate_hazard_categories() -> None:
    data = json.loads(
        resources.files("expertloop.data").joinpath("ailuminate_hazards.json").read_text()
    )
    ids = [c["id"] for c in CONFIG["taxonomy"]]
    assert ids == [c["id"] for c in data["categories"]]
    assert len(ids) == 12
    assert len(set(ids)) == 12
    names = " ".join(c["name"] for c in CONFIG["taxonomy"]).lower()
    for hazard in ("violent crimes", "child sexual exploitation", "cbrne", "hate", "privacy",
                   "defamation", "intellectual property", "elections", "sexual content"):
        assert hazard in names


def test_a_project_may_bring_its_own_taxonomy_and_ids_are_distinct() -> None:
    own = redteam.validate_config({"taxonomy": [{"id": "cyber", "name": "Cyber attacks"}]})
    assert own["taxonomy"] == [{"id": "cyber", "name": "Cyber attacks"}]
    with pytest.raises(TaskValidationError, match="listed twice"):
        redteam.validate_config({"taxonomy": [{"id": "a", "name": "A"}, {"id": "a", "name": "B"}]})
    with pytest.raises(TaskValidationError) as exc:
        redteam.validate_config({"taxonomy": [{"id": "Not Valid", "name": "x"}]})
    assert "taxonomy.0.id" in _errors(exc)


def test_an_item_needs_a_target_or_a_transcript() -> None:
    assert redteam.validate_payload(LIVE, CONFIG) == LIVE
    with pytest.raises(TaskValidationError) as exc:
        redteam.validate_payload({"goal": "g"}, CONFIG)
    assert _errors(exc) == {"target": "give a target to chat with, or a transcript to label"}
    with pytest.raises(TaskValidationError, match="no reply from the model"):
        redteam.validate_payload(
            {"goal": "g", "transcript": [{"role": "user", "content": "a"}] * 2}, CONFIG
        )


def test_the_chat_target_comes_from_a_live_item_only() -> None:
    target = redteam.chat_target(LIVE, CONFIG)
    assert target is not None
    assert (target.provider, target.system_prompt, target.max_turns) == ("local", "Be safe.", 10)
    given = {"goal": "g", "transcript": TURNS[:2]}
    assert redteam.chat_target(given, CONFIG) is None


def test_the_server_attaches_the_stored_turns_and_a_sent_transcript_is_refused() -> None:
    answer = _with_turns(_answer())
    assert [t["content"] for t in answer["transcript"]] == ["hi", "hello", "now the harmful thing",
                                                            "HARMFUL"]
    assert answer["transcript"][3]["call_id"] == 2
    assert redteam.validate_answer(answer, CONFIG, payload=LIVE)["transcript"][1]["model"] == "m"
    with pytest.raises(TaskValidationError) as exc:
        redteam.attach_conversation(_answer(transcript=TURNS), TURNS)
    assert "do not send it" in _errors(exc)["transcript"]


@pytest.mark.parametrize(
    ("answer", "field", "fragment"),
    [
        (_answer(category="nope"), "category", "not a category of the taxonomy (vcr, src"),
        ({"category": "vcr", "success": True}, "severity", "needs a severity"),
        (_answer(severity=5), "severity", "the severity is 1 to 4"),
        ({"category": "vcr", "success": False, "severity": 1}, "severity", "only a successful"),
        (_answer(harmful_turn=2), "harmful_turn", "not the index of a reply"),
        (_answer(harmful_turn=9), "harmful_turn", "not the index of a reply"),
    ],
)
def test_invalid_labels_get_a_clear_message(answer: dict[str, Any], field: str,
                                            fragment: str) -> None:
    with pytest.raises(TaskValidationError) as exc:
        redteam.validate_answer(_with_turns(answer), CONFIG, payload=LIVE)
    assert fragment in _errors(exc)[field]


def test_an_answer_before_any_reply_is_refused() -> None:
    with pytest.raises(TaskValidationError) as exc:
        redteam.validate_answer(_answer(), CONFIG, payload=LIVE)
    assert _errors(exc) == {
        "transcript": "there is no conversation yet: send the target a message first"
    }
    unanswered = _with_turns(_answer(), TURNS[:1])
    assert "transcript" not in unanswered
    with pytest.raises(TaskValidationError):
        redteam.validate_answer(unanswered, CONFIG, payload=LIVE)


def test_a_message_still_waiting_for_its_reply_is_left_out_of_the_answer() -> None:
    answer = _with_turns(_answer(), TURNS[:3])
    assert [t["content"] for t in answer["transcript"]] == ["hi", "hello"]


def test_an_ideal_response_may_be_required_for_a_success() -> None:
    config = redteam.validate_config({"require_ideal_response": True})
    with pytest.raises(TaskValidationError) as exc:
        redteam.validate_answer(_with_turns(_answer()), config, payload=LIVE)
    assert "ideal_response" in _errors(exc)
    failed = {"category": "vcr", "success": False}
    assert redteam.validate_answer(_with_turns(failed), config, payload=LIVE) == _with_turns(failed)


def test_observations_say_category_success_severity_and_the_ideal_response() -> None:
    found = redteam.observations(_answer(ideal_response="No."))
    assert [(o.kind, o.key, o.value) for o in found] == [
        ("class", "category", "vcr"),
        ("class", "success", "yes"),
        ("score", "severity", 2),
        ("text", "ideal_response", "No."),
    ]
    assert redteam.vote({"category": "hte", "success": False}) == "hte"


def _examples(fmt: str, answer: dict[str, Any], payload: dict[str, Any] = LIVE) -> list[Any]:
    item = AnswerAsConsensus(redteam, payload, answer, CONFIG)
    return [e.content for e in redteam.training_examples(fmt, item, config=CONFIG)]


def test_a_success_with_an_ideal_response_is_a_dpo_pair_up_to_the_harmful_reply() -> None:
    answer = redteam.validate_answer(
        _with_turns(_answer(ideal_response="I won't help with that.")), CONFIG, payload=LIVE
    )
    [pair] = _examples("preference", answer)
    assert pair == Preference(
        [
            {"role": "system", "content": "Be safe."},
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": "hello"},
            {"role": "user", "content": "now the harmful thing"},
        ],
        "I won't help with that.",
        "HARMFUL",
        1.0,
    )
    [sft] = _examples("sft", answer)
    assert sft == Demonstration(pair.prompt, "I won't help with that.")
    # The expert may name an earlier reply as the harmful one.
    [early] = _examples("preference", {**answer, "harmful_turn": 1})
    assert (early.rejected, len(early.prompt)) == ("hello", 2)


def test_failures_and_successes_without_an_ideal_response_teach_no_row() -> None:
    failed = _with_turns({"category": "vcr", "success": False, "ideal_response": "x"})
    assert _examples("preference", failed) == []
    assert _examples("preference", _with_turns(_answer())) == []
