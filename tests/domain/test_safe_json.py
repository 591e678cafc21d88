"""The checks for untrusted JSON values, and the lenient reader of stored ones."""

from __future__ import annotations

import json
import math
from typing import Any

import orjson
from hypothesis import given
from hypothesis import strategies as st

from expertloop.domain.safe_json import (
    MAX_DEPTH,
    MAX_SAFE_INTEGER,
    json_problem,
    loads_stored,
    servable,
)

safe_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-MAX_SAFE_INTEGER, MAX_SAFE_INTEGER)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(alphabet=st.characters(exclude_categories=["Cs"], exclude_characters="\x00"))
)
safe_values = st.recursive(
    safe_scalars,
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(safe_scalars.filter(lambda v: isinstance(v, str)), children, max_size=4),
    max_leaves=30,
)


@given(safe_values)
def test_values_within_the_rules_pass_and_survive_every_encoder(value: Any) -> None:
    assert json_problem(value) is None
    assert orjson.loads(orjson.dumps(value)) == value or _has_float(value)


def _has_float(value: Any) -> bool:
    if isinstance(value, float):
        return True
    if isinstance(value, dict):
        return any(_has_float(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_float(v) for v in value)
    return False


def _nested(levels: int) -> Any:
    value: Any = 1
    for _ in range(levels):
        value = [value]
    return value


def test_each_rule_names_the_path_of_the_first_offending_value() -> None:
    cases = [
        ({"a": {"b": [1, 2**53]}}, "a.b.1", "integer outside the safe range"),
        ({"a": -(2**53)}, "a", "integer outside the safe range"),
        ({"x": [math.nan]}, "x.0", "not a finite number"),
        ({"x": math.inf}, "x", "not a finite number"),
        ({"t": "caf\ud800"}, "t", "lone surrogate"),
        ({"t": "a\x00"}, "t", "NUL character"),
        ({"k\x00": 1}, "'k\\x00'", "NUL character"),
        ({"k": _nested(MAX_DEPTH)}, "k" + ".0" * (MAX_DEPTH - 1), "nested more than 64"),
        ({"s": {1, 2}}, "s", "set is not a JSON value"),
    ]
    for value, field, fragment in cases:
        problem = json_problem(value, path="payload")
        assert problem is not None, value
        assert problem.field == f"payload.{field}"
        assert fragment in problem.message
    assert json_problem({"k": _nested(MAX_DEPTH - 1)}) is None
    assert json_problem([MAX_SAFE_INTEGER, -MAX_SAFE_INTEGER, True, None, 1.5, "ü😀"]) is None


def test_stored_text_older_versions_wrote_is_read_and_repaired_not_refused() -> None:
    text = json.dumps({"nan": math.nan, "inf": -math.inf, "s": "a\ud800b", "big": 2**70})
    value = loads_stored(text)
    assert value == {"nan": None, "inf": None, "s": "a\ufffdb", "big": str(2**70)}
    orjson.dumps(value)
    assert loads_stored(b'{"ok": [1, "x"]}') == {"ok": [1, "x"]}


def test_servable_values_pass_through_and_unservable_ones_are_repaired() -> None:
    fine = {"a": [1, "b"]}
    assert servable(fine) is fine
    repaired = servable({"big": 2**70, "s": "\udfff", "deep": _nested(300)})
    orjson.dumps(repaired)
    assert repaired["big"] == str(2**70)
    assert repaired["s"] == "\ufffd"
