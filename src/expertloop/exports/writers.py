"""Writing batches of export rows as JSONL or Parquet, streamed, in constant memory.

A batch is a :class:`~expertloop.exports.batch.ColumnBatch` (the fast path: no dict per
row) or a list of row dicts. Each format has a fixed Arrow schema (:func:`arrow_schema`), so
every Parquet row group has the same columns and types whatever the batch holds, and
``datasets`` reads the same features from JSONL and Parquet.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import IO, Any

import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from expertloop.exports.batch import ColumnBatch

__all__ = [
    "OUTPUTS",
    "Batch",
    "arrow_schema",
    "jsonl_bytes",
    "jsonl_chunks",
    "parquet_chunks",
    "record_batch",
    "write_rows",
]

OUTPUTS = ("jsonl", "parquet")

Batch = ColumnBatch | Sequence[Mapping[str, Any]]

_MESSAGES = pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())]))
_PROVENANCE = [
    ("item_id", pa.int64()),
    ("external_id", pa.string()),
    ("n_answers", pa.int32()),
    ("confidence", pa.float64()),
]


def arrow_schema(fmt: str, *, conversational: bool) -> pa.Schema:
    """The columns of an export format, provenance last."""
    text = _MESSAGES if conversational else pa.string()
    columns: list[tuple[str, pa.DataType]]
    if fmt == "preference":
        columns = [("prompt", text), ("chosen", text), ("rejected", text), ("margin", pa.float64())]
    elif fmt == "unpaired":
        columns = [("prompt", text), ("completion", text), ("label", pa.bool_())]
    elif fmt == "sft":
        columns = (
            [("messages", _MESSAGES)]
            if conversational
            else [("prompt", pa.string()), ("completion", pa.string())]
        )
    elif fmt == "reward":
        columns = [
            ("prompt", text),
            ("completion", text),
            ("criterion", pa.string()),
            ("score", pa.float64()),
        ]
    elif fmt == "raw":
        columns = [
            ("answer_id", pa.int64()),
            ("worker", pa.string()),
            ("answer", pa.string()),
            ("payload", pa.string()),
            ("duration_ms", pa.int64()),
            ("created_at", pa.string()),
            ("review", pa.string()),
            ("review_comment", pa.string()),
            ("fixed_answer", pa.string()),
            ("reviewer", pa.string()),
            ("reviewed_at", pa.string()),
        ]
    else:
        raise ValueError(f"unknown export format {fmt!r}")
    return pa.schema(columns + _PROVENANCE)


def record_batch(rows: Batch, schema: pa.Schema) -> pa.RecordBatch:
    """A batch as an Arrow record batch, built column by column (row dicts: about 3x faster
    than ``Table.from_pylist`` on nested chat columns)."""
    if isinstance(rows, ColumnBatch):
        return rows.record_batch(schema)
    return pa.RecordBatch.from_arrays(
        [pa.array([row.get(name) for row in rows], type=schema.field(name).type)
         for name in schema.names],
        schema=schema,
    )


def jsonl_bytes(rows: Batch) -> bytes:
    """A batch as JSON lines."""
    if isinstance(rows, ColumnBatch):
        return rows.jsonl()
    return b"".join(orjson.dumps(row, option=orjson.OPT_APPEND_NEWLINE) for row in rows)


def jsonl_chunks(batches: Iterable[Batch]) -> Iterator[bytes]:
    """One bytes chunk per batch: its rows as JSON lines."""
    for batch in batches:
        if len(batch):
            yield jsonl_bytes(batch)


def _parquet_writer(sink: Any, schema: pa.Schema) -> pq.ParquetWriter:
    # No dictionary encoding: export text is mostly unique, so building a dictionary for
    # each row group is wasted work (and larger files); zstd takes the repeats instead.
    return pq.ParquetWriter(sink, schema, compression="zstd", use_dictionary=False)


class _Chunks:
    """A write-only file that hands what was written to the caller, for streaming."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.position = 0
        self.closed = False

    def write(self, data: Any) -> int:
        chunk = bytes(data)
        self.parts.append(chunk)
        self.position += len(chunk)
        return len(chunk)

    def tell(self) -> int:
        return self.position

    def flush(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True

    def take(self) -> bytes:
        out = b"".join(self.parts)
        self.parts.clear()
        return out


def parquet_chunks(batches: Iterable[Batch], schema: pa.Schema) -> Iterator[bytes]:
    """A Parquet file as a stream of bytes chunks: one row group per batch, then the footer."""
    sink = _Chunks()
    writer = _parquet_writer(sink, schema)
    try:
        for batch in batches:
            if len(batch):
                writer.write_batch(record_batch(batch, schema))
                chunk = sink.take()
                if chunk:
                    yield chunk
    finally:
        writer.close()
    tail = sink.take()
    if tail:
        yield tail


def write_rows(
    batches: Iterable[Batch], sink: IO[bytes], *, output: str, schema: pa.Schema
) -> None:
    """Write every batch to ``sink`` as ``output`` (``"jsonl"`` or ``"parquet"``)."""
    if output == "jsonl":
        for chunk in jsonl_chunks(batches):
            sink.write(chunk)
    elif output == "parquet":
        writer = _parquet_writer(sink, schema)
        try:
            for batch in batches:
                if len(batch):
                    writer.write_batch(record_batch(batch, schema))
        finally:
            writer.close()
    else:
        raise ValueError(f"unknown output {output!r}; use one of {OUTPUTS}")
