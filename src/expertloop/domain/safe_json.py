"""The one check for untrusted JSON values (item payloads and gold, answers, project configs
and guidelines) before anything stores them.

A value that Python's ``json`` module accepts can still break every reader after it is
stored: orjson (the API's and the exporters' encoder) refuses integers beyond 64 bits,
nesting deeper than 254 levels and lone surrogates; PostgreSQL's ``jsonb`` refuses ``\\u0000``
and NaN; browsers round integers beyond 2**53. So a value is *safe* when:

- it is made of ``dict`` (string keys), ``list``, ``str``, ``int``, ``float``, ``bool`` and
  ``None`` only;
- it nests at most :data:`MAX_DEPTH` (64) containers deep;
- every integer lies within ``±(2**53 - 1)`` (:data:`MAX_SAFE_INTEGER`, JavaScript's
  ``Number.MAX_SAFE_INTEGER``): the range every JSON reader, browsers included, reads
  exactly;
- every float is finite (no NaN, no Infinity);
- every string and key is valid Unicode (no lone surrogates) and holds no NUL (``\\u0000``).

:func:`json_problem` returns the first problem with its path (``payload.messages.3.content``,
the dotted form validation errors use), or ``None``. It is pure and cheap: the common case,
a short ASCII string, costs two C-level scans.

Readers of what is already stored use :func:`loads_stored`, which decodes whatever an older
version let in (SQLite kept ``NaN`` and lone surrogates as text) instead of failing mid-export.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

import orjson

__all__ = [
    "MAX_DEPTH",
    "MAX_SAFE_INTEGER",
    "JsonProblem",
    "json_problem",
    "loads_stored",
    "servable",
]

MAX_DEPTH = 64
MAX_SAFE_INTEGER = 2**53 - 1


@dataclass(frozen=True, slots=True)
class JsonProblem:
    """Where (a dotted path, ``""`` for the value itself) and what is wrong."""

    field: str
    message: str

    def to_dict(self) -> dict[str, str]:
        return {"field": self.field, "message": self.message}


def json_problem(value: Any, *, path: str = "") -> JsonProblem | None:
    """The first reason ``value`` is not safe to store and serve, or ``None`` if it is."""
    return _check(value, path, 0)


def _join(path: str, key: object) -> str:
    return f"{path}.{key}" if path else str(key)


def _string_problem(text: str) -> str | None:
    if "\x00" in text:
        return "contains a NUL character (\\u0000)"
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            return "is not valid Unicode (a lone surrogate such as \\ud800)"
    return None


def _check(value: Any, path: str, depth: int) -> JsonProblem | None:
    kind = type(value)
    if kind is str:
        problem = _string_problem(value)
        return None if problem is None else JsonProblem(path, f"string {problem}")
    if kind is dict:
        if depth >= MAX_DEPTH:
            return JsonProblem(path, f"nested more than {MAX_DEPTH} levels deep")
        for key, item in value.items():
            if type(key) is not str:
                return JsonProblem(path, f"key {key!r} is not a string")
            key_problem = _string_problem(key)
            if key_problem is not None:
                return JsonProblem(_join(path, repr(key)), f"key {key_problem}")
            found = _check(item, _join(path, key), depth + 1)
            if found is not None:
                return found
        return None
    if kind is list:
        if depth >= MAX_DEPTH:
            return JsonProblem(path, f"nested more than {MAX_DEPTH} levels deep")
        for index, item in enumerate(value):
            found = _check(item, _join(path, index), depth + 1)
            if found is not None:
                return found
        return None
    if kind is int:
        if -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
            return None
        return JsonProblem(
            path,
            f"integer outside the safe range ±{MAX_SAFE_INTEGER} (2**53 - 1); send it as a string",
        )
    if kind is float:
        if math.isfinite(value):
            return None
        return JsonProblem(path, f"{value!r} is not a finite number (NaN and Infinity are refused)")
    if value is None or kind is bool:
        return None
    return JsonProblem(path, f"{kind.__name__} is not a JSON value")


def loads_stored(text: str | bytes) -> Any:
    """Decode stored JSON text. orjson first (fast, and right for everything the checks
    above let in); text it refuses, written before those checks existed, is decoded by the
    lenient standard library and repaired: NaN and Infinity become ``null``, lone
    surrogates U+FFFD, integers beyond 64 bits strings. Never raises for text that
    :func:`json.dumps` wrote."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return _repaired(json.loads(text), 0)


def servable(value: Any) -> Any:
    """``value`` if it can be sent as JSON, else a repaired copy (as :func:`loads_stored`
    repairs, and containers nested deeper than 200 levels cut to ``null``): for readers of
    values stored before the checks at the door, so one bad row never fails a response."""
    try:
        orjson.dumps(value)
    except orjson.JSONEncodeError:
        return _repaired(value, 0)
    return value


_CUT_DEPTH = 200


def _repaired(value: Any, depth: int) -> Any:
    kind = type(value)
    if kind is str:
        if value.isascii():
            return value
        return value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    if kind is dict:
        if depth >= _CUT_DEPTH:
            return None
        return {_repaired(str(k), 0): _repaired(v, depth + 1) for k, v in value.items()}
    if kind is list:
        if depth >= _CUT_DEPTH:
            return None
        return [_repaired(v, depth + 1) for v in value]
    if kind is float:
        return value if math.isfinite(value) else None
    if kind is int and not -(2**63) <= value < 2**64:
        return str(value)
    return value
