"""Task types: schemas, presentation and canonical answers, without a database."""

from __future__ import annotations

import importlib
import json
import random

import pytest
from task_training import taught

from expertloop.errors import InputInvalid
from expertloop.tasks import (
    EXPORT_FORMATS,
    TASK_TYPES,
    Observation,
    TaskValidationError,
    get_task_type,
)

pairwise = get_task_type("pairwise")
label = get_task_type("label")
PAYLOAD = {"prompt": "2+2?", "response_a": "4", "response_b": "5", "model_a": "m1"}


def _messages(exc: pytest.ExceptionInfo[TaskValidationError]) -> dict[str, str]:
    return {e.field: e.message for e in exc.value.errors}


def test_registry_knows_every_task_type_and_refuses_unknown_names() -> None:
    assert set(TASK_TYPES) == {
        "pairwise",
        "ranking",
        "rating",
        "label",
        "demonstration",
        "rubric",
        "rewrite",
        "authoring",
        "redteam",
        "critique_revision",
        "principle_grading",
        "principle_pairwise",
    }
    assert all(name == task.name for name, task in TASK_TYPES.items())
    with pytest.raises(InputInvalid, match="unknown task type 'nope'"):
        get_task_type("nope")


def test_pairwise_payload_keeps_extra_fields_and_accepts_chat_prompts() -> None:
    assert pairwise.validate_payload(PAYLOAD, {}) == PAYLOAD
    chat = {**PAYLOAD, "prompt": [{"role": "user", "content": "hi"}]}
    assert pairwise.validate_payload(chat, {})["prompt"] == [{"role": "user", "content": "hi"}]


def test_pairwise_payload_names_each_missing_field() -> None:
    with pytest.raises(TaskValidationError) as exc:
        pairwise.validate_payload({"prompt": "x"}, {})
    assert set(_messages(exc)) == {"response_a", "response_b"}


@pytest.mark.parametrize(
    ("answer", "field", "fragment"),
    [
        ({"choice": "C"}, "choice", "'A', 'B' or 'tie'"),
        ({"choice": "A", "strength": 4}, "strength", "less than or equal to 3"),
        ({"choice": "tie", "strength": 2}, "", "not to a tie"),
        ({"choice": "A", "extra": 1}, "extra", "Extra inputs"),
        ({}, "choice", "Field required"),
    ],
)
def test_invalid_pairwise_answers_get_a_clear_message(
    answer: dict[str, object], field: str, fragment: str
) -> None:
    with pytest.raises(TaskValidationError) as exc:
        pairwise.validate_answer(answer, {})
    assert fragment in _messages(exc)[field]


def test_pairwise_rationale_can_be_required_by_the_project() -> None:
    config = pairwise.validate_config({"require_rationale": True})
    with pytest.raises(TaskValidationError, match="requires a rationale"):
        pairwise.validate_answer({"choice": "A"}, config)
    assert pairwise.validate_answer({"choice": "A", "rationale": "why"}, config)


def test_pairwise_presentation_swaps_responses_and_answers_map_back_to_canonical() -> None:
    swapped = {"swap": True}
    shown = pairwise.present(PAYLOAD, swapped)
    assert (shown["response_a"], shown["response_b"]) == ("5", "4")
    assert pairwise.to_canonical({"choice": "A", "strength": 3}, swapped) == {
        "choice": "B",
        "strength": 3,
    }
    assert pairwise.to_canonical({"choice": "tie"}, swapped) == {"choice": "tie"}
    assert pairwise.to_shown(pairwise.to_canonical({"choice": "B"}, swapped), swapped) == {
        "choice": "B"
    }
    assert pairwise.present(PAYLOAD, {"swap": False}) == PAYLOAD


def test_pairwise_order_is_randomised_about_half_the_time() -> None:
    rng = random.Random(7)
    swaps = sum(bool(pairwise.new_presentation(rng)["swap"]) for _ in range(2000))  # type: ignore[index]
    assert 900 < swaps < 1100


def test_pairwise_observation_is_the_canonical_choice() -> None:
    assert pairwise.observations({"choice": "tie"}) == [Observation("comparison", "overall", "tie")]


def test_label_config_requires_two_distinct_nonblank_labels() -> None:
    assert label.validate_config({"labels": ["cat", "dog"]}) == {"labels": ["cat", "dog"]}
    for bad, fragment in [
        ({"labels": ["cat"]}, "at least 2"),
        ({"labels": ["cat", "cat"]}, "distinct"),
        ({"labels": ["cat", " "]}, "blank"),
        ({}, "Field required"),
    ]:
        with pytest.raises(TaskValidationError, match=fragment):
            label.validate_config(bad)


def test_label_answers_must_come_from_the_label_set() -> None:
    config = {"labels": ["cat", "dog"]}
    assert label.validate_answer({"label": "dog"}, config) == {"label": "dog"}
    with pytest.raises(TaskValidationError, match="'bird' is not one of"):
        label.validate_answer({"label": "bird"}, config)
    assert label.observations({"label": "dog"}) == [Observation("class", "label", "dog")]


