"""The training formats as trainers read them: reward pairs, scores, classification with
ClassLabels, rubric_rl, one schema per format in every file type, the chance filter."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from export_helpers import answer  # noqa: F401 - a fixture
from format_projects import (
    CLASS_LABELS,
    authoring_project,
    every_format,
    label_project,
    rating_project,
)

from expertloop.domain import Role
from expertloop.exports.hub import HUB_DATA_FILES, save_dataset_dict
from expertloop.exports.writers import write_rows
from expertloop.services.exports import ExportOptions, prepare_export

SECRET = "test-secret"


def _datasets() -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import datasets
    datasets.disable_progress_bars()
    return datasets


def _prepared(env: Any, manager: Any, project: int, **options: Any) -> Any:
    return prepare_export(
        env.db, actor=manager, project_id=project, options=ExportOptions(**options), secret_key=SECRET
    )


def _rows(env: Any, manager: Any, project: int, **options: Any) -> tuple[list[dict], Any]:
    prepared = _prepared(env, manager, project, **options)
    return [row for batch in prepared.batches() for row in batch], prepared


def test_reward_pairs_the_responses_to_one_prompt_by_their_scores(env, answer):
    manager, project = rating_project(env, answer)
    rows, prepared = _rows(env, manager, project, format="reward", conversational=False)
    # Three responses to the first prompt: three pairs; two to the second: one pair.
    assert len(rows) == 4
    assert prepared.counts.rows == 4
    for row in rows:
        assert set(row) == {"prompt", "chosen", "rejected", "preference_strength", "item_id", "external_id", "rejected_item_id", "rejected_external_id", "n_answers", "confidence"}
        assert row["chosen"].startswith("Answer")
        assert row["rejected"].startswith("Answer")
        assert row["item_id"] != row["rejected_item_id"]
        assert 0 < row["preference_strength"] <= 1
    first = [r for r in rows if r["prompt"] == "Summarise the trial."]
    # Scores 5 > 3 > 1 on both criteria: response 0 beats 1 and 2, 1 beats 2.
    wins = {(r["external_id"], r["rejected_external_id"]) for r in first}
    assert wins == {("Summa-0", "Summa-1"), ("Summa-0", "Summa-2"), ("Summa-1", "Summa-2")}
    strongest = max(first, key=lambda r: r["preference_strength"])
    assert (strongest["external_id"], strongest["rejected_external_id"]) == ("Summa-0", "Summa-2")
    # The per-response scores stay a format of their own, for regression reward models.
    scores, _ = _rows(env, manager, project, format="scores", conversational=False)
    assert len(scores) == 10
    assert {r["criterion"] for r in scores} == {"accuracy", "clarity"}
    # A criterion orders the pairs by itself.
    by_accuracy, _ = _rows(env, manager, project, format="reward", criterion="accuracy")
    assert len(by_accuracy) == 4


def test_preference_rows_name_the_strength_so_reward_trainer_ignores_it(env, answer):
    from format_projects import pairwise_project

    manager, project = pairwise_project(env, answer)
    for fmt in ("preference", "reward"):
        rows, _ = _rows(env, manager, project, format=fmt)
        assert rows
        assert all("margin" not in row and 0 < row["preference_strength"] <= 1 for row in rows)


def test_an_item_whose_consensus_is_no_better_than_chance_is_dropped_by_default(env, answer, tmp_path):
    manager = env.user(Role.MANAGER)
    workers = [env.user(Role.WORKER) for _ in range(3)]
    project = env.project(manager, members=workers)
    # Equally reliable workers (they agree on every other item), split 1-1-1 on one.
    clear = [f"clear{n}" for n in range(6)]
    env.items(manager, project, [
        {"external_id": "split", "payload": {"prompt": "Q?", "response_a": "x", "response_b": "y"}},
        *({"external_id": c, "payload": {"prompt": f"{c}?", "response_a": "u", "response_b": "v"}} for c in clear),
    ])
    plan = {c: [{"choice": "AB"[n % 2]}] * 3 for n, c in enumerate(clear)}
    answer(project, workers, {"split": [{"choice": "A"}, {"choice": "B"}, {"choice": "tie"}], **plan})
    rows, prepared = _rows(env, manager, project, format="preference")
    assert [r["external_id"] for r in rows] == clear
    assert prepared.counts.below_chance == 1
    card = prepared.card("prefs.jsonl")
    assert "no better than a guess" in card
    assert "below_chance: 1" in card
    # An explicit threshold replaces the default: 0 keeps every row.
    kept, prepared = _rows(env, manager, project, format="preference", min_confidence=0.0)
    assert {r["external_id"] for r in kept} == {"split", *clear}
    (split,) = [r for r in kept if r["external_id"] == "split"]
    assert split["confidence"] < 0.5
    assert prepared.counts.below_chance == 0
    # The same rule on the row-by-row path (a label split three ways).
    manager, label = label_project(env, answer)
    rows, prepared = _rows(env, manager, label, format="classification")
    assert prepared.counts.below_chance == 0
    assert len(rows) == 4


def test_a_label_project_exports_classlabels_that_datasets_types(env, answer, tmp_path):
    datasets = _datasets()
    for multiple in (False, True):
        manager, project = label_project(env, answer, multiple=multiple)
        prepared = _prepared(env, manager, project, format="classification")
        out = tmp_path / f"multi-{multiple}"
        out.mkdir()
        with (out / "data.parquet").open("wb") as sink:
            write_rows(prepared.batches(), sink, output="parquet", schema=prepared.schema)
        loaded = datasets.load_dataset("parquet", data_files=str(out / "data.parquet"), cache_dir=str(tmp_path / f"c-{multiple}"))["train"]
        if multiple:
            feature = loaded.features["labels"]
            assert isinstance(feature, datasets.List)
            assert isinstance(feature.feature, datasets.ClassLabel)
            assert feature.feature.names == CLASS_LABELS
            assert loaded["labels"] == [[0], [1, 2], [2], [0, 1]]
        else:
            assert loaded.features["label"] == datasets.ClassLabel(names=CLASS_LABELS)
            assert loaded.features["label"].int2str(loaded["label"]) == ["urgent", "routine", "admin", "urgent"]
        assert loaded["text"][0] == "Chest pain for twenty minutes"
        balance = prepared.card_stats().label_counts
        assert balance == ({"urgent": 2, "routine": 2, "admin": 2} if multiple else {"urgent": 2, "routine": 1, "admin": 1})


def test_rubric_rl_keeps_problem_solution_and_rubric_together(env, answer):
    manager, project = authoring_project(env, answer)
    rows, _ = _rows(env, manager, project, format="rubric_rl")
    assert len(rows) == 2
    row = rows[0]
    assert row["prompt"] == [{"role": "user", "content": "A test has sensitivity 0.9; prevalence 1%. P(D|+)?"}]
    assert row["solution"] == "By Bayes: 0.154."
    assert row["rubric"] == [{"criterion": "Sets up Bayes", "points": 2}, {"criterion": "Final answer", "points": 3}]
    sft, _ = _rows(env, manager, project, format="sft", conversational=False)
    assert sft[0]["completion"] == "By Bayes: 0.154."


def _write_all(prepared_of: Any, out: Path) -> dict[str, Path]:
    """The export as JSONL with its card, Parquet with its card, and a saved DatasetDict."""
    dirs = {}
    for output in ("jsonl", "parquet"):
        prepared = prepared_of()
        folder = out / output
        folder.mkdir(parents=True)
        name = f"data.{output}"
        with (folder / name).open("wb") as sink:
            write_rows(prepared.batches(), sink, output=output, schema=prepared.schema)
        (folder / "README.md").write_text(prepared.card(name))
        dirs[output] = folder
    prepared = prepared_of()
    parquet = out / "tmp.parquet"
    with parquet.open("wb") as sink:
        write_rows(prepared.batches(), sink, output="parquet", schema=prepared.schema)
    save_dataset_dict(parquet, out / "hub", prepared.card(HUB_DATA_FILES))
    dirs["hub"] = out / "hub"
    return dirs


def test_every_format_has_one_schema_whatever_the_file_type(env, answer, tmp_path):
    datasets = _datasets()
    for n, case in enumerate(every_format(env, answer)):
        for conversational in (True, False):
            def prepared_of(case: Any = case, conversational: bool = conversational) -> Any:
                return _prepared(env, case.manager, case.project_id, format=case.format, conversational=conversational)

            dirs = _write_all(prepared_of, tmp_path / f"{n}-{conversational}")
            # A cache per load: datasets may take two folders' files of one name, size
            # and second for the same data.
            cache = tmp_path / f"cache-{n}-{conversational}"
            loaded = {
                "jsonl": datasets.load_dataset(str(dirs["jsonl"]), cache_dir=str(cache / "j"))["train"],
                "parquet": datasets.load_dataset(str(dirs["parquet"]), cache_dir=str(cache / "p"))["train"],
                "hub": datasets.load_from_disk(str(dirs["hub"]))["train"],
                "hub (card)": datasets.load_dataset(str(dirs["hub"]), cache_dir=str(cache / "h"))["train"],
            }
            label = f"{case.format} (conversational={conversational})"
            features = {name: ds.features for name, ds in loaded.items()}
            assert all(f == features["parquet"] for f in features.values()), (label, features)
            assert loaded["jsonl"].num_rows > 0, label
            assert loaded["jsonl"].to_list() == loaded["parquet"].to_list(), label
            assert features["parquet"]["n_answers"] == datasets.Value("int64"), label
            both = datasets.concatenate_datasets(list(loaded.values()))
            assert both.num_rows == 4 * loaded["jsonl"].num_rows
            # Without the card, JSON lines still give int64 answer counts.
            plain = datasets.load_dataset("json", data_files=str(dirs["jsonl"] / "data.jsonl"), cache_dir=str(cache / "plain"))["train"]
            assert plain.features["n_answers"] == datasets.Value("int64")
            assert pq.read_schema(dirs["parquet"] / "data.parquet").field("n_answers").type == "int64"


def test_the_standard_form_of_a_chat_prompt_ends_with_the_assistant_cue(env, answer):
    from format_projects import demonstration_project

    manager, project = demonstration_project(env, answer)
    rows, _ = _rows(env, manager, project, format="sft", conversational=False)
    by_id = {r["external_id"]: r for r in rows}
    assert by_id["d1"]["prompt"] == "system: Be brief.\n\nuser: Can I claim home working costs?\n\nassistant: "
    assert by_id["d2"]["prompt"] == "What is a tax code?"  # a string prompt stays as it is


def test_the_card_yaml_header_says_licence_language_size_trainer_and_columns(env, answer):
    import yaml
    from format_projects import pairwise_project

    manager, project = pairwise_project(env, answer)
    for fmt, trainer in (("preference", "DPOTrainer"), ("unpaired", "KTOTrainer"), ("reward", "RewardTrainer")):
        prepared = _prepared(env, manager, project, format=fmt, license="cc-by-4.0", language=("en",))
        for _ in prepared.batches():
            pass
        card = prepared.card(f"p.{fmt}.jsonl")
        meta = yaml.safe_load(card.split("---")[1])
        assert meta["license"] == "cc-by-4.0"
        assert meta["language"] == ["en"]
        assert meta["task_categories"] == ["text-generation"]
        assert meta["size_categories"] == ["n<1K"]
        assert meta["configs"][0]["data_files"][0]["path"] == f"p.{fmt}.jsonl"
        assert trainer in meta["expertloop"]["trainer"]
        names = [f["name"] for f in meta["dataset_info"]["features"]]
        assert names == list(prepared.schema.names)
        for name in names:  # every column described, provenance too
            assert f"| `{name}` |" in card
        assert ("label_smoothing" in card) == (fmt == "preference")
        if fmt == "unpaired":
            assert meta["expertloop"]["label_counts"] == {"true": 6, "false": 6}
            assert "Label balance: 6 desirable" in card
    with pytest.raises(Exception, match="licence"):
        _prepared(env, manager, project, format="preference", license="not a licence!")


def test_the_card_is_given_on_every_path(env, answer, tmp_path, monkeypatch):
    from format_projects import pairwise_project
    from typer.testing import CliRunner

    from expertloop.cli.main import app

    manager, project = pairwise_project(env, answer)
    # CLI: beside the file.
    monkeypatch.setenv("EXPERTLOOP_DATABASE_URL", env.backend.url)
    out = tmp_path / "prefs.jsonl"
    result = CliRunner().invoke(app, ["export", str(project), "preference", "-o", str(out), "--license", "mit", "--language", "en", "--as", manager.username])
    assert result.exit_code == 0, result.output
    card = (tmp_path / "prefs.README.md").read_text()
    assert 'path: "prefs.jsonl"' in card
    assert 'license: "mit"' in card
    # HTTP: the streamed export's card, with the same options.
    client = env.client(manager)
    response = client.get(f"/api/v1/projects/{project}/exports/unpaired/card", params={"standard": "true", "language": ["en", "fr"]})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/markdown")
    assert 'language: ["en", "fr"]' in response.text
    assert "KTOTrainer" in response.text
    assert client.get(f"/api/v1/projects/{project}/exports/sft/card").status_code == 422
    bad = client.get(f"/api/v1/projects/{project}/exports/unpaired/card", params={"license": "a b"})
    assert bad.status_code == 422
    assert "license" in bad.text
    # SDK: export_to writes the card beside the file; export types the rows by it.
    from expertloop.client import Client

    with Client(env.url, env.token_for(manager)) as sdk:
        remote = sdk.projects.get(project)
        path = remote.export_to(tmp_path / "sdk.parquet", "preference", file_format="parquet")
        sdk_card = (tmp_path / "sdk.README.md").read_text()
        assert 'path: "sdk.parquet"' in sdk_card
        ds = remote.export("preference")
        assert "DPOTrainer" in ds.info.description
        assert ds.features["n_answers"].dtype == "int64"
        assert path.is_file()


def test_every_column_of_every_format_has_a_meaning_and_a_trainer_on_its_card():
    from expertloop.exports.card import TRAINERS, _column_doc
    from expertloop.exports.writers import arrow_schema
    from expertloop.tasks import EXPORT_FORMATS

    assert set(TRAINERS) == set(EXPORT_FORMATS)
    for fmt in EXPORT_FORMATS:
        for conversational in (True, False):
            for multi in (False, True):
                schema = arrow_schema(fmt, conversational=conversational, class_names=["a", "b"], multi_label=multi)
                for name in schema.names:
                    assert _column_doc(fmt, name), f"{fmt}: {name} has no meaning on the card"


def test_only_the_classification_label_is_a_classlabel():
    from expertloop.exports.writers import arrow_schema, schema_features

    raw = schema_features(arrow_schema("raw", conversational=True, class_names=["a", "b"]))
    assert all(f["_type"] == "Value" for f in raw.values())
    single = schema_features(arrow_schema("classification", conversational=True, class_names=["a", "b"]))
    assert single["label"] == {"names": ["a", "b"], "_type": "ClassLabel"}
