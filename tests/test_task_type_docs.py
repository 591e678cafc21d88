"""docs/task-types.md keeps up with the task types: every registered type has a section, and
every JSON example on the page is valid for its type.

Examples are fenced ```json blocks preceded by a marker comment::

    <!-- example: ranking answer -->
    <!-- example: label config (multiple) -->
    <!-- example: pairwise rows preference (chat) -->

The kind is ``payload``, ``config``, ``answer``, ``gold`` or ``rows``; rows name their export
format. The optional variant in parentheses pairs examples of one type: an example of a
variant is checked with that variant's payload and config where the page gives them, and
with the type's plain ones otherwise. Answers are checked as a worker sends them
(``{"answer": ...}`` to ``POST /api/v1/assignments/{id}/answer``) on an item shown as it is;
rows must be exactly what the exporter writes in that format (without the provenance
columns) with the answer taken as the item's consensus, in the conversational form where
the example shows chat messages and the standard form otherwise.

The page and the registry agree: each type's section lists exactly the export formats the
type offers and the fields of its config.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from expertloop.errors import InputInvalid
from expertloop.exports.rows import example_rows
from expertloop.tasks import EXPORT_FORMATS, TASK_TYPES, TaskType, get_task_type
from expertloop.tasks.training import AnswerAsConsensus, Score, Tie

PAGE = Path(__file__).resolve().parents[1] / "docs" / "task-types.md"
KINDS = ("payload", "config", "answer", "gold", "rows")
REQUIRED_KINDS = ("payload", "config", "answer", "rows")

_EXAMPLE = re.compile(
    r"<!--\s*example:\s*(?P<task>[\w-]+)\s+(?P<kind>\w+)(?:\s+(?P<format>\w+))?"
    r"(?:\s*\((?P<variant>[^)]*)\))?\s*-->"
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
    format: str = ""

    @property
    def label(self) -> str:
        variant = f" ({self.variant})" if self.variant else ""
        fmt = f" {self.format}" if self.format else ""
        return f"{self.task} {self.kind}{fmt}{variant}, line {self.line}"


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
            Example(
                match["task"],
                match["kind"],
                (match["variant"] or "").strip(),
                value,
                line,
                match["format"] or "",
            )
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
    assert len(EXAMPLES) >= 4 * len(TASK_TYPES) - 1


@pytest.mark.parametrize("name", sorted(TASK_TYPES))
def test_every_registered_task_type_has_a_section_on_the_page(name: str) -> None:
    assert re.search(rf"^## {re.escape(name)}\s*$", _text(), re.M), (
        f"docs/task-types.md has no '## {name}' section"
    )


@pytest.mark.parametrize("name", sorted(TASK_TYPES))
def test_every_task_type_has_a_payload_config_answer_and_rows_example(name: str) -> None:
    plain = {e.kind for e in EXAMPLES if e.task == name and not e.variant}
    required = REQUIRED_KINDS if get_task_type(name).export_formats != ("raw",) else (
        REQUIRED_KINDS[:-1]  # raw rows are the answers themselves: nothing to show
    )
    missing = [kind for kind in required if kind not in plain]
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
        if example.kind == "rows":
            offered = get_task_type(example.task).export_formats
            assert example.format in offered, f"{example.label}: not one of {offered}"
        else:
            assert not example.format, f"{example.label}: only rows name a format"


# --- each section agrees with the registry ------------------------------------------------


def _section(name: str) -> str:
    """The page's ``## name`` section, up to the next ``## `` heading."""
    text = _text()
    start = re.search(rf"^## {re.escape(name)}\s*$", text, re.M)
    assert start is not None, f"docs/task-types.md has no '## {name}' section"
    end = re.search(r"^## ", text[start.end() :], re.M)
    return text[start.end() : start.end() + end.start() if end else len(text)]


def _subsection(section: str, title: str) -> str:
    start = re.search(rf"^### {re.escape(title)}\s*$", section, re.M)
    assert start is not None, f"no '### {title}' subsection"
    end = re.search(r"^### ", section[start.end() :], re.M)
    return section[start.end() : start.end() + end.start() if end else len(section)]


@pytest.mark.parametrize("name", sorted(TASK_TYPES))
def test_every_section_lists_exactly_the_export_formats_its_task_type_offers(name: str) -> None:
    found = re.findall(r"^\*\*Export formats:\*\* (.+)$", _section(name), re.M)
    assert len(found) == 1, f"the {name} section has no (or several) '**Export formats:**' lines"
    listed = tuple(re.findall(r"`(\w+)`", found[0]))
    assert listed == get_task_type(name).export_formats


@pytest.mark.parametrize("name", sorted(TASK_TYPES))
def test_every_section_has_a_rows_example_of_every_format_but_raw(name: str) -> None:
    shown = {e.format for e in EXAMPLES if e.task == name and e.kind == "rows" and not e.variant}
    wanted = set(get_task_type(name).export_formats) - {"raw"}
    assert shown == wanted, f"{name} rows examples: {sorted(shown)}, formats {sorted(wanted)}"


def test_the_overview_table_lists_every_task_types_export_formats() -> None:
    for name, task in TASK_TYPES.items():
        row = re.search(rf"^\| \[`{re.escape(name)}`\]\(#{re.escape(name)}\) \|.*$", _text(),
                        re.M)
        assert row is not None
        listed = tuple(re.findall(r"`(\w+)`", row[0].rsplit("|", 2)[-2]))
        assert listed == task.export_formats, f"{name} in the overview table"


def test_the_formats_table_lists_every_format_and_the_task_types_offering_it() -> None:
    table = _subsection(_section("Rules shared by every task type"), "Training rows")
    for fmt in EXPORT_FORMATS:
        row = re.search(rf"^\| `{fmt}` \|.*$", table, re.M)
        assert row is not None, f"the formats table has no `{fmt}` row"
        offering = [n for n, t in TASK_TYPES.items() if fmt in t.export_formats]
        listed = row[0].rsplit("|", 2)[-2].strip()
        expected = "every task type" if len(offering) == len(TASK_TYPES) else ", ".join(offering)
        assert listed == expected, f"the `{fmt}` row"


@pytest.mark.parametrize("name", sorted(TASK_TYPES))
def test_every_config_table_lists_exactly_the_config_fields(name: str) -> None:
    table = _subsection(_section(name), "Config")
    cells = re.findall(r"^\| (`[^|]+) \|", table, re.M)
    fields = {
        field.split("[")[0].split(".")[0]
        for cell in cells
        for field in re.findall(r"`([^`]+)`", cell)
    }
    assert fields == set(get_task_type(name).config_model.model_fields)


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
    config = _config(task, example.variant)
    item = AnswerAsConsensus(
        task, _payload(task, example.variant), _canonical_answer(task, example.variant), config
    )
    assert isinstance(example.value, list)
    conversational = any(
        "messages" in row or isinstance(row.get("prompt"), list) for row in example.value
    )
    rows = [
        row
        for made in task.training_examples(example.format, item, config=config)
        if not isinstance(made, Tie)
        for row in _rows(example.format, made, conversational)
    ]
    assert _rounded(rows) == example.value


def _rows(fmt: str, made: Any, conversational: bool) -> list[dict[str, Any]]:
    """The rows of one training example; in ``reward``, a response's score (the exporter
    pairs it with the other responses to the same prompt) as ``prompt``, ``completion``
    and ``score``."""
    content = made.content
    if fmt == "reward" and isinstance(content, Score):
        return [{"prompt": content.prompt, "completion": content.completion,
                 "score": content.score}]
    return example_rows(fmt, made, conversational)
