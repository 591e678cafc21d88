"""Label: single and multiple choice, binary observations per label, classification rows."""

from __future__ import annotations

import pytest

from expertloop.tasks import Observation, TaskValidationError, get_task_type

label = get_task_type("label")
SINGLE = label.validate_config({"labels": ["urgent", "routine", "not medical"]})
MULTI = label.validate_config(
    {"labels": ["toxic", "off-topic", "spam"], "multiple": True, "min_choices": 0, "max_choices": 2}
)


def _errors(exc: pytest.ExceptionInfo[TaskValidationError]) -> dict[str, str]:
    return {e.field: e.message for e in exc.value.errors}


def test_single_choice_config_is_unchanged_by_the_new_options() -> None:
    assert SINGLE == {"labels": ["urgent", "routine", "not medical"]}
    assert MULTI["multiple"] is True


@pytest.mark.parametrize(
    ("config", "fragment"),
    [
        ({"labels": ["a", "b"], "min_choices": 1}, "need multiple: true"),
        ({"labels": ["a", "b"], "multiple": True, "max_choices": 3}, "exceeds the number"),
        (
            {"labels": ["a", "b", "c"], "multiple": True, "min_choices": 3, "max_choices": 2},
            "min_choices (3) exceeds max_choices (2)",
        ),
        ({"labels": ["a", "b"], "multiple": True, "min_choices": -1}, "greater than or equal"),
        ({"labels": ["a", "b"], "multiple": True, "max_choices": 0}, "greater than or equal"),
    ],
)
def test_invalid_choice_bounds_are_refused(config: dict[str, object], fragment: str) -> None:
    with pytest.raises(TaskValidationError, match=fragment.replace("(", r"\(").replace(")", r"\)")):
        label.validate_config(config)


def test_single_choice_answers_keep_working() -> None:
    assert label.validate_answer({"label": "routine"}, SINGLE) == {"label": "routine"}


@pytest.mark.parametrize(
    ("answer", "field", "fragment"),
    [
        ({"labels": ["urgent"]}, "labels", 'takes one label: answer {"label": ...}'),
        ({}, "label", "Field required"),
        ({"label": "parking"}, "label", "'parking' is not one of the project's labels"),
        ({"label": ["urgent"]}, "label", "valid string"),
    ],
)
def test_invalid_single_choice_answers_name_the_field(
    answer: dict[str, object], field: str, fragment: str
) -> None:
    with pytest.raises(TaskValidationError) as exc:
        label.validate_answer(answer, SINGLE)
    assert fragment in _errors(exc)[field]


def test_multiple_choice_answers_are_stored_in_the_config_order() -> None:
    assert label.validate_answer({"labels": ["spam", "toxic"]}, MULTI) == {
        "labels": ["toxic", "spam"]
    }
    assert label.validate_answer({"labels": []}, MULTI) == {"labels": []}


@pytest.mark.parametrize(
    ("answer", "field", "fragment"),
    [
        ({"label": "spam"}, "label", 'takes several labels: answer {"labels": [...]}'),
        ({}, "labels", "Field required"),
        ({"labels": ["toxic", "off-topic", "spam"]}, "labels", "at most 2 label(s); got 3"),
        ({"labels": ["spam", "spam"]}, "labels", "chosen once"),
        ({"labels": ["spam", "rude"]}, "labels", "'rude' is not one of"),
        ({"labels": "spam"}, "labels", "valid list"),
    ],
)
def test_invalid_multiple_choice_answers_name_the_field(
    answer: dict[str, object], field: str, fragment: str
) -> None:
    with pytest.raises(TaskValidationError) as exc:
        label.validate_answer(answer, MULTI)
    assert fragment in _errors(exc)[field]


def test_multiple_choice_needs_one_label_by_default() -> None:
    config = label.validate_config({"labels": ["a", "b"], "multiple": True})
    with pytest.raises(TaskValidationError) as exc:
        label.validate_answer({"labels": []}, config)
    assert _errors(exc) == {"labels": "choose at least 1 label(s); got 0"}


def test_single_choice_observation_is_the_label() -> None:
    assert label.observations({"label": "urgent"}, config=SINGLE) == [
        Observation("class", "label", "urgent")
    ]


def test_multiple_choice_observations_are_a_yes_or_no_per_configured_label() -> None:
    assert label.observations({"labels": ["spam"]}, config=MULTI) == [
        Observation("class", "toxic", "no"),
        Observation("class", "off-topic", "no"),
        Observation("class", "spam", "yes"),
    ]
    assert label.observations({"labels": ["spam"]}) == [Observation("class", "spam", "yes")]


def test_labels_are_aggregated_as_classes_and_export_as_classification() -> None:
    single = label.validate_config({"labels": ["urgent", "routine"]})
    multi = label.validate_config({"labels": ["spam", "toxic"], "multiple": True})
    assert label.export_formats == ("classification", "raw")
    assert label.class_names(single) == (("urgent", "routine"), False)
    assert label.class_names(multi) == (("spam", "toxic"), True)
    assert label.consensus_channels(single)["label"].classes == ("urgent", "routine")
    assert set(label.consensus_channels(multi)) == {"spam", "toxic"}
    assert label.coded_answer_fields(single) == {"label": ("label",)}
    assert label.coded_answer_fields(multi) is None


def test_the_consensus_is_the_label_or_the_labels_that_won_yes() -> None:
    from expertloop.tasks.training import AnswerAsConsensus

    single = label.validate_config({"labels": ["urgent", "routine"]})
    multi = label.validate_config({"labels": ["spam", "toxic"], "multiple": True})
    one = AnswerAsConsensus(label, {"text": "t"}, {"label": "routine"}, single).consensus()
    many = AnswerAsConsensus(label, {"text": "t"}, {"labels": ["spam"]}, multi).consensus()
    assert one is not None
    assert one.value == {"label": "routine"}
    assert many is not None
    assert many.value == {"labels": ["spam"]}


def test_a_classification_row_is_the_payloads_text_and_the_label_positions() -> None:
    from task_training import taught

    single = {"labels": ["urgent", "routine"]}
    rows, _ = taught(label, {"text": "chest pain", "source": "x"}, {"label": "routine"},
                     "classification", config=single)
    assert rows == [{"text": "chest pain", "label": 1}]
    multi = {"labels": ["spam", "toxic", "off-topic"], "multiple": True, "min_choices": 0}
    rows, _ = taught(label, {"message": "buy now", "channel": "dm"}, {"labels": ["off-topic", "spam"]},
                     "classification", config=multi)
    assert rows == [{"text": "message: buy now\nchannel: dm", "labels": [0, 2]}]
