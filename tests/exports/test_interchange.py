"""Moving over from Label Studio and Argilla: their files import as items, all or nothing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from export_helpers import answer  # noqa: F401 - a fixture
from typer.testing import CliRunner

from expertloop.cli.main import app
from expertloop.domain import Role
from expertloop.errors import ImportFailed
from expertloop.services.interchange import foreign_records
from expertloop.services.items import import_items

LABEL_STUDIO = [
    {"id": 11, "data": {"prompt": "Q1?", "response_a": "a1", "response_b": "b1"}, "annotations": []},
    {"id": 12, "data": {"prompt": "Q2?", "response_a": "a2", "response_b": "b2"}},
]
ARGILLA = [
    {"id": "r-1", "fields": {"prompt": "Q1?", "response_a": "a1", "response_b": "b1"}, "metadata": {"source": "x"}},
    {"external_id": "r-2", "fields": {"prompt": "Q2?", "response_a": "a2", "response_b": "b2"}},
]


def _import(env: Any, manager: Any, project: int, body: Any, source: str) -> int:
    return import_items(
        env.db, actor=manager, project_id=project, records=foreign_records(json.dumps(body), source=source)
    )


def test_label_studio_tasks_import_with_their_ids_as_external_ids(env):
    manager = env.user(Role.MANAGER)
    project = env.project(manager)
    assert _import(env, manager, project, LABEL_STUDIO, "label-studio") == 2
    client = env.client(manager)
    lines = client.get(f"/api/v1/projects/{project}/progress").json()
    assert lines["items"] == 2


def test_argilla_records_import_fields_as_payload_and_keep_metadata(env):
    manager = env.user(Role.MANAGER)
    project = env.project(manager)
    records = dict(foreign_records(json.dumps(ARGILLA), source="argilla"))
    assert records[1] == {"external_id": "r-1", "payload": {**ARGILLA[0]["fields"], "metadata": {"source": "x"}}}
    assert records[2]["external_id"] == "r-2"
    ndjson = "\n".join(json.dumps(r) for r in ARGILLA)
    assert import_items(env.db, actor=manager, project_id=project, records=foreign_records(ndjson, source="argilla")) == 2


def test_a_bad_label_studio_task_is_reported_by_number_and_field_and_nothing_imports(env):
    manager = env.user(Role.MANAGER)
    project = env.project(manager)
    bad = [LABEL_STUDIO[0], {"id": 13, "data": {"prompt": "Q3?", "response_a": "a3"}}, {"id": 14}]
    with pytest.raises(ImportFailed) as caught:
        _import(env, manager, project, bad, "label-studio")
    errors = caught.value.details["errors"]
    assert {"line": 2, "field": "payload.response_b", "message": "Field required"} in errors
    assert any(e["line"] == 3 and "field data" in e["message"] for e in errors)
    assert env.client(manager).get(f"/api/v1/projects/{project}/progress").json()["items"] == 0


def test_a_bad_argilla_record_is_reported_by_number_and_field(env):
    manager = env.user(Role.MANAGER)
    project = env.project(manager)
    with pytest.raises(ImportFailed) as caught:
        _import(env, manager, project, [ARGILLA[0], {"id": "r-9", "metadata": {}}], "argilla")
    assert caught.value.details["errors"][0]["line"] == 2
    assert "field fields" in caught.value.details["errors"][0]["message"]


def test_the_api_imports_label_studio_and_argilla_files(env):
    manager = env.user(Role.MANAGER)
    project = env.project(manager)
    client = env.client(manager)
    response = client.post(f"/api/v1/projects/{project}/items", params={"source": "label-studio"}, content=json.dumps(LABEL_STUDIO))
    assert response.status_code == 201, response.text
    other = env.project(manager)
    response = client.post(f"/api/v1/projects/{other}/items", params={"source": "argilla"}, content=json.dumps({"records": ARGILLA}))
    assert response.json() == {"count": 2}
    response = client.post(f"/api/v1/projects/{other}/items", params={"source": "prodigy"}, content="[]")
    assert response.status_code == 422


def test_the_cli_imports_from_label_studio(env, tmp_path: Path, monkeypatch):
    manager = env.user(Role.MANAGER)
    project = env.project(manager)
    monkeypatch.setenv("EXPERTLOOP_DATABASE_URL", env.backend.url)
    file = tmp_path / "ls.json"
    file.write_text(json.dumps(LABEL_STUDIO))
    result = CliRunner().invoke(app, ["items", "import", str(file), "--project", str(project), "--from", "label-studio", "--as", manager.username])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout.strip().splitlines()[-1]) == {"imported": 2, "project": project}
