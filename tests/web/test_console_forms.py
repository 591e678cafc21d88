"""The console's data-driven forms: every task type's config survives the round trip through
its form, and the settings fields read what they show."""

from __future__ import annotations

from typing import Any

import pytest

from expertloop.tasks import TASK_TYPES, get_task_type
from expertloop.web.console_forms import (
    SETTINGS_FIELDS,
    config_controls,
    config_from_form,
    settings_from_form,
)


def _as_form(task_type: str, config: dict[str, Any]) -> dict[str, str]:
    """What a browser posts for the config form filled with ``config`` (ticked boxes only)."""
    form: dict[str, str] = {}
    for control in config_controls(get_task_type(task_type), config):
        if control.kind == "bool":
            if control.value:
                form[control.input_name] = "true"
        else:
            form[control.input_name] = str(control.value)
    return form


@pytest.mark.parametrize("task_type", sorted(TASK_TYPES))
def test_every_task_types_example_config_survives_its_form(task_type: str) -> None:
    task = get_task_type(task_type)
    errors: dict[str, str] = {}
    read = config_from_form(task, _as_form(task_type, task.example.config), errors)
    assert errors == {}
    assert task.validate_config(read) == task.validate_config(task.example.config)


def test_a_config_field_that_cannot_be_read_is_named_with_the_reason() -> None:
    task = get_task_type("rating")
    errors: dict[str, str] = {}
    config_from_form(task, {"config.criteria": "[{not json"}, errors)
    assert list(errors) == ["config.criteria"]
    assert errors["config.criteria"].startswith("not valid JSON")


def test_the_settings_fields_read_numbers_and_text_and_leave_out_what_was_not_sent() -> None:
    errors: dict[str, str] = {}
    values = settings_from_form(
        {"name": "N", "guidelines": "a\r\nb", "answers_per_item": "4", "lease_seconds": "x"},
        errors,
    )
    assert values == {"name": "N", "guidelines": "a\nb", "answers_per_item": 4}
    assert errors == {"lease_seconds": "enter a whole number"}
    assert settings_from_form({}, {}) == {}
    assert [f.name for f in SETTINGS_FIELDS] == [
        "name",
        "guidelines",
        "answers_per_item",
        "lease_seconds",
        "max_lease_extensions",
        "min_answers",
        "max_answers",
        "target_confidence",
        "audit_share",
    ]
