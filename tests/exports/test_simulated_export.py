"""An export of a simulated pairwise project: the consensus model is fitted (never silently
replaced by a vote), recovers the truth better than a vote, and the JSONL and Parquet
outputs hold the same rows."""

from __future__ import annotations

import io
import logging
from datetime import datetime
from typing import Any

import numpy as np
import orjson
import pyarrow.parquet as pq
import pytest
from export_helpers import answer  # noqa: F401 - a fixture
from sqlalchemy import insert, update
from test_exports import SECRET, pairwise_project

from expertloop.domain import Role
from expertloop.exports import consensus as consensus_module
from expertloop.exports.writers import write_rows
from expertloop.quality._common import ConvergenceError
from expertloop.quality.preferences import pairwise_consensus
from expertloop.services.exports import ExportOptions, prepare_export
from expertloop.store import tables as t

N_ITEMS = 1500
N_WORKERS = 12


def _simulated_project(env: Any) -> tuple[Any, int, dict[str, str]]:
    """Items whose truth is A or B, three answers each by workers of accuracies between 0.6
    and 0.95 (a wrong answer is the other side or a tie), written straight to the tables."""
    rng = np.random.default_rng(11)
    manager = env.user(Role.MANAGER)
    workers = [env.user(Role.WORKER) for _ in range(N_WORKERS)]
    project = env.project(manager, members=workers)
    env.items(
        manager,
        project,
        [
            {
                "external_id": f"q{k}",
                "payload": {"prompt": f"Q{k}?", "response_a": f"a{k}", "response_b": f"b{k}"},
            }
            for k in range(N_ITEMS)
        ],
    )
    accuracy = rng.uniform(0.6, 0.95, N_WORKERS)
    truth = {f"q{k}": "A" if k % 2 else "B" for k in range(N_ITEMS)}
    now = datetime(2025, 1, 1)
    with env.db.write() as conn:
        item_ids = dict(
            conn.execute(
                t.Item.__table__.select()
                .with_only_columns(t.Item.external_id, t.Item.id)
                .where(t.Item.project_id == project)
            ).all()
        )
        assignments, answers = [], []
        for external_id, item_id in item_ids.items():
            right = truth[external_id]
            wrong = "B" if right == "A" else "A"
            for w in rng.choice(N_WORKERS, 3, replace=False).tolist():
                choice = right if rng.random() < accuracy[w] else str(rng.choice([wrong, "tie"]))
                assignments.append(
                    {
                        "project_id": project,
                        "item_id": item_id,
                        "worker_id": workers[w].id,
                        "status": "answered",
                        "presentation": None,
                        "leased_at": now,
                        "expires_at": now,
                        "finished_at": now,
                    }
                )
                answers.append(
                    {
                        "project_id": project,
                        "item_id": item_id,
                        "worker_id": workers[w].id,
                        "value": {"choice": choice},
                        "idempotency_key": None,
                        "duration_ms": 1000,
                        "created_at": now,
                    }
                )
        ids = conn.execute(
            insert(t.Assignment).returning(t.Assignment.id, sort_by_parameter_order=True),
            assignments,
        )
        for row, assignment_id in zip(answers, ids.scalars().all(), strict=True):
            row["assignment_id"] = assignment_id
        conn.execute(insert(t.Answer), answers)
        conn.execute(
            update(t.Item).where(t.Item.project_id == project).values(n_answers=3, open_slots=0)
        )
    return manager, project, truth


def _prepare(env: Any, manager: Any, project: int) -> Any:
    return prepare_export(
        env.db,
        actor=manager,
        project_id=project,
        options=ExportOptions(format="preference"),
        secret_key=SECRET,
    )


def _export(env: Any, manager: Any, project: int, output: str) -> tuple[bytes, Any]:
    prepared = _prepare(env, manager, project)
    sink = io.BytesIO()
    write_rows(prepared.batches(), sink, output=output, schema=prepared.schema)
    return sink.getvalue(), prepared.card_stats()


