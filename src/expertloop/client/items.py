"""Adding items to a project: from a list of dicts, any iterable of dicts, or a DataFrame.

Items go to the server as NDJSON in chunks (10,000 records by default). Each chunk is one
request and the server imports it **all or nothing**; the SDK stops at the first chunk that
fails, so the records before it stay imported and none after it is sent.
"""

from __future__ import annotations

import builtins
import json
import math
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sized
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Literal

from expertloop.client._http import Retry
from expertloop.client.errors import ExpertloopAPIError, ImportFailed
from expertloop.client.models import parse_time

if TYPE_CHECKING:
    from expertloop.client._http import Http

__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "ITEM_FIELDS",
    "ItemState",
    "Items",
    "ProgressCallback",
    "item_from_record",
]

DEFAULT_CHUNK_SIZE = 10_000
#: The fields of an item besides its payload; in a flat record every other key is payload.
ITEM_FIELDS = ("external_id", "gold", "priority", "metadata", "answers", "suggestions")
# Well under the server's default EXPERTLOOP_MAX_IMPORT_BYTES (256 MiB).
MAX_CHUNK_BYTES = 64 * 1024 * 1024

#: Called after each chunk with (records imported so far, total records or None if unknown).
ProgressCallback = Callable[[int, int | None], None]


def _is_missing(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, float):
        return math.isnan(value)
    # pandas.NA and pandas.NaT, without importing pandas.
    return type(value).__name__ in ("NAType", "NaTType")


def _plain(value: Any) -> Any:
    """A payload value as JSON can hold it: missing cells (NaN, NA, NaT) become null."""
    return None if _is_missing(value) else value


def item_from_record(record: Mapping[str, Any]) -> dict[str, Any]:
    """The API item for one record.

    A record with a ``payload`` key is an item already (``payload``, and optionally
    ``external_id``, ``gold``, ``priority``, ``metadata``, ``answers``, ``suggestions``).
    Otherwise it is flat: those are item fields and every other key is a payload field.
    Missing values (``None``, NaN) of the item fields are left out.

    >>> item_from_record({"text": "Chest pain", "external_id": "t-1", "gold": None})
    {'payload': {'text': 'Chest pain'}, 'external_id': 't-1'}
    """
    if "payload" in record:
        item = {k: v for k, v in record.items() if k not in ITEM_FIELDS}
    else:
        item = {"payload": {k: _plain(v) for k, v in record.items() if k not in ITEM_FIELDS}}
    for name in ITEM_FIELDS:
        value = record.get(name)
        if not _is_missing(value):
            if name == "priority" and isinstance(value, float) and value.is_integer():
                value = int(value)  # a DataFrame column with gaps turns ints into floats
            item[name] = value
    return item


def _json_default(value: Any) -> Any:
    # numpy scalars and arrays, pandas Timestamps, dates: what DataFrames hold.
    if hasattr(value, "tolist"):
        return value.tolist()
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, date) or hasattr(value, "isoformat"):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _encode(number: int, record: Any, *, foreign: bool) -> bytes:
    if not isinstance(record, Mapping):
        raise TypeError(f"record {number}: expected a dict, got {type(record).__name__}")
    try:
        text = json.dumps(
            dict(record) if foreign else item_from_record(record),
            default=_json_default,
            # The server splits tool exports with str.splitlines(), which also breaks lines
            # at U+2028 and friends: keep those escaped there.
            ensure_ascii=foreign,
            allow_nan=False,
            separators=(",", ":"),
        )
    except (TypeError, ValueError) as exc:
        raise TypeError(f"record {number}: cannot be sent as JSON: {exc}") from exc
    return text.encode("utf-8") + b"\n"


def _is_dataframe(obj: Any) -> bool:
    pandas = sys.modules.get("pandas")
    return pandas is not None and isinstance(obj, pandas.DataFrame)


