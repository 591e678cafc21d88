"""Moving between expertloop and other labelling tools, labels included.

Reading (:func:`foreign_records`) turns another tool's export into expertloop item records
(:class:`~expertloop.services.items.ItemIn`), keeping what people and models said:

- Label Studio task JSON (its "Export -> JSON"): ``data`` becomes the payload (the pairwise
  template's ``answer1``/``answer2`` become ``response_a``/``response_b``), ``meta`` the
  item's metadata, ``id`` the external id; each annotation that was not cancelled becomes an
  answer by the imported annotator ``label-studio:<completed_by>`` with its time and lead
  time, a ground-truth annotation becomes the item's gold, and each prediction a model
  suggestion (``model_version``, ``score``).
- Argilla 2.x records (``{"id", "fields", "metadata", "responses", "suggestions"}``): fields
  are the payload, metadata the item's metadata (never the payload: it may unblind a
  comparison), submitted responses answers by ``argilla:<user_id>``, suggestions model
  suggestions by ``agent``. The flattened Hugging Face form of an Argilla dataset is read
  too: 2.x (``question.responses``, ``question.responses.users``, ``question.suggestion``,
  ...) and 1.x (``question`` as a list of ``{user_id, value, status}``,
  ``question-suggestion``, ``question-suggestion-metadata``, ``metadata``, ``external_id``).

The other tool's named values (a Label Studio result's ``from_name``, an Argilla question's
name) reach the task type as ``{name: value}``, and
:meth:`~expertloop.tasks.base.TaskType.answer_from_fields` makes its answer of them.

Writing (:func:`to_label_studio`, :func:`to_argilla`) is the inverse, so a project exported
to either tool imports back with the same items, answers, gold and suggestions.

All readers yield ``(record number, item record)`` pairs, or ``(number, ParseProblem)``
naming the field, for :func:`expertloop.services.items.import_items` (all or nothing).
"""

from __future__ import annotations

import enum
import json
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from expertloop.domain import Project, SuggestionSource, User
from expertloop.domain.policies import can_read_gold
from expertloop.errors import InputInvalid, PermissionDenied
from expertloop.services.clock import iso_utc
from expertloop.services.item_sources import ParseProblem, loads_json, utf8_problem
from expertloop.services.projects import load_project
from expertloop.store import Database
from expertloop.store import imported_labels as label_store
from expertloop.store.imported_labels import LabelledItem
from expertloop.tasks import get_task_type
from expertloop.tasks.base import TaskType

__all__ = ["SOURCES", "export_to_tool", "foreign_records", "to_argilla", "to_label_studio"]

SOURCES = (SuggestionSource.LABEL_STUDIO.value, SuggestionSource.ARGILLA.value)

Parsed = tuple[int, Any]


class _Problem(Exception):
    """A record that cannot be read, with the field that says why."""


def _records(body: bytes | str) -> Iterator[Parsed]:
    """A JSON array, an object holding ``records``/``tasks``, or one JSON object per line
    (told apart by content: a document that parses whole is one JSON value)."""
    if isinstance(body, bytes):
        try:
            text = body.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            yield utf8_problem(body, exc)
            return
    else:
        text = body
    try:
        data = loads_json(text)
    except ValueError:
        data = None
        whole = False
    else:
        whole = True
    if whole:
        if isinstance(data, dict):
            for key in ("records", "tasks", "items"):
                if isinstance(data.get(key), list):
                    data = data[key]
                    break
            else:
                data = [data]
        if not isinstance(data, list):
            yield 1, ParseProblem("expected a JSON array of records")
            return
        yield from enumerate(data, start=1)
        return
    stripped = text.lstrip()
    if stripped.startswith("["):  # an array that does not parse: say where
        try:
            loads_json(text)
        except json.JSONDecodeError as exc:
            yield exc.lineno, ParseProblem(f"invalid JSON at column {exc.colno}: {exc.msg}")
        except ValueError as exc:
            yield 1, ParseProblem(str(exc))
        return
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            yield number, loads_json(line)
        except json.JSONDecodeError as exc:
            yield number, ParseProblem(f"invalid JSON at column {exc.colno}: {exc.msg}")
        except ValueError as exc:
            yield number, ParseProblem(str(exc))


