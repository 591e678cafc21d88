"""The batch paths of an export (fields extracted in SQL, rows built a batch at a time) give
exactly what the per-answer and per-item paths give."""

from __future__ import annotations

from typing import Any

import numpy as np
import orjson
import pytest
from export_helpers import answer  # noqa: F401 - a fixture
from test_exports import export_rows, pairwise_project

from expertloop.exports.consensus import ConsensusBuilder
from expertloop.exports.rows import RowCounts, RowOptions, rows_for_item
from expertloop.quality._common import QualityInputError
from expertloop.quality.preferences import pairwise_consensus
from expertloop.services.export_passes import item_records
from expertloop.store import exports as export_store
from expertloop.tasks import get_task_type


def _codes(builder: ConsensusBuilder) -> dict[str, tuple[list[int], list[int], list[int]]]:
    return {
        key: (list(c.units), list(c.workers), list(c.codes)) for key, c in builder._codes.items()
    }


def _add_code_batches(builder: ConsensusBuilder, batches: Any, keys: list[str]) -> None:
    for batch in batches:
        table = np.array(batch, dtype=np.int64)
        builder.add_codes(
            table[:, 0], table[:, 1], {key: table[:, 2 + n] for n, key in enumerate(keys)}
        )


def test_fields_coded_in_sql_code_like_decoded_answers(env, answer):
    _, _, project = pairwise_project(env, answer, criteria=True)
    task = get_task_type("pairwise")
    config = {"criteria": [{"name": "safety"}, {"name": "unanswered"}]}
    slow, fast = ConsensusBuilder(task, config), ConsensusBuilder(task, config)
    fields = fast.coded_fields()
    choices = ("A", "tie", "B")
    assert fields == {
        "overall": (("choice",), choices), "safety": (("criteria", "safety"), choices),
        "unanswered": (("criteria", "unanswered"), choices),
    }
    keys = list(fields)
    with env.db.read() as conn:
        for batch in export_store.iter_answer_batches(conn, project):
            for item_id, worker_id, value in batch:
                slow.add(item_id, worker_id, orjson.loads(value))
        _add_code_batches(
            fast,
            export_store.iter_answer_code_batches(conn, project, [fields[k] for k in keys]),
            keys,
        )
    assert _codes(fast) == _codes(slow)
    assert len(fast._codes["overall"].units) == 12
    assert len(fast._codes["unanswered"].units) == 0
    assert (fast.n_answers, fast.workers) == (slow.n_answers, slow.workers)


def test_sql_codes_are_minus_one_for_absent_fields_and_other_texts(env, answer):
    _, _, project = pairwise_project(env, answer)
    with env.db.read() as conn:
        rows = [
            row
            for batch in export_store.iter_answer_code_batches(
                conn, project, [(("choice",), ("B", None, "A")), (("missing",), ("A",))],
                batch=5,
            )
            for row in batch
        ]
    assert len(rows) == 12
    assert all(type(value) is int for row in rows for value in row)
    assert {row[2] for row in rows} == {-1, 0, 2}  # tie matches no text
    assert {row[3] for row in rows} == {-1}


def test_single_labels_code_like_decoded_answers():
    task = get_task_type("label")
    config = {"labels": ["cat", "dog"]}
    slow, fast = ConsensusBuilder(task, config), ConsensusBuilder(task, config)
    assert fast.coded_fields() == {"label": (("label",), ("cat", "dog"))}
    assert ConsensusBuilder(task, {**config, "multiple": True}).coded_fields() is None
    quoted = {"criteria": [{"name": 'say "why"'}]}
    assert ConsensusBuilder(get_task_type("pairwise"), quoted).coded_fields() is None
    numeric = ConsensusBuilder(task, {"labels": ["cat", 7]}).coded_fields()
    assert numeric == {"label": (("label",), ("cat", None))}
    answers = [(1, 10, "cat"), (1, 11, "dog"), (2, 10, "bird"), (2, 12, "dog")]
    for item_id, worker_id, label in answers:
        slow.add(item_id, worker_id, {"label": label})
    fast.add_codes(
        np.array([a[0] for a in answers]), np.array([a[1] for a in answers]),
        {"label": np.array([0, 1, -1, 1])},
    )
    assert _codes(fast) == _codes(slow) == {"label": ([1, 1, 2], [10, 11, 12], [0, 1, 1])}


@pytest.mark.parametrize(
    "options",
    [
        {"format": "preference"},
        {"format": "preference", "conversational": False, "include_gold": True},
        {"format": "unpaired"},
        {"format": "preference", "min_confidence": 0.9},
        {"format": "unpaired", "min_agreement": 0.9},
        {"format": "preference", "criterion": "safety"},
    ],
)
def test_pairwise_batch_rows_match_rows_item_by_item(env, answer, options):
    manager, _, project = pairwise_project(env, answer, criteria=True)
    rows, prepared = export_rows(env, manager, project, **options)
    row_options = RowOptions(
        format=options["format"],
        conversational=options.get("conversational", True),
        min_confidence=options.get("min_confidence"),
        min_agreement=options.get("min_agreement"),
        criterion=options.get("criterion"),
    )
    expected: list[dict[str, Any]] = []
    counts = RowCounts()
    pc = prepared.consensus
    for records in item_records(
        env.db, project, include_gold=options.get("include_gold", False), with_answers=False,
        reviews=prepared.reviews, on_items=None,
    ):
        lookup = pc.lookup(r.item_id for r in records)
        for record in records:
            counts.items += 1
            expected.extend(rows_for_item(pc, lookup, record, row_options, counts))
    counts.rows = len(expected)
    assert rows == expected
    assert prepared.counts == counts


def test_integer_choices_are_coded_without_a_dict():
    workers, items = ["u", "v", "w", "u"], [1, 1, 1, 2]
    by_code = pairwise_consensus(workers, items, np.array([2, 2, 1, 0]), labels=(2, 1, 0))
    by_name = pairwise_consensus(workers, items, ["A", "A", "tie", "B"])
    assert np.allclose(by_code.p_a_better, by_name.p_a_better)
    assert by_code.choice.tolist() == [2, 0]
    with pytest.raises(QualityInputError, match="choices must be one of"):
        pairwise_consensus(workers, items, np.array([0, 1, 5, 0]), labels=(0, 1, 2))
