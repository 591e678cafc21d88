"""Training-ready exports: TRL shapes, ranking expansion, filters, card numbers, API, CLI."""

from __future__ import annotations

import io
import json
import warnings
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from export_helpers import answer  # noqa: F401 - a fixture

from expertloop.domain import Role
from expertloop.errors import InputInvalid, PermissionDenied
from expertloop.exports.hub import HUB_DATA_FILES, save_dataset_dict
from expertloop.exports.writers import write_rows
from expertloop.quality.agreement import krippendorff_alpha
from expertloop.quality.preferences import pairwise_consensus
from expertloop.services.exports import (
    ExportOptions,
    iter_consensus,
    prepare_export,
    worker_pseudonym,
)

SECRET = "test-secret"
MESSAGE_KEYS = {"role", "content"}


def _datasets() -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return pytest.importorskip("datasets")


def export_rows(env: Any, actor: Any, project_id: int, **options: Any) -> tuple[list[dict], Any]:
    prepared = prepare_export(
        env.db,
        actor=actor,
        project_id=project_id,
        options=ExportOptions(**options),
        secret_key=SECRET,
    )
    rows = [row for batch in prepared.batches() for row in batch]
    return rows, prepared


def pairwise_project(env: Any, answer: Any, *, criteria: bool = False) -> tuple[Any, list, int]:
    manager = env.user(Role.MANAGER)
    workers = [env.user(Role.WORKER) for _ in range(3)]
    config = {"criteria": [{"name": "safety"}]} if criteria else None
    project = env.project(manager, config=config, members=workers)
    items = [
        {"external_id": "a", "payload": {"prompt": "Q a?", "response_a": "good a", "response_b": "bad a"}},
        {"external_id": "b", "payload": {"prompt": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Q b?"}], "response_a": "bad b", "response_b": "good b"}},
        {"external_id": "t", "payload": {"prompt": "Q t?", "response_a": "x", "response_b": "y"}},
        {"external_id": "g", "payload": {"prompt": "Q g?", "response_a": "g1", "response_b": "g2"}, "gold": {"choice": "A", **({"criteria": {"safety": "A"}} if criteria else {})}},
    ]
    env.items(manager, project, items)

    def ans(choice: str, safety: str | None = None) -> dict[str, Any]:
        value: dict[str, Any] = {"choice": choice}
        if criteria:
            value["criteria"] = {"safety": safety or choice}
        return value

    answer(
        project,
        workers,
        {
            "a": [ans("A", "B"), ans("A", "B"), ans("A", "B")],
            "b": [ans("B"), ans("B"), ans("A")],
            "t": [ans("tie"), ans("tie"), ans("tie")],
            "g": [ans("A"), ans("A"), ans("B")],
        },
    )
    return manager, workers, project


def test_a_conversational_preference_export_has_trls_shape_and_drops_ties(env, answer):
    manager, _, project = pairwise_project(env, answer)
    rows, prepared = export_rows(env, manager, project, format="preference")
    by_id = {row["external_id"]: row for row in rows}
    assert set(by_id) == {"a", "b"}  # the tie is dropped, the gold item left out
    assert prepared.counts.ties_dropped == 1
    a, b = by_id["a"], by_id["b"]
    assert a["prompt"] == [{"role": "user", "content": "Q a?"}]
    assert a["chosen"] == [{"role": "assistant", "content": "good a"}]
    assert a["rejected"] == [{"role": "assistant", "content": "bad a"}]
    assert b["prompt"][0] == {"role": "system", "content": "Be brief."}
    assert b["chosen"] == [{"role": "assistant", "content": "good b"}]
    for row in rows:
        assert set(row) == {"prompt", "chosen", "rejected", "preference_strength", "item_id", "external_id", "n_answers", "confidence"}
        assert row["n_answers"] == 3
        assert 0 < row["preference_strength"] <= 1
        assert 0.5 < row["confidence"] <= 1
    assert a["confidence"] > b["confidence"]  # unanimous beats two against one


def test_a_standard_preference_export_uses_plain_strings(env, answer):
    manager, _, project = pairwise_project(env, answer)
    rows, _ = export_rows(env, manager, project, format="preference", conversational=False)
    by_id = {row["external_id"]: row for row in rows}
    assert by_id["a"]["prompt"] == "Q a?"
    assert by_id["a"]["chosen"] == "good a"
    assert by_id["b"]["prompt"] == "system: Be brief.\n\nuser: Q b?\n\nassistant: "
    assert all(isinstance(row[k], str) for row in rows for k in ("prompt", "chosen", "rejected"))


def test_unpaired_rows_label_chosen_true_and_rejected_false(env, answer):
    manager, _, project = pairwise_project(env, answer)
    rows, _ = export_rows(env, manager, project, format="unpaired")
    assert len(rows) == 4
    assert {(r["external_id"], r["completion"][0]["content"], r["label"]) for r in rows} == {
        ("a", "good a", True), ("a", "bad a", False), ("b", "good b", True), ("b", "bad b", False)
    }
    assert all(type(r["label"]) is bool for r in rows)


def test_gold_items_are_exported_only_when_asked(env, answer):
    manager, _, project = pairwise_project(env, answer)
    rows, _ = export_rows(env, manager, project, format="preference", include_gold=True)
    assert {row["external_id"] for row in rows} == {"a", "b", "g"}


def test_min_confidence_and_min_agreement_drop_uncertain_rows(env, answer):
    manager, _, project = pairwise_project(env, answer)
    all_rows, _ = export_rows(env, manager, project, format="preference")
    cut = max(r["confidence"] for r in all_rows)
    rows, prepared = export_rows(env, manager, project, format="preference", min_confidence=cut)
    assert [r["external_id"] for r in rows] == ["a"]
    assert prepared.counts.below_confidence == 1
    rows, prepared = export_rows(env, manager, project, format="preference", min_agreement=0.9)
    assert [r["external_id"] for r in rows] == ["a"]
    assert prepared.counts.below_agreement == 1


def test_a_criterion_decides_chosen_and_rejected_when_asked(env, answer):
    manager, _, project = pairwise_project(env, answer, criteria=True)
    rows, _ = export_rows(env, manager, project, format="preference", criterion="safety")
    by_id = {row["external_id"]: row for row in rows}
    assert by_id["a"]["chosen"][0]["content"] == "bad a"  # safer, though worse overall
    with pytest.raises(InputInvalid, match="not a criterion"):
        export_rows(env, manager, project, format="preference", criterion="nope")


def test_formats_a_task_type_cannot_produce_are_refused(env, answer):
    manager, _, project = pairwise_project(env, answer)
    with pytest.raises(InputInvalid, match="pairwise project exports as"):
        export_rows(env, manager, project, format="sft")


def test_only_the_projects_managers_may_export(env, answer):
    manager, workers, project = pairwise_project(env, answer)
    reviewer = env.user(Role.REVIEWER)
    from expertloop.services.projects import add_members

    add_members(env.db, actor=manager, project_id=project, user_ids=[reviewer.id])
    for person in (workers[0], reviewer):
        with pytest.raises(PermissionDenied):
            export_rows(env, person, project, format="preference")
    with pytest.raises(PermissionDenied):
        list(iter_consensus(env.db, actor=workers[0], project_id=project))


def test_raw_rows_carry_pseudonyms_timing_and_no_review(env, answer):
    manager, workers, project = pairwise_project(env, answer)
    rows, _ = export_rows(env, manager, project, format="raw")
    assert len(rows) == 9  # three non-gold items, three answers each
    expected = {worker_pseudonym(SECRET, project, w.id) for w in workers}
    assert {r["worker"] for r in rows} == expected
    for row in rows:
        assert row["worker"].startswith("w-")
        assert str(next(w.id for w in workers if worker_pseudonym(SECRET, project, w.id) == row["worker"])) not in row["worker"][2:3]
        assert row["review"] is None
        assert row["duration_ms"] >= 0
        assert row["created_at"].endswith("Z")
        assert json.loads(row["answer"])["choice"] in ("A", "B", "tie")
        assert "gold" not in json.loads(row["payload"])
    assert worker_pseudonym(SECRET, project, workers[0].id) != worker_pseudonym(SECRET, project + 1, workers[0].id)


def test_ranking_answers_expand_to_one_row_per_untied_pair(env, answer):
    manager = env.user(Role.MANAGER)
    workers = [env.user(Role.WORKER) for _ in range(3)]
    project = env.project(manager, task_type="ranking", config={"allow_ties": True}, members=workers)
    env.items(
        manager,
        project,
        [
            {"external_id": "r", "payload": {"prompt": "Rank", "responses": ["zero", "one", "two"]}},
            {"external_id": "t", "payload": {"prompt": "Tied", "responses": ["p", "q", "s"]}},
        ],
    )
    answer(
        project,
        workers,
        {
            "r": [{"ranking": [[2], [0], [1]]}] * 3,
            "t": [{"ranking": [[0, 1], [2]]}] * 3,
        },
    )
    rows, prepared = export_rows(env, manager, project, format="preference", conversational=False)
    pairs = {(r["external_id"], r["chosen"], r["rejected"]) for r in rows}
    assert pairs == {
        ("r", "two", "zero"), ("r", "two", "one"), ("r", "zero", "one"),
        ("t", "p", "s"), ("t", "q", "s"),
    }
    assert prepared.counts.ties_dropped == 1  # p and q were tied
    lines = {line["external_id"]: line for line in iter_consensus(env.db, actor=manager, project_id=project)}
    assert lines["r"]["consensus"] == {"ranking": [[2], [0], [1]]}
    assert lines["t"]["consensus"] == {"ranking": [[0, 1], [2]]}


def test_demonstrations_and_rewrites_become_sft_and_preference_rows(env, answer):
    manager = env.user(Role.MANAGER)
    workers = [env.user(Role.WORKER) for _ in range(2)]
    demo = env.project(manager, task_type="demonstration", members=workers, answers_per_item=2)
    env.items(manager, demo, [{"external_id": "d", "payload": {"prompt": "Explain X."}}])
    answer(demo, workers, {"d": [{"response": "X is one."}, {"response": "X is two."}]})
    rows, _ = export_rows(env, manager, demo, format="sft")
    assert sorted(r["messages"][-1]["content"] for r in rows) == ["X is one.", "X is two."]
    assert rows[0]["messages"][0] == {"role": "user", "content": "Explain X."}
    assert rows[0]["confidence"] is None
    rows, _ = export_rows(env, manager, demo, format="sft", conversational=False)
    assert {(r["prompt"], r["completion"]) for r in rows} == {("Explain X.", "X is one."), ("Explain X.", "X is two.")}

    rewrite = env.project(manager, task_type="rewrite", members=workers, answers_per_item=1)
    env.items(manager, rewrite, [{"external_id": "w", "payload": {"prompt": "Dose?", "response": "10 g"}}])
    answer(rewrite, workers, {"w": [{"critique": "Too much.", "rewrite": "10 mg"}]})
    rows, _ = export_rows(env, manager, rewrite, format="preference", conversational=False)
    assert [(r["chosen"], r["rejected"], r["preference_strength"]) for r in rows] == [("10 mg", "10 g", 1.0)]


def test_ratings_become_reward_and_unpaired_rows(env, answer):
    manager = env.user(Role.MANAGER)
    workers = [env.user(Role.WORKER) for _ in range(3)]
    config = {"criteria": [{"name": "accuracy", "min": 1, "max": 5}]}
    project = env.project(manager, task_type="rating", config=config, members=workers)
    env.items(
        manager,
        project,
        [
            {"external_id": "hi", "payload": {"prompt": "P", "response": "great"}},
            {"external_id": "lo", "payload": {"prompt": "P", "response": "poor"}},
        ],
    )
    answer(
        project,
        workers,
        {
            "hi": [{"scores": {"accuracy": 5}}] * 3,
            "lo": [{"scores": {"accuracy": 1}}, {"scores": {"accuracy": 1}}, {"scores": {"accuracy": 2}}],
        },
    )
    rows, _ = export_rows(env, manager, project, format="scores", conversational=False)
    by_id = {r["external_id"]: r for r in rows}
    assert by_id["hi"]["criterion"] == "accuracy"
    assert by_id["hi"]["score"] == pytest.approx(5.0, abs=0.2)
    assert 1.0 <= by_id["lo"]["score"] < 2.0
    rows, _ = export_rows(env, manager, project, format="unpaired", conversational=False)
    assert {(r["external_id"], r["label"]) for r in rows} == {("hi", True), ("lo", False)}


def test_the_card_records_the_quality_engines_numbers(env, answer, tmp_path):
    datasets = _datasets()
    manager, _, project = pairwise_project(env, answer)
    with env.db.write() as conn:
        from sqlalchemy import text

        conn.execute(text("UPDATE projects SET guidelines = 'Prefer the correct answer.' WHERE id = :p"), {"p": project})
    prepared = prepare_export(
        env.db, actor=manager, project_id=project, options=ExportOptions(format="preference"), secret_key=SECRET
    )
    parquet = tmp_path / "train.parquet"
    with parquet.open("wb") as sink:
        write_rows(prepared.batches(), sink, output="parquet", schema=prepared.schema)
    out = tmp_path / "hub"
    save_dataset_dict(parquet, out, prepared.card(HUB_DATA_FILES))

    # Independently: the same answers through expertloop.quality.
    from sqlalchemy import text

    with env.db.read() as conn:
        answers = conn.execute(
            text("SELECT a.worker_id, a.item_id, a.value, i.external_id FROM answers a JOIN items i ON i.id = a.item_id WHERE a.project_id = :p"),
            {"p": project},
        ).all()
    decoded = [(w, i, v if isinstance(v, dict) else json.loads(v), e) for w, i, v, e in answers]
    all_w = [w for w, *_ in decoded]
    all_i = [i for _, i, *_ in decoded]
    all_c = [v["choice"] for _, _, v, _ in decoded]
    result = pairwise_consensus(all_w, all_i, all_c)
    scope = [(w, i, v["choice"]) for w, i, v, e in decoded if e != "g"]
    alpha = krippendorff_alpha([s[0] for s in scope], [s[1] for s in scope], [s[2] for s in scope])
    external = {i: e for _, i, _, e in decoded}
    wrong = []
    for k, item in enumerate(result.item_ids.tolist()):
        if external[item] == "g" or result.choice[k] == "tie":
            continue
        p = {"A": result.p_a_better[k], "B": result.p_b_better[k]}[result.choice[k]]
        wrong.append(1 - p)
    noise = sum(wrong) / len(wrong)

    card = (out / "README.md").read_text()
    header = card.split("---")[1]
    import yaml

    meta = yaml.safe_load(header)["expertloop"]
    assert meta["krippendorff_alpha"] == pytest.approx(alpha)
    assert meta["estimated_label_noise"] == pytest.approx(noise)
    assert meta["n_workers"] == 3
    assert meta["n_items"] == 3
    assert meta["answers_per_item"] == pytest.approx(3.0)
    assert meta["consensus_method"] == "pairwise_dawid_skene"
    assert meta["guidelines_version"].startswith("sha256:")
    assert meta["ties_dropped"] == 1
    assert meta["rows"] == 2
    assert meta["reviews"] == {"accepted": 0, "fixed": 0, "rejected": 0, "pending": 0}
    assert meta["filters"]["reviewed_only"] is False

    loaded = datasets.load_from_disk(str(out))
    assert loaded["train"].num_rows == 2
    assert set(loaded["train"].column_names) >= {"prompt", "chosen", "rejected", "preference_strength", "item_id", "external_id", "n_answers", "confidence"}
    again = datasets.load_dataset(str(out), cache_dir=str(tmp_path / "cache"))
    assert again["train"].num_rows == 2
    assert again["train"][0]["chosen"][0]["role"] == "assistant"


def test_the_api_streams_jsonl_and_parquet_that_datasets_loads(env, answer, tmp_path):
    datasets = _datasets()
    manager, workers, project = pairwise_project(env, answer)
    client = env.client(manager)
    response = client.get(f"/api/v1/projects/{project}/exports/preference")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/x-ndjson")
    lines = [json.loads(line) for line in response.text.splitlines()]
    assert {line["external_id"] for line in lines} == {"a", "b"}
    response = client.get(f"/api/v1/projects/{project}/exports/preference", params={"output": "parquet", "standard": "true"})
    assert response.status_code == 200
    table = pq.read_table(io.BytesIO(response.content))
    assert table.num_rows == 2
    assert str(table.schema.field("prompt").type) == "string"
    (tmp_path / "p.parquet").write_bytes(response.content)
    (tmp_path / "p.jsonl").write_text("\n".join(json.dumps(line) for line in lines))
    from_parquet = datasets.load_dataset("parquet", data_files=str(tmp_path / "p.parquet"), cache_dir=str(tmp_path / "c"))
    from_jsonl = datasets.load_dataset("json", data_files=str(tmp_path / "p.jsonl"), cache_dir=str(tmp_path / "c"))
    assert from_parquet["train"].features["prompt"].dtype == "string"
    assert from_jsonl["train"][0]["prompt"][0]["role"] == "user"

    assert env.client(workers[0]).get(f"/api/v1/projects/{project}/exports/preference").status_code == 403
    assert client.get(f"/api/v1/projects/{project}/exports/sft").status_code == 422
    assert client.get(f"/api/v1/projects/{project}/exports/bogus").status_code == 422


def test_the_consensus_endpoint_gives_one_line_per_answered_item(env, answer):
    manager, _, project = pairwise_project(env, answer)
    response = env.client(manager).get(f"/api/v1/projects/{project}/consensus")
    assert response.status_code == 200
    lines = {line["external_id"]: line for line in map(json.loads, response.text.splitlines())}
    assert set(lines) == {"a", "b", "t"}
    assert lines["a"]["consensus"] == {"choice": "A"}
    assert lines["b"]["consensus"] == {"choice": "B"}
    assert lines["t"]["consensus"] == {"choice": "tie"}
    assert lines["a"]["n_answers"] == 3
    assert lines["a"]["method"] == "pairwise_dawid_skene"
    assert 0.5 < lines["a"]["confidence"] <= 1
    with_gold = env.client(manager).get(f"/api/v1/projects/{project}/consensus", params={"include_gold": "true"})
    assert len(with_gold.text.splitlines()) == 4


def test_the_cli_exports_parquet_and_a_hub_dataset(env, answer, tmp_path, monkeypatch):
    _datasets()
    from typer.testing import CliRunner

    from expertloop.cli.main import app

    manager, _, project = pairwise_project(env, answer)
    monkeypatch.setenv("EXPERTLOOP_DATABASE_URL", env.backend.url)
    runner = CliRunner()
    out = tmp_path / "pref.parquet"
    result = runner.invoke(app, ["export", str(project), "preference", "--to", "parquet", "-o", str(out), "--as", manager.username])
    assert result.exit_code == 0, result.output
    assert pq.read_table(out).num_rows == 2
    hub = tmp_path / "hub"
    result = runner.invoke(app, ["export", str(project), "unpaired", "--to", "hub", "-o", str(hub), "--as", manager.username])
    assert result.exit_code == 0, result.output
    assert (hub / "README.md").is_file()
    assert (hub / "dataset_dict.json").is_file()


def _write(path: Path, data: Any) -> Path:
    path.write_text(json.dumps(data))
    return path
