"""The console's project forms, described as data: the settings every project has (one
:class:`SettingField` each in :data:`SETTINGS_FIELDS`) and the config form of a task type,
built from its config schema (one :class:`ConfigControl` per top-level field).

Both the pages (``web/console_projects.py``) and the live preview read form values through
:func:`settings_from_form` and :func:`config_from_form`, so a value means the same thing
wherever it is typed. Errors come back as ``{field: message}``, with the API's messages.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ValidationError

from expertloop.errors import ExpertloopError
from expertloop.tasks import TaskType

__all__ = [
    "SETTINGS_FIELDS",
    "ConfigControl",
    "SettingField",
    "config_controls",
    "config_from_form",
    "errors_by_field",
    "pydantic_errors",
    "settings_from_form",
]

Kind = Literal["text", "markdown", "int", "number", "bool", "lines", "json"]


@dataclass(frozen=True, slots=True)
class SettingField:
    """One project setting on the create and settings forms.

    ``name`` is the field of the API's ``ProjectCreate`` / ``ProjectUpdate`` (and of the
    project); ``kind`` says how the form shows and reads it: ``text``, ``markdown`` (a text
    area with a rendered preview), ``int``, ``number``, ``bool`` (a checkbox), ``lines``
    (a list of strings, one per line) or ``json``.
    """

    name: str
    label: str
    kind: Kind
    help: str = ""
    min: float | None = None
    max: float | None = None
    step: str | None = None
    # Where the setting lives: ``project`` (a field of the project, ``ProjectUpdate``) or
    # ``redundancy`` (adaptive redundancy, ``PUT /projects/{id}/redundancy``).
    group: Literal["project", "redundancy"] = "project"


# Every setting of a project the console edits, in the order shown. Another feature's
# setting (required skills, gold share, min/max answers...) is one line here, plus its field
# in the API's ProjectCreate/ProjectUpdate and its check in services.projects.EDITABLE.
SETTINGS_FIELDS: tuple[SettingField, ...] = (
    SettingField("name", "Name", "text", "Shown to workers on their home page."),
    SettingField(
        "guidelines",
        "Guidelines",
        "markdown",
        "Markdown. Workers open them with G. Every edit is kept as a new version, and each "
        "answer records the version its item was given under.",
    ),
    SettingField(
        "answers_per_item",
        "Answers per item",
        "int",
        "How many workers answer each item. Applies to items imported from now on.",
        min=1,
        max=100,
    ),
    SettingField(
        "lease_seconds",
        "Lease (seconds)",
        "int",
        "How long a worker holds an item before it goes back to the pool.",
        min=10,
        max=7 * 24 * 3600,
    ),
    SettingField(
        "max_lease_extensions",
        "Lease extensions",
        "int",
        "How many times a worker may take another lease's time on one item (E, or typing).",
        min=0,
        max=100,
    ),
    # Adaptive redundancy (docs/quality.md): all empty, a fixed answers per item.
    SettingField(
        "min_answers",
        "Adaptive: min answers",
        "int",
        "Adaptive redundancy: every item first gets this many answers, then stops once its "
        "consensus is confident enough. Leave the adaptive fields empty for a fixed "
        "answers per item.",
        min=1,
        max=1000,
        group="redundancy",
    ),
    SettingField(
        "max_answers",
        "Adaptive: max answers",
        "int",
        "The most answers an item whose answers disagree may get.",
        min=1,
        max=1000,
        group="redundancy",
    ),
    SettingField(
        "target_confidence",
        "Adaptive: target confidence",
        "number",
        "An item stops once its consensus is this probable under the fitted worker model "
        "(0.5 to below 1, e.g. 0.99).",
        min=0.5,
        max=0.9999,
        step="0.0001",
        group="redundancy",
    ),
    SettingField(
        "audit_share",
        "Adaptive: audit share",
        "number",
        "The share of items (0 to 1) that get one answer more than the minimum whatever "
        "their confidence, so workers and triage judges are measured where experts overlap "
        "(e.g. 0.1 with min answers 1 and triage; empty: 0).",
        min=0,
        max=1,
        step="0.01",
        group="redundancy",
    ),
)


@dataclass(frozen=True, slots=True)
class ConfigControl:
    """One field of a task type's config on the form (named ``config.<name>``)."""

    name: str
    label: str
    kind: Kind
    help: str
    required: bool
    value: Any  # what the control shows: text, or a bool for a checkbox
    default: Any = None

    @property
    def input_name(self) -> str:
        return f"config.{self.name}"


def _non_null(schema: Mapping[str, Any]) -> Mapping[str, Any]:
    options = schema.get("anyOf")
    if options:
        rest = [o for o in options if o.get("type") != "null"]
        if len(rest) == 1:
            return {**schema, **rest[0]}
    return schema


