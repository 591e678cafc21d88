"""Reading other tools' task files as expertloop item records, so users can move over.

- Label Studio task JSON: a list of tasks ``{"id": 17, "data": {...}, ...}`` (what its
  "Export -> JSON" writes). ``data`` becomes the payload; ``id`` (or ``data.external_id``)
  the external id. Annotations and predictions are not imported.
- Argilla records: ``{"id" | "external_id": ..., "fields": {...}, "metadata": {...}}``, as a
  JSON array, one record per line, or ``{"records": [...]}``. ``fields`` becomes the
  payload; ``metadata``, when present, is kept under the payload's ``metadata`` key.

Both yield ``(record number, item record)`` pairs, or ``(number, ParseProblem)`` naming the
field, for :func:`expertloop.services.items.import_items` (all or nothing).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from expertloop.services.item_sources import ParseProblem, loads_json, utf8_problem

__all__ = ["SOURCES", "foreign_records"]

SOURCES = ("label-studio", "argilla")

Parsed = tuple[int, Any]


def _records(body: bytes | str) -> Iterator[Parsed]:
    """A JSON array, an object holding ``records``/``tasks``, or one JSON object per line."""
    if isinstance(body, bytes):
        try:
            text = body.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            yield utf8_problem(body, exc)
            return
    else:
        text = body
    stripped = text.lstrip()
    if stripped.startswith("[") or (stripped.startswith("{") and "\n{" not in stripped.strip()):
        try:
            data = loads_json(text)
        except json.JSONDecodeError as exc:
            yield exc.lineno, ParseProblem(f"invalid JSON at column {exc.colno}: {exc.msg}")
            return
        except ValueError as exc:
            yield 1, ParseProblem(str(exc))
            return
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
    number = 0
    for line in text.splitlines():
        if not line.strip():
            continue
        number += 1
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


def _label_studio(number: int, task: Any) -> Any:
    if not isinstance(task, dict):
        return ParseProblem(f"record {number}: a Label Studio task is a JSON object")
    data = task.get("data")
    if not isinstance(data, dict):
        return ParseProblem(f"field data: missing or not an object (record {number})")
    payload = {k: v for k, v in data.items() if k != "external_id"}
    record: dict[str, Any] = {"payload": payload}
    external = _external_id(data.get("external_id", task.get("id")))
    if external is not None:
        record["external_id"] = external
    return record


def _argilla(number: int, raw: Any) -> Any:
    if not isinstance(raw, dict):
        return ParseProblem(f"record {number}: an Argilla record is a JSON object")
    fields = raw.get("fields")
    if fields is None and isinstance(raw.get("inputs"), dict):  # Argilla 1.x text records
        fields = raw["inputs"]
    if not isinstance(fields, dict):
        return ParseProblem(f"field fields: missing or not an object (record {number})")
    payload = dict(fields)
    metadata = raw.get("metadata")
    if metadata is not None:
        if not isinstance(metadata, dict):
            return ParseProblem(f"field metadata: not an object (record {number})")
        if metadata:
            payload["metadata"] = metadata
    record: dict[str, Any] = {"payload": payload}
    external = _external_id(raw.get("external_id", raw.get("id")))
    if external is not None:
        record["external_id"] = external
    return record


def foreign_records(body: bytes | str, *, source: str) -> Iterator[Parsed]:
    """Item records from a Label Studio or Argilla file (``source`` in :data:`SOURCES`)."""
    if source not in SOURCES:
        raise ValueError(f"unknown source {source!r}; use one of {', '.join(SOURCES)}")
    convert = _label_studio if source == "label-studio" else _argilla
    for number, raw in _records(body):
        if isinstance(raw, ParseProblem):
            yield number, raw
        else:
            yield number, convert(number, raw)