def test_label_payload_is_any_json_object() -> None:
    assert label.validate_payload({"text": "hello", "meta": {"n": 1}}, {}) == {
        "text": "hello",
        "meta": {"n": 1},
    }


def test_gold_is_validated_like_an_answer() -> None:
    assert pairwise.validate_gold({"choice": "B"}, {}) == {"choice": "B"}
    with pytest.raises(TaskValidationError):
        label.validate_gold({"label": "x"}, {"labels": ["a", "b"]})


# --- the contract every task type keeps ----------------------------------------------------

SAMPLES: dict[str, tuple[dict[str, object], dict[str, object], dict[str, object]]] = {
    "pairwise": (
        {"criteria": [{"name": "helpfulness"}]},
        PAYLOAD,
        {"choice": "A", "criteria": {"helpfulness": "tie"}, "strength": 1},
    ),
    "ranking": (
        {"allow_ties": True},
        {"prompt": "p", "responses": ["a", "b", {"id": "c", "text": "c"}, "d"]},
        {"ranking": [[3], [0, 2], [1]]},
    ),
    "rating": (
        {"criteria": [{"name": "accuracy"}, {"name": "style", "min": 0, "max": 3}]},
        {"prompt": "p", "response": "r"},
        {"scores": {"accuracy": 4, "style": 0}, "comment": "fine"},
    ),
    "label": ({"labels": ["a", "b", "c"], "multiple": True}, {"text": "t"}, {"labels": ["c", "a"]}),
    "demonstration": ({}, {"prompt": "p"}, {"response": "r"}),
    "rubric": (
        {"criteria": [{"name": "x", "kind": "points", "max_points": 4}]},
        {"prompt": "p", "response": "r"},
        {"scores": {"x": 3}, "comments": {"x": "ok"}},
    ),
    "rewrite": ({}, {"prompt": "p", "response": "r"}, {"critique": "c", "rewrite": "better"}),
    "critique_revision": (
        {},
        {"prompt": "p", "response": "r", "principle": {"key": "k", "text": "t"},
         "constitution_version": 1},
        {"critique": "c", "revision": "better"},
    ),
    "principle_grading": (
        {"constitution_id": 1, "constitution_version": 1,
         "principles": [{"key": "k", "text": "t"}]},
        {"prompt": "p", "response": "r"},
        {"grades": {"k": {"verdict": "pass"}}},
    ),
    "principle_pairwise": (
        {},
        {**PAYLOAD, "principle": {"key": "k", "text": "t"}, "constitution_version": 1},
        {"choice": "A"},
    ),
    "authoring": (
        {},
        {"brief": "b"},
        {"problem": "p", "solution": "s", "rubric": [{"criterion": "c", "points": 1}]},
    ),
    "redteam": (
        {},
        {
            "goal": "g",
            "transcript": [
                {"role": "user", "content": "u"},
                {"role": "assistant", "content": "harm"},
            ],
        },
        {"category": "hte", "success": True, "severity": 3, "ideal_response": "safe"},
    ),
}


def test_every_task_type_has_a_sample_here() -> None:
    assert set(SAMPLES) == set(TASK_TYPES)


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_every_module_documents_its_payload_config_answer_observations_and_export(
    name: str,
) -> None:
    doc = importlib.import_module(f"expertloop.tasks.{name}").__doc__ or ""
    for word in ("Payload", "Config", "Answer", "Observations", "Export", "Consensus"):
        assert word in doc, f"{name} does not document its {word}"


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_every_task_type_validates_presents_observes_and_exports_its_sample(name: str) -> None:
    task = get_task_type(name)
    raw_config, payload, answer = SAMPLES[name]
    config = task.validate_config(raw_config)
    assert task.validate_config(config) == config
    assert task.validate_payload(payload, config) == payload
    rng = random.Random(11)
    for _ in range(20):
        presentation = task.new_presentation(rng)
        shown_payload = task.present(payload, presentation)
        assert json.dumps(shown_payload)
        shown = task.validate_answer(answer, config, payload=shown_payload)
        canonical = task.to_canonical(shown, presentation)
        assert task.validate_gold(canonical, config, payload=payload) == canonical
        assert task.to_shown(canonical, presentation) == shown
    found = task.observations(canonical, config=config)
    assert found
    assert all(isinstance(o, Observation) and hash(o) is not None for o in found)
    assert {o.kind for o in found} <= {"class", "comparison", "ranking", "score", "text"}
    assert task.export_formats[-1] == "raw"
    assert set(task.export_formats) <= set(EXPORT_FORMATS)
    for fmt in task.export_formats[:-1]:
        rows, _ = taught(task, payload, canonical, fmt, config=config)
        assert rows, f"{name} makes no {fmt} row from its sample"
        assert json.loads(json.dumps(rows)) == rows
