"""docs/task-types.md keeps up with the task types: every registered type has a section, and
every JSON example on the page is valid for its type.

Examples are fenced ```json blocks preceded by a marker comment::

    <!-- example: ranking answer -->
    <!-- example: label config (multiple) -->

The kind is ``payload``, ``config``, ``answer``, ``gold`` or ``rows``; the optional variant
in parentheses pairs examples of one type: an example of a variant is checked with that
variant's payload and config where the page gives them, and with the type's plain ones
otherwise. Answers are checked as a worker sends them (``{"answer": ...}`` to
``POST /api/v1/assignments/{id}/answer``) on an item shown as it is; rows must be exactly
what the task type makes of its payload with the answer taken as the consensus.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from expertloop.errors import InputInvalid
from expertloop.tasks import TASK_TYPES, TaskType, get_task_type, row_format

PAGE = Path(__file__).resolve().parents[1] / "docs" / "task-types.md"
KINDS = ("payload", "config", "answer", "gold", "rows")
REQUIRED_KINDS = ("payload", "config", "answer", "rows")

_EXAMPLE = re.compile(
    r"<!--\s*example:\s*(?P<task>[\w-]+)\s+(?P<kind>\w+)(?:\s*\((?P<variant>[^)]*)\))?\s*-->"
    r"\s*\n```json\n(?P<body>.*?)\n```",
    re.S,
)


@dataclass(frozen=True)
class Example:
    task: str
    kind: str
    variant: str
    value: Any
    line: int

    @property
    def label(self) -> str:
        variant = f" ({self.variant})" if self.variant else ""
        return f"{self.task} {self.kind}{variant}, line {self.line}"


def _text() -> str:
    return PAGE.read_text(encoding="utf-8")


def _examples() -> list[Example]:
    text = _text()
    found = []
    for match in _EXAMPLE.finditer(text):
        line = text.count("\n", 0, match.start()) + 1
        try:
            value = json.loads(match["body"])
        except json.JSONDecodeError as exc:
            pytest.fail(f"docs/task-types.md line {line}: the example is not JSON: {exc}")
        found.append(
            Example(match["task"], match["kind"], (match["variant"] or "").strip(), value, line)
        )
    return found


EXAMPLES = _examples()


def _find(task: str, kind: str, variant: str) -> Example | None:
    """The example of ``kind`` for ``variant``, falling back to the type's plain one."""
    for wanted in dict.fromkeys((variant, "")):
        for example in EXAMPLES:
            if (example.task, example.kind, example.variant) == (task, kind, wanted):
                return example
    return None


def _config(task: TaskType, variant: str) -> dict[str, Any]:
    example = _find(task.name, "config", variant)
    return task.validate_config(example.value if example else {})


def _payload(task: TaskType, variant: str) -> dict[str, Any]:
    example = _find(task.name, "payload", variant)
    assert example is not None, f"{task.name} has no payload example"
    return task.validate_payload(example.value, _config(task, variant))


def _canonical_answer(task: TaskType, variant: str) -> dict[str, Any]:
    example = _find(task.name, "answer", variant)
    assert example is not None, f"{task.name} has no answer example"
    payload = _payload(task, variant)
    shown = task.validate_answer(
        example.value, _config(task, variant), payload=task.present(payload, None)
    )
    return task.to_canonical(shown, None)


def _rounded(value: Any) -> Any:
    """Floats to 3 decimals, so a page may print 0.889 for 0.8888888888888888."""
    if isinstance(value, float):
        return round(value, 3)
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_rounded(v) for v in value]
    return value


def _of_kind(*kinds: str) -> list[Any]:
    return [pytest.param(e, id=e.label) for e in EXAMPLES if e.kind in kinds]


# --- the page covers every task type ------------------------------------------------------


def test_the_page_has_examples_to_check() -> None:
    assert len(EXAMPLES) >= 4 * len(TASK_TYPES)


@pytest.mark.parametrize("name", sorted(TASK_TYPES))
def test_every_registered_task_type_has_a_section_on_the_page(name: str) -> None:
    assert re.search(rf"^## {re.escape(name)}\s*$", _text(), re.M), (
        f"docs/task-types.md has no '## {name}' section"
    )


@pytest.mark.parametrize("name", sorted(TASK_TYPES))
def test_every_task_type_has_a_payload_config_answer_and_rows_example(name: str) -> None:
    plain = {e.kind for e in EXAMPLES if e.task == name and not e.variant}
    missing = [kind for kind in REQUIRED_KINDS if kind not in plain]
    assert not missing, f"docs/task-types.md has no {name} example of: {', '.join(missing)}"


@pytest.mark.parametrize("name", sorted(TASK_TYPES))
def test_every_task_type_is_in_the_overview_table(name: str) -> None:
    assert f"| [`{name}`](#{name}) |" in _text()


def test_every_example_marker_names_a_task_type_and_a_kind() -> None:
    markers = re.findall(r"<!--\s*example:.*?-->", _text())
    assert len(markers) == len(EXAMPLES), "a marker is not followed by a ```json block"
    for example in EXAMPLES:
        assert example.task in TASK_TYPES, f"{example.label}: unknown task type"
        assert example.kind in KINDS, f"{example.label}: kind is not one of {KINDS}"


def test_the_unknown_task_type_message_lists_every_task_type() -> None:
    with pytest.raises(InputInvalid) as raised:
        get_task_type("ner")
    assert f"`{raised.value}`" in " ".join(_text().split())


# --- every example is valid ---------------------------------------------------------------


@pytest.mark.parametrize("example", _of_kind("config"))
def test_every_config_example_is_a_valid_project_config(example: Example) -> None:
    get_task_type(example.task).validate_config(example.value)


@pytest.mark.parametrize("example", _of_kind("payload"))
def test_every_payload_example_is_a_valid_item_payload(example: Example) -> None:
    task = get_task_type(example.task)
    stored = task.validate_payload(example.value, _config(task, example.variant))
    assert stored == example.value


@pytest.mark.parametrize("example", _of_kind("answer"))
def test_every_answer_example_is_a_valid_answer_to_the_example_item(example: Example) -> None:
    task = get_task_type(example.task)
    payload = task.present(_payload(task, example.variant), None)
    task.validate_answer(example.value, _config(task, example.variant), payload=payload)


@pytest.mark.parametrize("example", _of_kind("gold"))
def test_every_gold_example_is_valid_gold_for_the_example_item(example: Example) -> None:
    task = get_task_type(example.task)
    task.validate_gold(
        example.value, _config(task, example.variant), payload=_payload(task, example.variant)
    )


@pytest.mark.parametrize("example", _of_kind("rows"))
def test_every_rows_example_is_what_the_task_type_exports_for_the_example_answer(
    example: Example,
) -> None:
    task = get_task_type(example.task)
    rows = task.export_rows(
        _payload(task, example.variant),
        _canonical_answer(task, example.variant),
        config=_config(task, example.variant),
    )
    assert isinstance(example.value, list)
    assert [row_format(row) for row in example.value] == [row_format(row) for row in rows]
    assert _rounded(rows) == example.value