def _records(source: Any, chunk_size: int) -> Iterator[Any]:
    if _is_dataframe(source):
        # Convert in slices so a large frame is not duplicated as dicts all at once.
        for start in range(0, len(source), chunk_size):
            yield from source.iloc[start : start + chunk_size].to_dict(orient="records")
    elif isinstance(source, Mapping | str | bytes):
        raise TypeError("items.add() takes a list (or iterable) of records, or a DataFrame")
    else:
        yield from source


@dataclass(frozen=True, slots=True)
class ItemState:
    """An item's state as its managers see it (``GET /api/v1/items/{id}``; no payload).

    ``status`` is ``"active"``, ``"disabled"`` (never handed out; ``disabled_reason`` says
    why) or ``"deleted"`` (disabled for good; its answers are kept).
    """

    id: int
    project_id: int
    external_id: str | None
    status: str
    priority: int
    target: int
    n_answers: int
    open_slots: int
    created_at: datetime
    disabled_at: datetime | None
    disabled_reason: str | None
    deleted_at: datetime | None

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> ItemState:
        def time(name: str) -> datetime | None:
            value = body.get(name)
            return None if value is None else parse_time(value)

        return cls(
            id=body["id"],
            project_id=body["project_id"],
            external_id=body.get("external_id"),
            status=body["status"],
            priority=body["priority"],
            target=body["target"],
            n_answers=body["n_answers"],
            open_slots=body["open_slots"],
            created_at=parse_time(body["created_at"]),
            disabled_at=time("disabled_at"),
            disabled_reason=body.get("disabled_reason"),
            deleted_at=time("deleted_at"),
        )


