"""Reading items from JSON arrays, NDJSON and CSV, keeping each record's line number.

Parsers yield ``(line, record)`` pairs, or ``(line, ParseProblem)`` for a line that is not
valid, so the importer can report every bad line at once. For a JSON array the "line" is the
element's position (1-based) in the array.

Bytes must be valid UTF-8: a bad byte is a problem on its line, never silently replaced with
U+FFFD (the file would be imported with its text changed). Whatever the input (random bytes,
nesting deeper than the parser's recursion limit, integers of thousands of digits, CSV cells
over the csv module's 128 KiB limit, a bare carriage return in an unquoted cell), the parsers
report a :class:`ParseProblem` and never raise.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from expertloop.errors import UnsupportedMediaType

__all__ = [
    "ParseProblem",
    "loads_json",
    "parse_csv",
    "parse_csv_bytes",
    "parse_json_array",
    "parse_ndjson",
    "records_from_bytes",
    "sniff_format",
    "utf8_problem",
]

RESERVED_CSV_COLUMNS = ("external_id", "priority", "gold")


@dataclass(frozen=True, slots=True)
class ParseProblem:
    message: str


Parsed = tuple[int, Any]


def utf8_problem(raw: bytes, exc: UnicodeDecodeError) -> tuple[int, ParseProblem]:
    """The line (1-based) and description of the first invalid UTF-8 byte in ``raw``."""
    line = raw.count(b"\n", 0, exc.start) + 1
    column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
    return line, ParseProblem(
        f"invalid UTF-8 at column {column} (byte 0x{raw[exc.start]:02x}); "
        "save the file as UTF-8"
    )


def loads_json(text: str | bytes) -> Any:
    """``json.loads`` whose every failure is a :class:`ValueError` with a readable message
    (:class:`json.JSONDecodeError` keeps its position)."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        raise
    except RecursionError:
        raise ValueError("invalid JSON: nested too deeply") from None
    except ValueError as exc:  # e.g. an integer of more than 4300 digits
        raise ValueError(f"invalid JSON: {exc}") from None


def _json_problem(exc: ValueError) -> ParseProblem:
    if isinstance(exc, json.JSONDecodeError):
        return ParseProblem(f"invalid JSON at column {exc.colno}: {exc.msg}")
    return ParseProblem(str(exc))


def parse_ndjson(lines: Iterable[bytes | str]) -> Iterator[Parsed]:
    for number, raw in enumerate(lines, start=1):
        if isinstance(raw, bytes):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                yield number, utf8_problem(raw, exc)[1]
                continue
        else:
            line = raw
        if not line.strip():
            continue
        try:
            yield number, loads_json(line)
        except ValueError as exc:
            yield number, _json_problem(exc)


def parse_json_array(body: bytes | str) -> Iterator[Parsed]:
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
    except ValueError as exc:
        line = exc.lineno if isinstance(exc, json.JSONDecodeError) else 1
        yield line, _json_problem(exc)
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
    rows = iter(reader)
    try:
        if reader.fieldnames is None:
            return
    except csv.Error as exc:
        yield reader.line_num + 1, _csv_problem(exc)
        return
    while True:
        try:
            row = next(rows)
        except StopIteration:
            return
        except csv.Error as exc:
            # The reader cannot resume inside a broken row: report it and stop (the import
            # is refused whole anyway). ``line_num`` counts the lines read before it.
            yield reader.line_num + 1, _csv_problem(exc)
            return
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


def _csv_problem(exc: csv.Error) -> ParseProblem:
    message = str(exc)
    if "field larger than field limit" in message:
        return ParseProblem(
            f"a cell is longer than {csv.field_size_limit()} characters; "
            "import long values as JSON or NDJSON"
        )
    if "new-line character seen in unquoted field" in message:
        return ParseProblem(
            "a carriage return (\\r) inside an unquoted cell; quote the cell or end lines "
            "with \\n or \\r\\n"
        )
    return ParseProblem(f"invalid CSV: {message}")


def _csv_reserved(column: str, cell: str) -> Any:
    if column == "priority":
        try:
            return int(cell)
        except ValueError:
            raise ValueError(f"priority: {cell!r} is not an integer") from None
    if column == "gold":
        try:
            return loads_json(cell)
        except ValueError:
            raise ValueError("gold: not a JSON object") from None
    return cell


def _csv_cell(cell: str | None) -> Any:
    if cell and cell[0] in "[{":
        try:
            return loads_json(cell)
        except ValueError:
            return cell
    return cell


def parse_csv_bytes(body: bytes) -> Iterator[Parsed]:
    """:func:`parse_csv` of UTF-8 bytes (a byte order mark is allowed)."""
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        # CSV lines are counted as the csv module counts them; a quoted cell spanning lines
        # is rare enough that the physical line is the better pointer here.
        yield utf8_problem(body, exc)
        return
    yield from parse_csv(text)


def sniff_format(head: bytes) -> str:
    """``"json"`` (an array), ``"ndjson"`` (objects, one per line) or ``"csv"`` (a header
    row), told by a file's first bytes rather than its name: its first character that is not
    white space (after a byte order mark) is ``[``, ``{``, or anything else."""
    text = head.removeprefix(b"\xef\xbb\xbf").lstrip()
    if text.startswith(b"["):
        return "json"
    if text.startswith(b"{"):
        return "ndjson"
    return "csv"


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
        return parse_csv_bytes(body)
    if kind == "application/json":
        return parse_json_array(body)
    raise UnsupportedMediaType(
        f"cannot import items from Content-Type {kind!r}: send application/json (an array), "
        "application/x-ndjson (one item per line) or text/csv"
    )
