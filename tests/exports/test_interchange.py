"""Moving between expertloop, Label Studio and Argilla with the labels: annotations and
responses become answers by imported annotators, predictions and suggestions model
suggestions, ground truth gold, metadata a field workers never see; exports go back in each
tool's import format, and a round trip keeps every label."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from export_helpers import answer  # noqa: F401 - a fixture
from sqlalchemy import select
from typer.testing import CliRunner

from expertloop.cli.main import app
from expertloop.domain import Role
from expertloop.errors import ImportFailed
from expertloop.services.interchange import export_to_tool, foreign_records
from expertloop.services.items import import_items
from expertloop.services.projects import get_project
from expertloop.store import tables as t

LABELS = {"labels": ["urgent", "routine"]}

# Label Studio's own pairwise template: prompt, answer1, answer2; the choice is "selected".
LS_PAIRWISE = [
    {
        "id": 11,
        "data": {"prompt": "Q1?", "answer1": "a1", "answer2": "b1"},
        "meta": {"model_a": "gpt-x", "model_b": "llama-y"},
        "annotations": [
            {
                "id": 101,
                "completed_by": 7,
                "created_at": "2026-03-01T10:00:00.000000Z",
                "lead_time": 12.5,
                "result": [
                    {"from_name": "comparison", "to_name": "pairwise", "type": "pairwise", "value": {"selected": "left"}}
                ],
            },
            {
                "id": 102,
                "completed_by": {"id": 8, "email": "b@example.org"},
                "result": [
                    {"from_name": "comparison", "to_name": "pairwise", "type": "pairwise", "value": {"selected": "right"}}
                ],
            },
            {"id": 103, "completed_by": 9, "was_cancelled": True, "result": []},
        ],
        "predictions": [
            {
                "model_version": "judge-v1",
                "score": 0.8,
                "result": [
                    {"from_name": "comparison", "to_name": "pairwise", "type": "pairwise", "value": {"selected": "left"}}
                ],
            }
        ],
    },
    {"id": 12, "data": {"prompt": "Q2?", "answer1": "a2", "answer2": "b2"}},
]

LS_LABELS = [
    {
        "id": 21,
        "data": {"text": "Chest pain for 20 minutes"},
        "annotations": [
            {"id": 201, "completed_by": 1, "result": [{"from_name": "urgency", "to_name": "text", "type": "choices", "value": {"choices": ["urgent"]}}]},
            {"id": 202, "completed_by": 2, "result": [{"from_name": "urgency", "to_name": "text", "type": "choices", "value": {"choices": ["routine"]}}]},
            {"id": 203, "completed_by": 3, "ground_truth": True, "result": [{"from_name": "urgency", "to_name": "text", "type": "choices", "value": {"choices": ["urgent"]}}]},
        ],
    }
]

ARGILLA = [
    {
        "id": "r-1",
        "fields": {"text": "Chest pain for 20 minutes"},
        "metadata": {"source": "triage-line"},
        "responses": {
            "urgency": [
                {"value": "urgent", "user_id": "u-1", "status": "submitted"},
                {"value": "routine", "user_id": "u-2", "status": "submitted"},
                {"value": "routine", "user_id": "u-3", "status": "draft"},
            ]
        },
        "suggestions": {"urgency": {"value": "urgent", "score": 0.9, "agent": "triage-model"}},
    },
    {"id": "r-2", "fields": {"text": "Can I renew my prescription online?"}},
]


def _import(env: Any, manager: Any, project: int, body: Any, source: str) -> int:
    target = get_project(env.db, actor=manager, project_id=project)
    return import_items(
        env.db,
        actor=manager,
        project_id=project,
        records=foreign_records(json.dumps(body), source=source, project=target),
        origin=source,
    )


def _answers(env: Any, project: int) -> list[tuple[str, str, dict[str, Any], int]]:
    with env.db.read() as conn:
        rows = conn.execute(
            select(t.Item.external_id, t.User.username, t.Answer.value, t.Answer.duration_ms)
            .join(t.Item, t.Item.id == t.Answer.item_id)
            .join(t.User, t.User.id == t.Answer.worker_id)
            .where(t.Answer.project_id == project)
        ).all()
    return sorted((r[0], r[1], r[2], r[3]) for r in rows)


def _items(env: Any, project: int) -> dict[str, Any]:
    with env.db.read() as conn:
        rows = conn.execute(
            select(t.Item.external_id, t.Item.payload, t.Item.gold, t.Item.meta, t.Item.n_answers, t.Item.open_slots, t.Item.target).where(t.Item.project_id == project)
        ).all()
    return {
        r.external_id: {"payload": r.payload, "gold": r.gold, "meta": r.meta, "n": r.n_answers, "open": r.open_slots, "target": r.target}
        for r in rows
    }


def _suggestions(env: Any, project: int) -> list[tuple[str, str, dict[str, Any], float | None]]:
    with env.db.read() as conn:
        rows = conn.execute(
            select(t.Item.external_id, t.Suggestion.agent, t.Suggestion.value, t.Suggestion.score)
            .join(t.Item, t.Item.id == t.Suggestion.item_id)
            .where(t.Suggestion.project_id == project)
        ).all()
    return sorted((r[0], r[1], r[2], r[3]) for r in rows)


def test_label_studio_annotations_become_answers_by_imported_annotators(env):
    manager = env.user(Role.MANAGER)
    project = env.project(manager, answers_per_item=3)
    assert _import(env, manager, project, LS_PAIRWISE, "label-studio") == 2
    assert _answers(env, project) == [
        ("11", "label-studio:7", {"choice": "A"}, 12500),
        ("11", "label-studio:8", {"choice": "B"}, 0),
    ]
    items = _items(env, project)
    assert items["11"]["payload"] == {"prompt": "Q1?", "response_a": "a1", "response_b": "b1"}
    assert items["11"]["meta"] == {"model_a": "gpt-x", "model_b": "llama-y"}
    assert (items["11"]["n"], items["11"]["open"]) == (2, 1)
    assert _suggestions(env, project) == [("11", "judge-v1", {"choice": "A"}, 0.8)]
    with env.db.read() as conn:
        annotator = conn.execute(select(t.User.id, t.User.is_active).where(t.User.username == "label-studio:7")).one()
        created = conn.execute(select(t.Answer.created_at).where(t.Answer.worker_id == annotator.id)).scalar_one()
    assert not annotator.is_active
    assert created.isoformat() == "2026-03-01T10:00:00"


def test_an_imported_annotator_cannot_sign_in(env):
    manager = env.user(Role.MANAGER)
    project = env.project(manager)
    _import(env, manager, project, LS_PAIRWISE, "label-studio")
    response = env.client().post("/api/v1/auth/token", json={"username": "label-studio:7", "password": "!imported-annotator"})
    assert response.status_code == 401


def test_a_label_studio_ground_truth_annotation_becomes_gold_not_an_answer(env):
    manager = env.user(Role.MANAGER)
    project = env.project(manager, task_type="label", config=LABELS)
    _import(env, manager, project, LS_LABELS, "label-studio")
    assert _items(env, project)["21"]["gold"] == {"label": "urgent"}
    assert [a[1] for a in _answers(env, project)] == ["label-studio:1", "label-studio:2"]


def test_imported_answers_past_the_target_complete_the_item(env):
    manager = env.user(Role.MANAGER)
    project = env.project(manager, answers_per_item=1)
    _import(env, manager, project, LS_PAIRWISE, "label-studio")
    item = _items(env, project)["11"]
    assert (item["n"], item["open"], item["target"]) == (2, 0, 2)
    worker = env.user(Role.WORKER)
    from expertloop.services import projects

    projects.add_members(env.db, actor=manager, project_id=project, user_ids=[worker.id])
    client = env.client(worker)
    first = client.post(f"/api/v1/projects/{project}/assignments/next")
    assert first.json()["item"]["payload"]["prompt"] == "Q2?"  # item 11 is complete


def test_argilla_responses_become_answers_and_metadata_stays_out_of_the_payload(env):
    manager = env.user(Role.MANAGER)
    project = env.project(manager, task_type="label", config=LABELS)
    assert _import(env, manager, project, ARGILLA, "argilla") == 2
    assert _answers(env, project) == [
        ("r-1", "argilla:u-1", {"label": "urgent"}, 0),
        ("r-1", "argilla:u-2", {"label": "routine"}, 0),
    ]
    items = _items(env, project)
    assert items["r-1"]["payload"] == {"text": "Chest pain for 20 minutes"}
    assert items["r-1"]["meta"] == {"source": "triage-line"}
    assert _suggestions(env, project) == [("r-1", "triage-model", {"label": "urgent"}, 0.9)]


def test_a_worker_never_sees_an_items_metadata(env):
    manager = env.user(Role.MANAGER)
    worker = env.user(Role.WORKER)
    project = env.project(manager, members=[worker])
    _import(env, manager, project, [*LS_PAIRWISE[1:], {**LS_PAIRWISE[0], "annotations": [], "predictions": []}], "label-studio")
    client = env.client(worker)
    for _ in range(2):
        body = client.post(f"/api/v1/projects/{project}/assignments/next").json()
        assert "gpt-x" not in json.dumps(body)
        client.post(f"/api/v1/assignments/{body['assignment_id']}/release")


@pytest.mark.parametrize(
    "row",
    [
        {  # Argilla 2.x, pushed to the Hub
            "id": "r-1",
            "status": "completed",
            "_server_id": "9f0c",
            "text": "Chest pain for 20 minutes",
            "urgency.responses": ["urgent", "routine"],
            "urgency.responses.users": ["u-1", "u-2"],
            "urgency.responses.status": ["submitted", "submitted"],
            "urgency.suggestion": "urgent",
            "urgency.suggestion.score": 0.9,
            "urgency.suggestion.agent": "triage-model",
        },
        {  # Argilla 1.x FeedbackDataset, pushed to the Hub
            "external_id": "r-1",
            "text": "Chest pain for 20 minutes",
            "urgency": [
                {"user_id": "u-1", "value": "urgent", "status": "submitted"},
                {"user_id": "u-2", "value": "routine", "status": "submitted"},
            ],
            "urgency-suggestion": "urgent",
            "urgency-suggestion-metadata": {"type": "model", "score": 0.9, "agent": "triage-model"},
            "metadata": json.dumps({"source": "triage-line"}),
        },
    ],
    ids=["argilla-2-hub", "argilla-1-hub"],
)
def test_the_hugging_face_form_of_an_argilla_dataset_imports_with_its_labels(env, row):
    manager = env.user(Role.MANAGER)
    project = env.project(manager, task_type="label", config=LABELS)
    ndjson = json.dumps(row) + "\n" + json.dumps({**row, "id": "r-2", "external_id": "r-2"})
    target = get_project(env.db, actor=manager, project_id=project)
    import_items(env.db, actor=manager, project_id=project, records=foreign_records(ndjson, source="argilla", project=target), origin="argilla")
    answers = [a for a in _answers(env, project) if a[0] == "r-1"]
    assert answers == [
        ("r-1", "argilla:u-1", {"label": "urgent"}, 0),
        ("r-1", "argilla:u-2", {"label": "routine"}, 0),
    ]
    assert _items(env, project)["r-1"]["payload"] == {"text": "Chest pain for 20 minutes"}
    assert ("r-1", "triage-model", {"label": "urgent"}, 0.9) in _suggestions(env, project)


@pytest.mark.parametrize("tool", ["label-studio", "argilla"])
def test_a_round_trip_through_the_other_tool_keeps_every_label(env, tool):
    manager = env.user(Role.MANAGER)
    first = env.project(manager, task_type="label", config=LABELS)
    source = LS_LABELS if tool == "label-studio" else ARGILLA
    _import(env, manager, first, source, tool)
    exported = list(export_to_tool(env.db, actor=manager, project_id=first, tool=tool))
    second = env.project(manager, task_type="label", config=LABELS)
    _import(env, manager, second, exported, tool)
    assert _answers(env, second) == _answers(env, first)
    assert _suggestions(env, second) == _suggestions(env, first)
    assert {k: (v["payload"], v["gold"], v["meta"]) for k, v in _items(env, second).items()} == {
        k: (v["payload"], v["gold"], v["meta"]) for k, v in _items(env, first).items()
    }


def test_a_pairwise_round_trip_through_label_studio_writes_its_pairwise_template(env):
    manager = env.user(Role.MANAGER)
    project = env.project(manager)
    _import(env, manager, project, LS_PAIRWISE, "label-studio")
    tasks = list(export_to_tool(env.db, actor=manager, project_id=project, tool="label-studio"))
    first = next(task for task in tasks if task["data"]["external_id"] == "11")
    assert first["data"]["answer1"] == "a1"
    assert [a["result"][0]["value"] for a in first["annotations"]] == [{"selected": "left"}, {"selected": "right"}]
    assert [a["completed_by"] for a in first["annotations"]] == ["7", "8"]
    assert first["predictions"][0]["model_version"] == "judge-v1"


def test_live_answers_export_under_the_workers_usernames(env, answer):
    manager = env.user(Role.MANAGER)
    worker = env.user(Role.WORKER, "alice")
    project = env.project(manager, task_type="label", config=LABELS, members=[worker])
    env.items(manager, project, [{"external_id": "x", "payload": {"text": "Fever"}}])
    client = env.client(worker)
    body = client.post(f"/api/v1/projects/{project}/assignments/next").json()
    assert client.post(f"/api/v1/assignments/{body['assignment_id']}/answer", json={"answer": {"label": "routine"}}).status_code == 201
    records = list(export_to_tool(env.db, actor=manager, project_id=project, tool="argilla"))
    assert records[0]["responses"] == {"label": [{"value": "routine", "user_id": "alice", "status": "submitted"}]}


def test_a_bad_label_is_reported_by_line_and_field_and_nothing_is_stored(env):
    manager = env.user(Role.MANAGER)
    project = env.project(manager, task_type="label", config=LABELS)
    bad = json.loads(json.dumps(LS_LABELS))
    bad[0]["annotations"][1]["result"][0]["value"]["choices"] = ["not-a-label"]
    with pytest.raises(ImportFailed) as caught:
        _import(env, manager, project, bad, "label-studio")
    errors = caught.value.details["errors"]
    assert errors[0]["line"] == 1
    assert errors[0]["field"].startswith("answers.1.value")
    assert _items(env, project) == {}
    with env.db.read() as conn:
        assert conn.execute(select(t.User).where(t.User.username.like("label-studio:%"))).first() is None


def test_an_unreadable_label_studio_result_type_is_named(env):
    manager = env.user(Role.MANAGER)
    project = env.project(manager, task_type="label", config=LABELS)
    bad = json.loads(json.dumps(LS_LABELS))
    bad[0]["annotations"][0]["result"][0]["type"] = "polygonlabels"
    with pytest.raises(ImportFailed) as caught:
        _import(env, manager, project, bad, "label-studio")
    assert "'polygonlabels' is not imported" in caught.value.details["errors"][0]["message"]


def test_two_answers_by_one_annotator_on_an_item_are_refused(env):
    manager = env.user(Role.MANAGER)
    project = env.project(manager, task_type="label", config=LABELS)
    item = {"external_id": "x", "payload": {"text": "Fever"}, "answers": [{"annotator": "7", "value": {"label": "urgent"}}, {"annotator": "7", "value": {"label": "routine"}}]}
    with pytest.raises(ImportFailed) as caught:
        env.items(manager, project, [item])
    assert caught.value.details["errors"][0]["field"] == "answers.1.annotator"


def test_json_items_may_bring_answers_and_need_an_external_id_to_do_so(env):
    manager = env.user(Role.MANAGER)
    project = env.project(manager, task_type="label", config=LABELS)
    with pytest.raises(ImportFailed) as caught:
        env.items(manager, project, [{"payload": {"text": "Fever"}, "answers": [{"annotator": "7", "value": {"label": "urgent"}}]}])
    assert caught.value.details["errors"][0]["field"] == "external_id"
    env.items(manager, project, [{"external_id": "x", "payload": {"text": "Fever"}, "answers": [{"annotator": "7", "value": {"label": "urgent"}}]}])
    assert _answers(env, project) == [("x", "import:7", {"label": "urgent"}, 0)]


def test_the_api_imports_and_exports_for_other_tools(env):
    manager = env.user(Role.MANAGER)
    worker = env.user(Role.WORKER)
    project = env.project(manager, task_type="label", config=LABELS, members=[worker])
    client = env.client(manager)
    response = client.post(f"/api/v1/projects/{project}/items", params={"source": "label-studio"}, content=json.dumps(LS_LABELS))
    assert response.status_code == 201, response.text
    exported = client.get(f"/api/v1/projects/{project}/interchange/label-studio")
    assert exported.status_code == 200
    assert [a.get("ground_truth", False) for a in exported.json()[0]["annotations"]] == [False, False, True]
    assert client.get(f"/api/v1/projects/{project}/interchange/prodigy").status_code == 422
    assert env.client(worker).get(f"/api/v1/projects/{project}/interchange/argilla").status_code == 403
    response = client.post(f"/api/v1/projects/{project}/items", params={"source": "prodigy"}, content="[]")
    assert response.status_code == 422


def test_the_cli_tells_json_from_ndjson_by_content_and_exports_to_a_tool(env, tmp_path: Path, monkeypatch):
    manager = env.user(Role.MANAGER)
    project = env.project(manager, task_type="label", config=LABELS)
    monkeypatch.setenv("EXPERTLOOP_DATABASE_URL", env.backend.url)
    array = tmp_path / "items.jsonl"  # a JSON array, whatever the name says
    array.write_text(json.dumps([{"external_id": "a", "payload": {"text": "Fever"}}], indent=2))
    lines = tmp_path / "items.json"  # one object per line, whatever the name says
    lines.write_text(json.dumps({"external_id": "b", "payload": {"text": "Rash"}}) + "\n")
    for file in (array, lines):
        result = CliRunner().invoke(app, ["items", "import", str(file), "--project", str(project), "--as", manager.username])
        assert result.exit_code == 0, result.output
    ls = tmp_path / "ls.json"
    ls.write_text(json.dumps(LS_LABELS))
    result = CliRunner().invoke(app, ["items", "import", str(ls), "--project", str(project), "--from", "label-studio", "--as", manager.username])
    assert result.exit_code == 0, result.output
    out = tmp_path / "back.json"
    result = CliRunner().invoke(app, ["items", "export", "--project", str(project), "--to", "argilla", "-o", str(out), "--as", manager.username])
    assert result.exit_code == 0, result.output
    records = json.loads(out.read_text())
    assert sorted(r["id"] for r in records) == ["21", "a", "b"]
    result = CliRunner().invoke(app, ["items", "export", "--project", str(project), "--to", "prodigy", "--as", manager.username])
    assert result.exit_code != 0
    assert "label-studio, argilla" in result.output


def test_imported_answers_count_in_consensus_and_training_exports(env):
    manager = env.user(Role.MANAGER)
    project = env.project(manager, answers_per_item=2)
    agree = json.loads(json.dumps(LS_PAIRWISE[0]))
    agree["annotations"][1]["result"][0]["value"]["selected"] = "left"
    _import(env, manager, project, [agree], "label-studio")
    client = env.client(manager)
    rows = client.get(f"/api/v1/projects/{project}/exports/preference", params={"standard": True})
    assert rows.status_code == 200, rows.text
    (row,) = [json.loads(line) for line in rows.text.splitlines()]
    assert (row["chosen"], row["rejected"]) == ("a1", "b1")
    raw = client.get(f"/api/v1/projects/{project}/exports/raw")
    assert raw.status_code == 200, raw.text
    answers = [json.loads(line) for line in raw.text.splitlines()]
    assert sorted(json.loads(a["answer"])["choice"] for a in answers) == ["A", "A"]
    assert len({a["worker"] for a in answers}) == 2