def _kind(schema: Mapping[str, Any]) -> Kind:
    kind = schema.get("type")
    if kind == "boolean":
        return "bool"
    if kind == "integer":
        return "int"
    if kind == "number":
        return "number"
    if kind == "array":
        items = schema.get("items", {})
        if "$ref" not in items and items.get("type") == "string":
            return "lines"
    if kind == "string" and "enum" not in schema:
        return "text"
    return "json"


def _shown(kind: Kind, value: Any) -> Any:
    if kind == "bool":
        return bool(value)
    if value is None:
        return ""
    if kind == "lines":
        return "\n".join(str(v) for v in value)
    if kind == "json":
        return json.dumps(value, indent=2, ensure_ascii=False)
    return str(value)


def _label(name: str) -> str:
    text = name.replace("_", " ")
    return text[:1].upper() + text[1:]


def config_controls(task: TaskType, config: Mapping[str, Any]) -> list[ConfigControl]:
    """The controls of the task type's config form, filled with ``config``: one per
    top-level field of its config schema, in the schema's order."""
    schema = task.config_model.model_json_schema()
    required = set(schema.get("required", ()))
    controls = []
    for name, raw in schema.get("properties", {}).items():
        field = _non_null(raw)
        kind = _kind(field)
        value = config.get(name, field.get("default"))
        help_text = str(field.get("description") or "")
        if kind == "lines":
            help_text = (help_text + " One per line.").strip()
        if kind == "json":
            help_text = (help_text + " JSON.").strip()
        controls.append(
            ConfigControl(
                name, _label(name), kind, help_text, name in required, _shown(kind, value)
            )
        )
    return controls


def _read(kind: Kind, raw: Any, field: str, errors: dict[str, str]) -> tuple[bool, Any]:
    """A form value as the setting's type: (present, value)."""
    if kind == "bool":
        return True, raw not in (None, "", "0", "false", "off")
    text = "" if raw is None else str(raw)
    if kind in ("text", "markdown"):
        return True, text.replace("\r\n", "\n")
    if not text.strip():
        return False, None
    if kind == "int":
        try:
            return True, int(text.strip())
        except ValueError:
            errors[field] = "enter a whole number"
            return False, None
    if kind == "number":
        try:
            return True, float(text.strip())
        except ValueError:
            errors[field] = "enter a number"
            return False, None
    if kind == "lines":
        return True, [line.strip() for line in text.splitlines() if line.strip()]
    try:
        return True, json.loads(text)
    except json.JSONDecodeError as exc:
        errors[field] = f"not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
        return False, None


def config_from_form(
    task: TaskType, form: Mapping[str, Any], errors: dict[str, str]
) -> dict[str, Any]:
    """The config the form's ``config.*`` fields describe (not yet validated: the task type
    does that). Fields that cannot be read add to ``errors``."""
    config: dict[str, Any] = {}
    for control in config_controls(task, {}):
        raw = form.get(control.input_name)
        present, value = _read(control.kind, raw, control.input_name, errors)
        if control.kind == "bool" and value is False and control.default is None:
            present = False  # unticked where the schema's default is "unset"
        if present:
            config[control.name] = value
    return config


def settings_from_form(
    form: Mapping[str, Any],
    errors: dict[str, str],
    fields: Sequence[SettingField] = SETTINGS_FIELDS,
) -> dict[str, Any]:
    """The settings the form holds (a field left empty is left out)."""
    values: dict[str, Any] = {}
    for field in fields:
        if field.kind != "bool" and field.name not in form:
            continue
        present, value = _read(field.kind, form.get(field.name), field.name, errors)
        if present:
            values[field.name] = value
    return values


def pydantic_errors(exc: ValidationError) -> dict[str, str]:
    """A request schema's errors by field, as the API words them."""
    found: dict[str, str] = {}
    for error in exc.errors(include_url=False):
        field = ".".join(str(p) for p in error["loc"]) or "form"
        found.setdefault(field, str(error["msg"]).removeprefix("Value error, "))
    return found


def errors_by_field(exc: ExpertloopError) -> dict[str, str]:
    """A service error's messages by field (its ``details``), or under ``form``."""
    found: dict[str, str] = {}
    details = exc.details if isinstance(exc.details, list) else []
    for detail in details:
        if isinstance(detail, dict) and detail.get("field"):
            found.setdefault(str(detail["field"]), str(detail.get("message") or exc.message))
    return found or {"form": exc.message}


def validate_schema(model: type[BaseModel], values: Mapping[str, Any]) -> dict[str, str]:
    """Check ``values`` against an API request schema; its errors by field."""
    try:
        model.model_validate(dict(values))
    except ValidationError as exc:
        return pydantic_errors(exc)
    return {}
