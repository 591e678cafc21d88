"""Exports ask the task type: the formats it offers, its consensus and its training examples
(rubric and label projects here; the other types are in test_exports)."""

from __future__ import annotations

import pytest
from export_helpers import answer  # noqa: F401 - a fixture
from test_exports import export_rows

from expertloop.domain import Role
from expertloop.errors import InputInvalid
from expertloop.services.exports import iter_consensus
from expertloop.tasks import EXPORT_FORMATS, TASK_TYPES

RUBRIC = {
    "criteria": [
        {"name": "dose", "kind": "pass_fail", "weight": 2},
        {"name": "complete", "kind": "points", "max_points": 3},
    ],
    "pass_threshold": 0.6,
}


def _rubric_project(env, answer):
    manager = env.user(Role.MANAGER)
    workers = [env.user(Role.WORKER) for _ in range(3)]
    project = env.project(manager, task_type="rubric", config=RUBRIC, members=workers)
    env.items(
        manager,
        project,
        [
            {"external_id": "good", "payload": {"prompt": "P", "response": "right"}},
            {"external_id": "bad", "payload": {"prompt": "P", "response": "wrong"}},
        ],
    )
    good = {"scores": {"dose": True, "complete": 3}}
    bad = {"scores": {"dose": False, "complete": 1}}
    answer(project, workers, {"good": [good] * 3, "bad": [bad] * 3})
    return manager, project


def test_a_rubric_exports_its_total_as_a_reward_row_and_its_verdict_as_an_unpaired_row(
    env, answer
):
    manager, project = _rubric_project(env, answer)
    rows, prepared = export_rows(env, manager, project, format="scores", conversational=False)
    by_id = {r["external_id"]: r for r in rows}
    assert {r["criterion"] for r in rows} == {"total"}
    assert by_id["good"]["score"] > 0.9
    assert by_id["bad"]["score"] < 0.3
    assert prepared.counts.rows == 2
    rows, _ = export_rows(env, manager, project, format="unpaired", conversational=False)
    assert {(r["external_id"], r["label"], r["completion"]) for r in rows} == {
        ("good", True, "right"),
        ("bad", False, "wrong"),
    }


def test_a_rubric_consensus_gives_pass_fail_as_a_probability_and_points_as_a_mean(env, answer):
    manager, project = _rubric_project(env, answer)
    lines = {
        line["external_id"]: line
        for line in iter_consensus(env.db, actor=manager, project_id=project)
    }
    good = lines["good"]["consensus"]["scores"]
    assert list(good) == ["dose", "complete"]
    assert good["dose"] > 0.9
    assert good["complete"] == pytest.approx(3, abs=0.3)


def test_a_label_project_exports_classification_rows_raw_answers_and_its_consensus(env, answer):
    manager = env.user(Role.MANAGER)
    workers = [env.user(Role.WORKER) for _ in range(3)]
    project = env.project(
        manager, task_type="label", config={"labels": ["urgent", "routine"]}, members=workers
    )
    env.items(manager, project, [{"external_id": "m", "payload": {"text": "chest pain"}}])
    answer(project, workers, {"m": [{"label": "urgent"}] * 2 + [{"label": "routine"}]})
    rows, _ = export_rows(env, manager, project, format="raw")
    assert len(rows) == 3
    (line,) = iter_consensus(env.db, actor=manager, project_id=project)
    assert line["consensus"] == {"label": "urgent"}
    (row,) = export_rows(env, manager, project, format="classification")[0]
    assert row["text"] == "chest pain"
    assert row["label"] == 0
    for fmt in ("preference", "unpaired", "sft", "reward", "scores", "rubric_rl"):
        with pytest.raises(InputInvalid, match="exports as classification, raw, not"):
            export_rows(env, manager, project, format=fmt)


def test_every_task_type_offers_raw_last_and_only_known_formats() -> None:
    for task in TASK_TYPES.values():
        assert task.export_formats[-1] == "raw"
        assert len(set(task.export_formats)) == len(task.export_formats)
        assert set(task.export_formats) <= set(EXPORT_FORMATS)