def test_a_simulated_export_fits_the_model_and_beats_the_vote(env):
    manager, project, truth = _simulated_project(env)
    jsonl, stats = _export(env, manager, project, "jsonl")
    parquet, _ = _export(env, manager, project, "parquet")
    assert stats.consensus_method == "pairwise_dawid_skene"
    assert stats.consensus_fallbacks == {}
    assert 0.0 < stats.agreement_alpha < 1.0

    rows = [orjson.loads(line) for line in jsonl.splitlines()]
    assert pq.read_table(io.BytesIO(parquet)).to_pylist() == rows
    kept_or_counted = len(rows) + stats.counts["ties_dropped"] + stats.counts["below_chance"]
    assert kept_or_counted == N_ITEMS == stats.counts["items"]
    right = sum(row["chosen"][0]["content"][0] == truth[row["external_id"]].lower() for row in rows)
    vote = pairwise_consensus(*_answers(env, project), worker_reliability={})
    voted = np.mean([truth[e] == c for e, c in zip(vote.item_ids, vote.choice, strict=True)])
    assert right / N_ITEMS > 0.9
    assert right / N_ITEMS > voted + 0.02


def _answers(env: Any, project: int) -> tuple[list[int], list[str], list[str]]:
    with env.db.read() as conn:
        found = conn.execute(
            t.Answer.__table__.select()
            .with_only_columns(t.Answer.worker_id, t.Item.external_id, t.Answer.value)
            .join_from(t.Answer, t.Item, t.Answer.item_id == t.Item.id)
            .where(t.Answer.project_id == project)
        ).all()
    return [w for w, _, _ in found], [e for _, e, _ in found], [v["choice"] for *_, v in found]


def test_an_export_whose_model_fails_says_so_in_the_card_and_the_log(
    env, answer, monkeypatch, caplog
):
    def never_converges(*args: Any, **kwargs: Any) -> Any:
        if kwargs.get("worker_reliability") is None:
            raise ConvergenceError("did not converge (simulated)", n_iter=200, delta=1.0)
        return pairwise_consensus(*args, **kwargs)

    monkeypatch.setattr(consensus_module, "pairwise_consensus", never_converges)
    manager, _, project = pairwise_project(env, answer)
    with caplog.at_level(logging.WARNING, logger="expertloop.exports.consensus"):
        prepared = _prepare(env, manager, project)
    assert any("fell back to pairwise_vote" in r.getMessage() for r in caplog.records)
    rows = [row for batch in prepared.batches() for row in batch]
    assert rows  # the vote still gives rows
    stats = prepared.card_stats()
    assert stats.consensus_method == "pairwise_vote"
    assert stats.consensus_fallbacks == {"overall": "did not converge (simulated)"}
    card = prepared.card("data.jsonl")
    assert '  consensus_fallbacks: {"overall": "did not converge (simulated)"}\n' in card
    assert "fell back to a vote" in card


def test_a_card_without_fallbacks_says_so(env, answer):
    manager, _, project = pairwise_project(env, answer)
    prepared = prepare_export(
        env.db,
        actor=manager,
        project_id=project,
        options=ExportOptions(format="preference"),
        secret_key=SECRET,
    )
    card = prepared.card("data.jsonl")
    assert "  consensus_fallbacks: {}\n" in card
    assert "fell back" not in card


@pytest.mark.parametrize("output", ["jsonl", "parquet"])
def test_unpaired_rows_from_columns_match_the_api_stream(env, answer, output):
    manager, _, project = pairwise_project(env, answer)
    response = env.client(manager).get(
        f"/api/v1/projects/{project}/exports/unpaired", params={"output": output}
    )
    assert response.status_code == 200
    if output == "jsonl":
        rows = [orjson.loads(line) for line in response.content.splitlines()]
    else:
        rows = pq.read_table(io.BytesIO(response.content)).to_pylist()
    assert [(r["external_id"], r["label"]) for r in rows] == [
        ("a", True),
        ("a", False),
        ("b", True),
        ("b", False),
    ]
