"""Reading items from JSON arrays, NDJSON and CSV, keeping each record's line number.

Parsers yield ``(line, record)`` pairs, or ``(line, ParseProblem)`` for a line that is not
valid, so the importer can report every bad line at once. For a JSON array the "line" is the
element's position (1-based) in the array.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from expertloop.errors import UnsupportedMediaType

__all__ = ["ParseProblem", "parse_csv", "parse_json_array", "parse_ndjson", "records_from_bytes"]

RESERVED_CSV_COLUMNS = ("external_id", "priority", "gold")


@dataclass(frozen=True, slots=True)
class ParseProblem:
    message: str


Parsed = tuple[int, Any]


def parse_ndjson(lines: Iterable[bytes | str]) -> Iterator[Parsed]:
    for number, raw in enumerate(lines, start=1):
        line = raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else raw
        if not line.strip():
            continue
        try:
            yield number, json.loads(line)
        except json.JSONDecodeError as exc:
            yield number, ParseProblem(f"invalid JSON at column {exc.colno}: {exc.msg}")


def parse_json_array(body: bytes | str) -> Iterator[Parsed]:
    try:
        data = json.loads(body)
    except json.JSONDecodeError as exc:
        yield exc.lineno, ParseProblem(f"invalid JSON at column {exc.colno}: {exc.msg}")
        return
    if not isinstance(data, list):
        yield 1, ParseProblem("expected a JSON array of items")
        return
    yield from enumerate(data, start=1)


def parse_csv(text: str) -> Iterator[Parsed]:
    """CSV with a header row. ``external_id``, ``priority`` and ``gold`` (a JSON object) are
    item fields; every other column is a payload field. A cell that holds a JSON array or
    object (e.g. a chat transcript) is decoded; everything else stays a string."""
    reader = csv.DictReader(io.StringIO(text))
    if reader.fieldnames is None:
        return
    for row in reader:
        line = reader.line_num
        if None in row:
            yield line, ParseProblem("more cells than header columns")
            continue
        record: dict[str, Any] = {"payload": {}}
        try:
            for column, cell in row.items():
                if column in RESERVED_CSV_COLUMNS:
                    if cell not in ("", None):
                        record[column] = _csv_reserved(column, cell)
                else:
                    record["payload"][column] = _csv_cell(cell)
        except ValueError as exc:
            yield line, ParseProblem(str(exc))
            continue
        yield line, record


def _csv_reserved(column: str, cell: str) -> Any:
    if column == "priority":
        try:
            return int(cell)
        except ValueError:
            raise ValueError(f"priority: {cell!r} is not an integer") from None
    if column == "gold":
        try:
            return json.loads(cell)
        except json.JSONDecodeError:
            raise ValueError("gold: not a JSON object") from None
    return cell


def _csv_cell(cell: str | None) -> Any:
    if cell and cell[0] in "[{":
        try:
            return json.loads(cell)
        except json.JSONDecodeError:
            return cell
    return cell


NDJSON_TYPES = ("application/x-ndjson", "application/jsonl", "application/ndjson")


def records_from_bytes(body: bytes, *, content_type: str | None) -> Iterator[Parsed]:
    """Pick the parser for an HTTP body by its content type.

    ``application/json`` (or no content type) is a JSON array, the NDJSON types are one item
    per line, ``text/csv`` is CSV; anything else raises :class:`UnsupportedMediaType`.
    """
    kind = (content_type or "application/json").split(";")[0].strip().lower()
    if kind in NDJSON_TYPES:
        return parse_ndjson(body.splitlines())
    if kind == "text/csv":
        return parse_csv(body.decode("utf-8-sig", errors="replace"))
    if kind == "application/json":
        return parse_json_array(body)
    raise UnsupportedMediaType(
        f"cannot import items from Content-Type {kind!r}: send application/json (an array), "
        "application/x-ndjson (one item per line) or text/csv"
    )