class Items:
    """The items of one project (``project.items``)."""

    def __init__(self, http: Http, project_id: int) -> None:
        self._http = http
        self.project_id = project_id

    def get(self, item_id: int) -> ItemState:
        """An item's state (managers of its project)."""
        return ItemState.from_json(self._http.json("GET", f"items/{item_id}"))

    def disable(self, item_id: int, *, reason: str = "") -> ItemState:
        """Stop handing the item out: its live leases end, its answers stay. Idempotent."""
        body = self._http.json("POST", f"items/{item_id}/disable", json_body={"reason": reason})
        return ItemState.from_json(body)

    def enable(self, item_id: int) -> ItemState:
        """Hand a disabled item out again (a deleted one cannot be:
        :class:`~expertloop.client.InvalidInput`). Idempotent."""
        return ItemState.from_json(self._http.json("POST", f"items/{item_id}/enable"))

    def delete(self, item_id: int) -> ItemState:
        """Delete the item for good; its row and answers are kept for audit. Idempotent."""
        return ItemState.from_json(self._http.json("DELETE", f"items/{item_id}"))

    def add(
        self,
        records: Iterable[Mapping[str, Any]] | Any,
        *,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        progress: ProgressCallback | None = None,
        source: Literal["label-studio", "argilla"] | None = None,
    ) -> int:
        """Import items; return how many were imported.

        ``records`` is a list or any iterable of dicts (a Hugging Face ``Dataset`` works),
        or a pandas ``DataFrame``. Each record is either an API item
        (``{"payload": {...}, "external_id": ..., "gold": ..., "priority": ...}``) or flat,
        with payload fields next to the optional ``external_id``, ``gold`` and ``priority``
        (see :func:`item_from_record`); a DataFrame may have either a ``payload`` column of
        dicts or one column per payload field.

        Records are sent as NDJSON, ``chunk_size`` per request; ``progress(done, total)`` is
        called after each chunk. **Each chunk is all or nothing**: if the server rejects a
        chunk, :class:`~expertloop.client.ImportFailed` is raised with the bad records'
        numbers counted in *your* records (1-based), ``exc.imported`` records (all before
        the failed chunk) stay imported, and nothing after it is sent. To resume, fix the
        records and add ``records[exc.imported:]``.

        An item may bring answers given elsewhere (``"answers": [{"annotator": "7",
        "value": {...}, "created_at": ..., "duration_ms": ...}]``, stored as answers by the
        imported annotator ``import:7``), model suggestions (``"suggestions": [{"agent",
        "value", "score"}]``) and ``metadata`` workers never see; such an item needs an
        ``external_id``.

        With ``source="label-studio"`` or ``source="argilla"``, records are that tool's
        records, sent as they are for the server to convert, labels included: Label Studio
        tasks (``data`` becomes the payload, annotations answers, predictions suggestions,
        a ground-truth annotation the gold) or Argilla records (``fields`` the payload,
        ``metadata`` the item's metadata, submitted responses answers, suggestions
        suggestions; the Hugging Face form of an Argilla dataset works too).

        Example::

            project.items.add([
                {"external_id": "t-1", "text": "Chest pain for 20 minutes",
                 "gold": {"label": "urgent"}},
                {"external_id": "t-2", "text": "Can I renew my prescription online?"},
            ])

            import pandas as pd
            df = pd.read_json("items.jsonl", lines=True)
            project.items.add(df, progress=lambda done, total: print(done, "/", total))

            tasks = json.load(open("label-studio-export.json"))
            project.items.add(tasks, source="label-studio")
        """
        if chunk_size < 1:
            raise ValueError("chunk_size must be >= 1")
        total: int | None = len(records) if isinstance(records, Sized) else None
        imported = 0
        body = bytearray()
        count = 0
        number = 0
        for number, record in enumerate(_records(records, chunk_size), start=1):
            line = _encode(number, record, foreign=source is not None)
            if count and (count >= chunk_size or len(body) + len(line) > MAX_CHUNK_BYTES):
                imported += self._send(
                    bytes(body), first=number - count, imported=imported, source=source
                )
                if progress is not None:
                    progress(imported, total)
                body.clear()
                count = 0
            body.extend(line)
            count += 1
        if count:
            imported += self._send(
                bytes(body), first=number - count + 1, imported=imported, source=source
            )
            if progress is not None:
                progress(imported, total)
        return imported

    def export_to(self, tool: Literal["label-studio", "argilla"]) -> list[dict[str, Any]]:
        """The project's items with their answers, gold and suggestions in ``tool``'s import
        format (managers): Label Studio tasks or Argilla 2.x records, ready to import there
        (or back here with ``add(records, source=tool)``).

        Example::

            tasks = project.items.export_to("label-studio")
            json.dump(tasks, open("for-label-studio.json", "w"))
        """
        body = self._http.json("GET", f"projects/{self.project_id}/interchange/{tool}")
        return list(body)

    def _send(self, body: bytes, *, first: int, imported: int, source: str | None) -> int:
        try:
            result = self._http.json(
                "POST",
                f"projects/{self.project_id}/items",
                params={"source": source} if source else None,
                # Not repeated once sent: without external ids a repeat would duplicate items.
                retry=Retry.UNSENT,
                content=body,
                headers={"Content-Type": "application/x-ndjson"},
            )
        except ImportFailed as exc:
            last = first + body.count(b"\n") - 1
            raise _rebased(exc, first=first, last=last, imported=imported) from exc
        except ExpertloopAPIError as exc:
            if imported:
                exc.add_note(f"the {imported} records before record {first} were imported")
            raise
        return int(result["count"])


def _rebased(exc: ImportFailed, *, first: int, last: int, imported: int) -> ImportFailed:
    """The server's error with line numbers counted in the caller's records."""
    details = exc.details
    errors: builtins.list[dict[str, Any]] = []
    if isinstance(details, dict) and isinstance(details.get("errors"), list):
        for error in details["errors"]:
            error = dict(error)
            if isinstance(error.get("line"), int):
                error["line"] += first - 1
            errors.append(error)
        details = {**details, "errors": errors}
    if errors:
        head = errors[0]
        where = f"record {head.get('line')}"
        if head.get("field"):
            where += f", field {head['field']}"
        total = details.get("total_errors", len(errors)) if isinstance(details, dict) else 1
        more = f" (and {total - 1} more)" if total > 1 else ""
        message = f"{where}: {head.get('message')}{more}"
    else:
        message = exc.message
    message += f"; records {first}-{last} were not imported"
    message += f", the {imported} before them were" if imported else ", nor any other"
    return ImportFailed(
        message, status=exc.status, code=exc.code, details=details, imported=imported
    )
