"""Critique-revision data made from a constitution version: the principles rotate over the
items, and every export format (the CAI conversation in ``sft``, the revision over the
original in ``preference``, ``unpaired`` and ``reward``) loads with ``datasets`` with its
documented columns, each row naming its principle and the constitution version."""

from __future__ import annotations

import warnings
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from export_helpers import answer  # noqa: F401 - a fixture

from expertloop.domain import Role
from expertloop.exports.writers import write_rows
from expertloop.services import constitution_tasks, constitutions
from expertloop.services.exports import ExportOptions, prepare_export

SECRET = "test-secret"
PROVENANCE = ["item_id", "external_id", "n_answers", "confidence"]
PRINCIPLE = ["principle_key", "constitution_version"]
COLUMNS = {
    "sft": ["messages"],
    "preference": ["prompt", "chosen", "rejected", "preference_strength"],
    "unpaired": ["prompt", "completion", "label"],
    "reward": ["prompt", "chosen", "rejected", "preference_strength"],
}


def _datasets() -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import datasets
    datasets.disable_progress_bars()
    return datasets


def _project(env: Any, answer: Any) -> tuple[Any, int]:
    manager = env.user(Role.MANAGER)
    made = constitutions.create_constitution(env.db, actor=manager, name="CAI")
    for key in ("harmless-1", "honest-1", "helpful-1"):
        constitutions.put_principle(env.db, actor=manager, constitution_id=made.id,
                                    principle=constitutions.principle_from_input(
                                        key=key, title=key, text=f"Follow {key}."))
    constitutions.publish(env.db, actor=manager, constitution_id=made.id)
    worker = env.user()
    project = env.project(manager, task_type="critique_revision", members=[worker],
                          answers_per_item=1)
    records = [{"external_id": f"r{n}", "prompt": f"Question {n}?", "response": f"Bad {n}."}
               for n in range(4)]
    assert constitution_tasks.principle_items(
        env.db, actor=manager, constitution_id=made.id, version=1, project_id=project,
        records=records[:4]) == 4
    # A second batch carries the rotation on: 6 items cover the 3 principles twice each.
    constitution_tasks.principle_items(
        env.db, actor=manager, constitution_id=made.id, version=1, project_id=project,
        records=[{"external_id": f"s{n}", "prompt": f"More {n}?", "response": f"Worse {n}."}
                 for n in range(2)])
    plan = {f"{p}{n}": [{"critique": f"Fails {p}{n}.", "revision": f"Better {p}{n}."}]
            for p, count in (("r", 4), ("s", 2)) for n in range(count)}
    answer(project, [worker], plan)
    return manager, project


@pytest.mark.parametrize("fmt", sorted(COLUMNS))
def test_every_format_loads_with_datasets_and_names_principle_and_version(
    env: Any, answer: Any, fmt: str, tmp_path: Path
) -> None:
    manager, project = _project(env, answer)
    prepared = prepare_export(env.db, actor=manager, project_id=project,
                              options=ExportOptions(format=fmt), secret_key=SECRET)
    datasets = _datasets()
    loaded = {}
    for output in ("jsonl", "parquet"):
        path = tmp_path / f"data.{output}"
        with path.open("wb") as sink:
            write_rows(prepared.batches(), sink, output=output, schema=prepared.schema)
        kind = "json" if output == "jsonl" else "parquet"
        loaded[output] = datasets.load_dataset(kind, data_files=str(path),
                                               cache_dir=str(tmp_path / output))["train"]
    expected = COLUMNS[fmt] + PRINCIPLE + PROVENANCE
    if fmt == "reward":
        expected = COLUMNS[fmt] + PRINCIPLE + [
            "item_id", "external_id", "rejected_item_id", "rejected_external_id", "n_answers",
            "confidence"]
    for data in loaded.values():
        assert data.column_names == expected
        assert len(data) == (12 if fmt == "unpaired" else 6)
        assert Counter(data["principle_key"]) == Counter(
            {"harmless-1": 4, "honest-1": 4, "helpful-1": 4} if fmt == "unpaired"
            else {"harmless-1": 2, "honest-1": 2, "helpful-1": 2})
        assert set(data["constitution_version"]) == {1}
    if fmt == "sft":
        first = loaded["parquet"][0]["messages"]
        assert [m["role"] for m in first] == [
            "user", "assistant", "user", "assistant", "user", "assistant"]
        assert first[2]["content"].endswith(f"this principle: Follow {loaded['parquet'][0]['principle_key']}.")
        assert first[-1]["content"].startswith("Better ")


def test_principle_conditioned_preferences_name_the_principle_in_every_row(
    env: Any, answer: Any, tmp_path: Path
) -> None:
    manager = env.user(Role.MANAGER)
    made = constitutions.create_constitution(env.db, actor=manager, name="Pairs")
    for key in ("harmless-1", "honest-1"):
        constitutions.put_principle(env.db, actor=manager, constitution_id=made.id,
                                    principle=constitutions.principle_from_input(
                                        key=key, title=key, text=f"Follow {key}."))
    constitutions.publish(env.db, actor=manager, constitution_id=made.id)
    worker = env.user()
    project = env.project(manager, task_type="principle_pairwise", members=[worker],
                          answers_per_item=1)
    constitution_tasks.principle_items(
        env.db, actor=manager, constitution_id=made.id, version=1, project_id=project,
        records=[{"external_id": f"p{n}", "prompt": f"Q{n}?", "response_a": f"Good {n}.",
                  "response_b": f"Bad {n}."} for n in range(4)])
    answer(project, [worker], {f"p{n}": [{"choice": "A"}] for n in range(4)})
    prepared = prepare_export(env.db, actor=manager, project_id=project,
                              options=ExportOptions(format="preference"), secret_key=SECRET)
    path = tmp_path / "data.parquet"
    with path.open("wb") as sink:
        write_rows(prepared.batches(), sink, output="parquet", schema=prepared.schema)
    data = _datasets().load_dataset("parquet", data_files=str(path),
                                    cache_dir=str(tmp_path / "c"))["train"]
    assert data.column_names == [
        *COLUMNS["preference"], "principle_key", "principle", "constitution_version",
        *PROVENANCE]
    assert Counter(data["principle_key"]) == Counter({"harmless-1": 2, "honest-1": 2})
    assert {row["principle"] for row in data} == {"Follow harmless-1.", "Follow honest-1."}
    assert all(row["chosen"][0]["content"].startswith("Good ") for row in data)