def _external_id(value: Any) -> str | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | str):
        return str(value)
    return None


def _object(value: Any, field: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _Problem(f"field {field}: missing or not an object")
    return value


# --- Label Studio --------------------------------------------------------------------------


class LabelStudioResult(enum.StrEnum):
    """The Label Studio result types this importer reads (Label Studio's vocabulary: a
    ``rating`` control, not the rating task type)."""

    CHOICES = "choices"
    RATING = "rating"
    NUMBER = "number"
    TEXTAREA = "textarea"
    PAIRWISE = "pairwise"
    RANKER = "ranker"
    TAXONOMY = "taxonomy"


# The key of each result type's value that holds what was chosen, rated or written.
_LS_VALUE_KEYS: dict[str, str] = {
    LabelStudioResult.CHOICES: "choices",
    LabelStudioResult.RATING: "rating",
    LabelStudioResult.NUMBER: "number",
    LabelStudioResult.TEXTAREA: "text",
    LabelStudioResult.PAIRWISE: "selected",
    LabelStudioResult.RANKER: "ranker",
    LabelStudioResult.TAXONOMY: "taxonomy",
}


def _ls_fields(results: Any, field: str) -> dict[str, Any]:
    if not isinstance(results, list):
        raise _Problem(f"field {field}: not a list of results")
    fields: dict[str, Any] = {}
    for n, result in enumerate(results):
        where = f"{field}.{n}"
        result = _object(result, where)
        kind = result.get("type")
        key = _LS_VALUE_KEYS.get(str(kind))
        if key is None:
            raise _Problem(
                f"field {where}.type: Label Studio result type {kind!r} is not imported "
                f"(readable: {', '.join(sorted(_LS_VALUE_KEYS))})"
            )
        value = _object(result.get("value"), f"{where}.value").get(key)
        if value is None:
            raise _Problem(f"field {where}.value.{key}: missing")
        if kind == LabelStudioResult.CHOICES and isinstance(value, list) and len(value) == 1:
            value = value[0]
        if kind == LabelStudioResult.TEXTAREA and isinstance(value, list):
            value = "\n".join(str(v) for v in value)
        # The pairwise control's value is its choice whatever the control is called.
        name = "selected" if kind == LabelStudioResult.PAIRWISE else result.get("from_name")
        if not isinstance(name, str) or not name:
            raise _Problem(f"field {where}.from_name: missing")
        fields[name] = value
    return fields


def _annotator(value: Any) -> str:
    if isinstance(value, dict):
        value = value.get("id", value.get("email"))
    return str(value) if value is not None else "unknown"


def _label_studio(task: Any, kind: TaskType, config: Mapping[str, Any]) -> dict[str, Any]:
    task = _object(task, "task")
    data = _object(task.get("data"), "data")
    payload = {kind.payload_aliases.get(k, k): v for k, v in data.items() if k != "external_id"}
    record: dict[str, Any] = {"payload": payload}
    external = _external_id(data.get("external_id", task.get("id")))
    if external is not None:
        record["external_id"] = external
    if isinstance(task.get("meta"), dict) and task["meta"]:
        record["metadata"] = task["meta"]
    answers = []
    for n, annotation in enumerate(task.get("annotations") or []):
        annotation = _object(annotation, f"annotations.{n}")
        if annotation.get("was_cancelled"):
            continue
        fields = _ls_fields(annotation.get("result"), f"annotations.{n}.result")
        if annotation.get("ground_truth"):
            record["gold"] = kind.answer_from_fields(fields, config)
            continue
        answer: dict[str, Any] = {
            "annotator": _annotator(annotation.get("completed_by")),
            "value": fields,
        }
        if annotation.get("created_at"):
            answer["created_at"] = annotation["created_at"]
        if isinstance(annotation.get("lead_time"), int | float):
            answer["duration_ms"] = max(0, round(annotation["lead_time"] * 1000))
        if annotation.get("id") is not None:
            answer["ref"] = f"annotation:{annotation['id']}"
        answers.append(answer)
    if answers:
        record["answers"] = answers
    suggestions = []
    for n, prediction in enumerate(task.get("predictions") or []):
        prediction = _object(prediction, f"predictions.{n}")
        suggestion: dict[str, Any] = {
            "agent": str(prediction.get("model_version") or "label-studio-prediction"),
            "value": _ls_fields(prediction.get("result"), f"predictions.{n}.result"),
        }
        if isinstance(prediction.get("score"), int | float):
            suggestion["score"] = prediction["score"]
        suggestions.append(suggestion)
    if suggestions:
        record["suggestions"] = suggestions
    return record


def _ls_result(name: str, value: Any) -> dict[str, Any]:
    """One Label Studio result for a named value, typed by what the value looks like."""
    if name == "selected" and value in ("left", "right"):
        kind, body = LabelStudioResult.PAIRWISE, {"selected": value}
    elif isinstance(value, bool) or (isinstance(value, str) and len(value) <= 100):
        kind, body = (
            LabelStudioResult.CHOICES,
            {"choices": [str(value).lower() if isinstance(value, bool) else value]},
        )
    elif isinstance(value, int | float):
        kind, body = LabelStudioResult.RATING, {"rating": value}
    elif isinstance(value, str):
        kind, body = LabelStudioResult.TEXTAREA, {"text": [value]}
    elif isinstance(value, list) and all(isinstance(v, str) for v in value):
        kind, body = LabelStudioResult.CHOICES, {"choices": value}
    else:
        kind, body = LabelStudioResult.TEXTAREA, {"text": [json.dumps(value, ensure_ascii=False)]}
    return {"from_name": name, "to_name": "item", "type": kind.value, "value": body}


def to_label_studio(
    items: Iterable[LabelledItem], kind: TaskType, config: Mapping[str, Any]
) -> Iterator[dict[str, Any]]:
    """Label Studio tasks (its JSON import format) with annotations and predictions."""
    aliases = {v: k for k, v in kind.payload_aliases.items()}
    for item in items:
        task: dict[str, Any] = {
            "id": item.id,
            "data": {aliases.get(k, k): v for k, v in item.payload.items()},
            "annotations": [],
            "predictions": [],
        }
        if item.external_id is not None:
            task["data"]["external_id"] = item.external_id
        if item.meta:
            task["meta"] = item.meta
        for answer in item.answers:
            fields = kind.answer_to_fields(answer["value"], config)
            task["annotations"].append(
                {
                    "id": answer["id"],
                    "completed_by": _original_annotator(answer["username"]),
                    "created_at": iso_utc(answer["created_at"]),
                    "lead_time": answer["duration_ms"] / 1000,
                    "result": [_ls_result(k, v) for k, v in fields.items()],
                }
            )
        if item.gold is not None:
            fields = kind.answer_to_fields(item.gold, config)
            task["annotations"].append(
                {"ground_truth": True, "result": [_ls_result(k, v) for k, v in fields.items()]}
            )
        for suggestion in item.suggestions:
            fields = kind.answer_to_fields(suggestion["value"], config)
            prediction: dict[str, Any] = {
                "model_version": suggestion["agent"],
                "result": [_ls_result(k, v) for k, v in fields.items()],
            }
            if suggestion["score"] is not None:
                prediction["score"] = suggestion["score"]
            task["predictions"].append(prediction)
        yield task


def _original_annotator(username: str) -> str:
    """An imported annotator's id in its tool (``label-studio:7`` -> ``7``); a live
    expertloop worker keeps their username."""
    for source in (*SOURCES, SuggestionSource.IMPORT.value):
        if username.startswith(f"{source}:"):
            return username[len(source) + 1 :]
    return username


# --- Argilla -------------------------------------------------------------------------------

_ARGILLA_RESERVED = {"id", "external_id", "status", "_server_id", "inserted_at", "updated_at"}


def _argilla_answers(
    by_user: dict[str, dict[str, Any]],
) -> list[dict[str, Any]]:
    return [{"annotator": user, "value": fields} for user, fields in by_user.items()]


def _argilla_nested(raw: dict[str, Any]) -> dict[str, Any]:
    fields = raw.get("fields")
    if fields is None and isinstance(raw.get("inputs"), dict):  # Argilla 1.x text records
        fields = raw["inputs"]
    record: dict[str, Any] = {"payload": dict(_object(fields, "fields"))}
    metadata = raw.get("metadata")
    if metadata is not None:
        if not isinstance(metadata, dict):
            raise _Problem("field metadata: not an object")
        if metadata:
            record["metadata"] = metadata
    by_user: dict[str, dict[str, Any]] = {}
    for question, responses in _object(raw.get("responses") or {}, "responses").items():
        if not isinstance(responses, list):
            raise _Problem(f"field responses.{question}: not a list")
        for n, response in enumerate(responses):
            response = _object(response, f"responses.{question}.{n}")
            if response.get("status", "submitted") != "submitted":
                continue
            user = str(response.get("user_id") or "unknown")
            by_user.setdefault(user, {})[question] = response.get("value")
    by_agent: dict[str, dict[str, Any]] = {}
    scores: dict[str, float] = {}
    for question, suggestion in _object(raw.get("suggestions") or {}, "suggestions").items():
        suggestion = _object(suggestion, f"suggestions.{question}")
        agent = str(suggestion.get("agent") or "argilla-suggestion")
        by_agent.setdefault(agent, {})[question] = suggestion.get("value")
        if isinstance(suggestion.get("score"), int | float):
            scores[agent] = suggestion["score"]
    return _with_labels(record, raw.get("external_id", raw.get("id")), by_user, by_agent, scores)


def _with_labels(
    record: dict[str, Any],
    external: Any,
    by_user: dict[str, dict[str, Any]],
    by_agent: dict[str, dict[str, Any]],
    scores: dict[str, float],
) -> dict[str, Any]:
    external_id = _external_id(external)
    if external_id is not None:
        record["external_id"] = external_id
    if by_user:
        record["answers"] = _argilla_answers(by_user)
    if by_agent:
        record["suggestions"] = [
            {
                "agent": agent,
                "value": fields,
                **({"score": scores[agent]} if agent in scores else {}),
            }
            for agent, fields in by_agent.items()
        ]
    return record


def _argilla_flat(raw: dict[str, Any]) -> dict[str, Any]:
    """A row of an Argilla dataset as pushed to the Hugging Face Hub (2.x or 1.x)."""
    by_user: dict[str, dict[str, Any]] = {}
    by_agent: dict[str, dict[str, Any]] = {}
    scores: dict[str, float] = {}
    payload: dict[str, Any] = {}
    record: dict[str, Any] = {"payload": payload}
    questions = {k.split(".")[0] for k in raw if ".responses" in k or ".suggestion" in k}
    questions |= {k[: -len("-suggestion")] for k in raw if k.endswith("-suggestion")}
    for key, value in raw.items():
        if (
            key in _ARGILLA_RESERVED
            or "." in key
            or key.endswith(("-suggestion", "-suggestion-metadata"))
        ):
            continue
        if key == "metadata":
            meta = json.loads(value) if isinstance(value, str) and value else value
            if meta:
                record["metadata"] = _object(meta, "metadata")
        elif (
            isinstance(value, list)
            and value
            and all(isinstance(v, dict) and "value" in v for v in value)
        ):  # 1.x: a question's responses
            questions.add(key)
            for response in value:
                if response.get("status", "submitted") == "submitted":
                    user = str(response.get("user_id") or "unknown")
                    by_user.setdefault(user, {})[key] = response["value"]
        elif key not in questions:
            payload[key] = value
    for question in sorted(questions):
        values = raw.get(f"{question}.responses") or []
        users = raw.get(f"{question}.responses.users") or []
        statuses = raw.get(f"{question}.responses.status") or ["submitted"] * len(values)
        for value, user, status in zip(values, users, statuses, strict=False):
            if status == "submitted":
                by_user.setdefault(str(user), {})[question] = value
        for prefix, meta_key in (
            (f"{question}.suggestion", None),
            (f"{question}-suggestion", f"{question}-suggestion-metadata"),
        ):
            if raw.get(prefix) is None:
                continue
            meta = (
                raw.get(meta_key)
                if meta_key
                else {"agent": raw.get(f"{prefix}.agent"), "score": raw.get(f"{prefix}.score")}
            )
            meta = meta if isinstance(meta, dict) else {}
            agent = str(meta.get("agent") or "argilla-suggestion")
            by_agent.setdefault(agent, {})[question] = raw[prefix]
            if isinstance(meta.get("score"), int | float):
                scores[agent] = meta["score"]
    return _with_labels(record, raw.get("external_id", raw.get("id")), by_user, by_agent, scores)


def _argilla(
    raw: Any,
    kind: TaskType,  # noqa: ARG001 - the converters share one signature
    config: Mapping[str, Any],  # noqa: ARG001
) -> dict[str, Any]:
    raw = _object(raw, "record")
    if "fields" in raw or "inputs" in raw:
        return _argilla_nested(raw)
    return _argilla_flat(raw)


def to_argilla(
    items: Iterable[LabelledItem], kind: TaskType, config: Mapping[str, Any]
) -> Iterator[dict[str, Any]]:
    """Argilla 2.x records (``rg.Record`` dicts) with responses and suggestions. Argilla has
    no gold: items' gold stays behind (export it to Label Studio, or as expertloop JSON)."""
    for item in items:
        record: dict[str, Any] = {
            "id": item.external_id if item.external_id is not None else str(item.id),
            "fields": dict(item.payload),
            "metadata": dict(item.meta or {}),
            "responses": {},
            "suggestions": {},
        }
        for answer in item.answers:
            for question, value in kind.answer_to_fields(answer["value"], config).items():
                record["responses"].setdefault(question, []).append(
                    {
                        "value": value,
                        "user_id": _original_annotator(answer["username"]),
                        "status": "submitted",
                    }
                )
        for suggestion in item.suggestions:
            for question, value in kind.answer_to_fields(suggestion["value"], config).items():
                record["suggestions"][question] = {
                    "value": value,
                    "score": suggestion["score"],
                    "agent": suggestion["agent"],
                }
        yield record


# --- entry points --------------------------------------------------------------------------


def export_to_tool(
    db: Database, *, actor: User, project_id: int, tool: str, batch: int = 1000
) -> Iterator[dict[str, Any]]:
    """The project's items with their answers, gold and suggestions in ``tool``'s import
    format (``tool`` in :data:`SOURCES`), a batch of items per read transaction. Who may
    export the project may do this (its managers and admins)."""
    if tool not in SOURCES:
        raise InputInvalid.on_field(
            "tool", f"unknown tool {tool!r}; use one of {', '.join(SOURCES)}"
        )
    with db.read() as conn:
        project = load_project(conn, actor=actor, project_id=project_id)
    if not can_read_gold(actor, is_member=project.is_member):
        raise PermissionDenied("only the project's managers can export it")
    kind, config = get_task_type(project.task_type), project.config
    write = to_label_studio if tool == SuggestionSource.LABEL_STUDIO else to_argilla

    def items() -> Iterator[LabelledItem]:
        after = 0
        while True:
            with db.read() as conn:
                chunk = label_store.labelled_items_after(conn, project.id, after=after, limit=batch)
            if not chunk:
                return
            yield from chunk
            after = chunk[-1].id

    return write(items(), kind, config)


def foreign_records(body: bytes | str, *, source: str, project: Project) -> Iterator[Parsed]:
    """Item records from a Label Studio or Argilla file (``source`` in :data:`SOURCES`) for
    ``project`` (its task type names the answers' fields)."""
    if source not in SOURCES:
        raise ValueError(f"unknown source {source!r}; use one of {', '.join(SOURCES)}")
    kind, config = get_task_type(project.task_type), project.config
    convert = _label_studio if source == SuggestionSource.LABEL_STUDIO else _argilla
    for number, raw in _records(body):
        if isinstance(raw, ParseProblem):
            yield number, raw
            continue
        try:
            yield number, convert(raw, kind, config)
        except _Problem as exc:
            yield number, ParseProblem(f"{exc} (record {number})")
