"""Column batches write exactly what the same rows as dicts write: JSON lines byte for byte,
Arrow batches value for value."""

from __future__ import annotations

from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from expertloop.exports.batch import ColumnBatch, Messages
from expertloop.exports.writers import arrow_schema, jsonl_bytes, jsonl_chunks, record_batch

PROMPTS: list[Any] = [
    "Plain question?",
    [{"role": "system", "content": "Be brief."}, {"role": "user", "content": 'Q "quoted"\n?'}],
    "Ünïcode ✓ and a % sign",
]


def _conversational_batch() -> ColumnBatch:
    return ColumnBatch(
        {
            "prompt": Messages.of_prompts(PROMPTS),
            "chosen": Messages.single("assistant", ["yes", "no", "perhaps"]),
            "rejected": Messages.single("assistant", ["", "x" * 300, "a,b"]),
            "preference_strength": np.array([0.5, 1.0, 1e-5]),
            "item_id": np.array([1, 2, 3], dtype=np.int64),
            "external_id": ["a", None, "c"],
            "n_answers": np.array([3, 1, 2], dtype=np.int64),
            "confidence": np.array([0.75, 0.999999, 0.5]),
        }
    )


def _as_dicts(batch: ColumnBatch) -> list[dict[str, Any]]:
    return list(batch)


def test_a_column_batch_iterates_as_the_row_dicts_it_holds():
    rows = _as_dicts(_conversational_batch())
    assert rows[1]["prompt"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": 'Q "quoted"\n?'},
    ]
    assert rows[0]["prompt"] == [{"role": "user", "content": "Plain question?"}]
    assert rows[2]["rejected"] == [{"role": "assistant", "content": "a,b"}]
    assert rows[1]["external_id"] is None
    assert list(rows[0]) == [
        "prompt",
        "chosen",
        "rejected",
        "preference_strength",
        "item_id",
        "external_id",
        "n_answers",
        "confidence",
    ]
    assert type(rows[0]["item_id"]) is int


def test_column_json_lines_are_byte_for_byte_orjson_of_the_row_dicts():
    batch = _conversational_batch()
    expected = b"".join(orjson.dumps(row) + b"\n" for row in _as_dicts(batch))
    assert batch.jsonl() == expected
    assert jsonl_bytes(batch) == jsonl_bytes(_as_dicts(batch)) == expected


def test_standard_and_unpaired_columns_serialise_like_their_dicts():
    batch = ColumnBatch(
        {
            "prompt": ["p1", "p1", "p2", "p2"],
            "completion": ["c", "r", "c2", "r2"],
            "label": np.tile(np.array([True, False]), 2),
            "item_id": np.repeat(np.array([7, 9]), 2),
            "external_id": [None, None, "e", "e"],
            "n_answers": np.repeat(np.array([3, 3]), 2),
            "confidence": np.repeat(np.array([0.9, 0.8]), 2),
        }
    )
    rows = _as_dicts(batch)
    assert [r["label"] for r in rows] == [True, False, True, False]
    assert batch.jsonl() == b"".join(orjson.dumps(r) + b"\n" for r in rows)
    schema = arrow_schema("unpaired", conversational=False)
    assert batch.record_batch(schema).to_pylist() == rows


@pytest.mark.parametrize("conversational", [True, False])
def test_column_arrow_batches_equal_the_row_dict_path(conversational):
    schema = arrow_schema("preference", conversational=conversational)
    batch = _conversational_batch()
    if not conversational:
        batch = ColumnBatch(
            {
                **batch.columns,
                "prompt": ["a", "b", "c"],
                "chosen": ["x", "y", "z"],
                "rejected": ["u", "v", "w"],
            }
        )
    columnar = record_batch(batch, schema)
    from_dicts = record_batch(_as_dicts(batch), schema)
    assert columnar.schema == schema
    assert columnar.equals(from_dicts)
    assert columnar.to_pylist() == _as_dicts(batch)


def test_columns_missing_from_a_batch_are_null_in_arrow():
    schema = arrow_schema("preference", conversational=False)
    batch = ColumnBatch({"prompt": ["a"], "item_id": np.array([1])})
    arrow = batch.record_batch(schema)
    assert arrow.column("chosen").to_pylist() == [None]
    assert arrow.column("item_id").type == pa.int64()
    assert np.isnan(batch.floats("confidence")).all()


def test_empty_batches_write_nothing_and_unequal_columns_are_refused():
    empty = ColumnBatch({})
    assert len(empty) == 0
    assert empty.jsonl() == b""
    assert list(jsonl_chunks([empty, []])) == []
    assert ColumnBatch({"preference_strength": np.array([])}).jsonl() == b""
    with pytest.raises(ValueError, match="unequal"):
        ColumnBatch({"a": [1, 2], "b": [1]})


def test_a_prompt_with_no_messages_is_an_empty_conversation():
    column = Messages.of_prompts([[], "q"])
    assert column.rows() == [[], [{"role": "user", "content": "q"}]]
    assert column.json() == [b"[]", b'[{"role":"user","content":"q"}]']


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.text(), st.none(), st.integers(-(2**63), 2**63 - 1), st.floats(), st.booleans()
        )
    )
)
def test_values_are_encoded_exactly_as_orjson_encodes_them(values):
    batch = ColumnBatch({"value": values, "text": [str(v) for v in values]})
    assert batch.jsonl() == b"".join(orjson.dumps(row) + b"\n" for row in batch)
