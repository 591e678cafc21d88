"""The ``expertloop`` command line against real databases."""

from __future__ import annotations

import json
from pathlib import Path

from cli_helpers import cli  # noqa: F401 - a fixture

from db_fixtures import Env, pairwise_item
from expertloop.domain import Role


def test_db_upgrade_reports_the_revision(cli) -> None:  # type: ignore[no-untyped-def]
    from expertloop.store.migrate import head_revision

    result = cli("db", "upgrade")
    assert result.exit_code == 0
    # The newest migration, whichever that is now (0002 added the review queue).
    assert head_revision() is not None
    assert f"database at revision {head_revision()}" in result.stderr


def test_user_create_takes_the_password_from_an_option_or_stdin(cli, env: Env) -> None:  # type: ignore[no-untyped-def]
    result = cli("user", "create", "root", "--role", "admin", "--password", "s3cret-pass")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["role"] == "admin"
    piped = cli("user", "create", "wren", "--role", "worker", input="another-pass\n")
    assert piped.exit_code == 0, piped.output
    duplicate = cli("user", "create", "root", "--role", "admin", "--password", "s3cret-pass")
    assert duplicate.exit_code == 1
    assert "a user named 'root' already exists" in duplicate.stderr
    bad_role = cli("user", "create", "x", "--role", "boss", "--password", "s3cret-pass")
    assert bad_role.exit_code == 2
    short = cli("user", "create", "y", "--role", "worker", "--password", "short")
    assert "at least 8 characters" in short.stderr


def test_project_create_validates_config_and_prints_the_project(cli, env: Env) -> None:  # type: ignore[no-untyped-def]
    env.user(Role.ADMIN)
    made = cli(
        "project",
        "create",
        "Spam",
        "--task-type",
        "label",
        "--config",
        '{"labels": ["spam", "ham"]}',
    )
    assert made.exit_code == 0, made.output
    assert json.loads(made.stdout)["task_type"] == "label"
    not_json = cli("project", "create", "X", "--task-type", "label", "--config", "{labels}")
    assert not_json.exit_code == 1
    assert "--config is not valid JSON" in not_json.stderr
    no_labels = cli("project", "create", "X", "--task-type", "label")
    assert "config.labels" in no_labels.stderr


def test_commands_that_act_need_an_admin_or_a_named_manager(cli, env: Env) -> None:  # type: ignore[no-untyped-def]
    result = cli("project", "create", "X", "--task-type", "pairwise")
    assert result.exit_code == 1
    assert "no admin account yet" in result.stderr
    env.user(Role.WORKER, username="wally")
    as_worker = cli("project", "create", "X", "--task-type", "pairwise", "--as", "wally")
    assert "only managers and admins can create projects" in as_worker.stderr
    assert (
        "no user named 'ghost'"
        in cli("project", "create", "X", "--task-type", "pairwise", "--as", "ghost").stderr
    )


def test_items_import_reads_jsonl_and_csv(cli, env: Env, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    manager = env.user(Role.MANAGER, username="mona")
    project = env.project(manager)
    jsonl = tmp_path / "items.jsonl"
    jsonl.write_text("\n".join(json.dumps(pairwise_item(n)) for n in range(25)) + "\n")
    result = cli("items", "import", str(jsonl), "--project", str(project), "--as", "mona")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"imported": 25, "project": project}

    csv_file = tmp_path / "items.csv"
    csv_file.write_text(
        "external_id,prompt,response_a,response_b,priority,gold\n"
        'c1,"Hi, there",Hello,Go away,2,"{""choice"": ""A""}"\n'
        'c2,"[{""role"": ""user"", ""content"": ""hi""}]",a,b,,\n'
    )
    result = cli("items", "import", str(csv_file), "--project", str(project), "--as", "mona")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["imported"] == 2


def test_a_bad_import_line_is_named_and_nothing_is_imported(cli, env: Env, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    manager = env.user(Role.MANAGER, username="mona")
    project = env.project(manager)
    lines = [json.dumps(pairwise_item(n)) for n in range(5)]
    lines[3] = json.dumps({"payload": {"prompt": "q", "response_a": "a", "response_b": 7}})
    path = tmp_path / "broken.jsonl"
    path.write_text("\n".join(lines))
    result = cli("items", "import", str(path), "--project", str(project), "--as", "mona")
    assert result.exit_code == 1
    assert f"{path}: line 4, field payload.response_b" in " ".join(result.stderr.split())
    assert "line 4: payload.response_b: Input should be a valid string" in result.stderr
    progress = env.client(manager).get(f"/api/v1/projects/{project}/progress").json()
    assert progress["items"] == 0

    bad_csv = tmp_path / "bad.csv"
    bad_csv.write_text("prompt,response_a,response_b,priority\nq,a,b,high\n")
    result = cli("items", "import", str(bad_csv), "--project", str(project), "--as", "mona")
    assert "line 2: priority: 'high' is not an integer" in result.stderr


def test_answers_export_writes_ndjson(cli, env: Env, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    manager, worker = env.user(Role.MANAGER, username="mona"), env.user()
    project = env.project(manager, members=[worker])
    env.items(manager, project, [pairwise_item(1)])
    client = env.client(worker)
    lease = client.post(f"/api/v1/projects/{project}/assignments/next").json()
    client.post(
        f"/api/v1/assignments/{lease['assignment_id']}/answer", json={"answer": {"choice": "A"}}
    )
    out = tmp_path / "answers.ndjson"
    result = cli("answers", "export", "--project", str(project), "--as", "mona", "-o", str(out))
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["item_id"] for r in rows] == [lease["item"]["id"]]
    assert "exported 1 answers" in result.stderr
    hidden = cli("answers", "export", "--project", "999999", "--as", "mona")
    assert "project 999999 not found" in hidden.stderr


def test_bad_configuration_is_reported_with_the_variable_name(cli) -> None:  # type: ignore[no-untyped-def]
    result = cli("db", "upgrade", EXPERTLOOP_ENVIRONMENT="production")
    assert result.exit_code == 1
    assert "EXPERTLOOP_SECRET_KEY must be set" in result.stderr
    result = cli("db", "upgrade", EXPERTLOOP_LEASE_SWEEP_SECONDS="soon")
    assert "EXPERTLOOP_LEASE_SWEEP_SECONDS" in result.stderr


def test_project_add_members_and_list(cli, env: Env) -> None:  # type: ignore[no-untyped-def]
    manager = env.user(Role.MANAGER, username="mona")
    env.user(Role.WORKER, username="wes")
    project = env.project(manager)
    env.items(manager, project, [pairwise_item(1)])
    added = cli("project", "add-members", str(project), "wes", "--as", "mona")
    assert added.exit_code == 0, added.output
    listed = cli("project", "list", "--as", "wes")
    assert json.loads(listed.stdout) == {
        "id": project,
        "name": "test project",
        "task_type": "pairwise",
        "archived": False,
        "answers_per_item": 3,
        "items": 1,
        "items_complete": 0,
        "answers": 0,
    }
    unknown = cli("project", "add-members", str(project), "nobody", "--as", "mona")
    assert "no such users: nobody" in unknown.stderr


def test_project_archive_stops_handing_out_items_and_unarchive_restarts(cli, env: Env) -> None:  # type: ignore[no-untyped-def]
    from expertloop.services.assignments import next_assignment

    manager = env.user(Role.MANAGER, username="mara")
    worker = env.user(Role.WORKER)
    project = env.project(manager, members=[worker])
    env.items(manager, project, [pairwise_item(1)])
    archived = cli("project", "archive", str(project), "--as", "mara")
    assert archived.exit_code == 0, archived.output
    assert json.loads(archived.stdout)["archived"] is True
    assert json.loads(cli("project", "list", "--as", "mara").stdout)["archived"] is True
    assert next_assignment(env.db, actor=worker, project_id=project) is None
    assert cli("project", "unarchive", str(project), "--as", "mara").exit_code == 0
    assert next_assignment(env.db, actor=worker, project_id=project) is not None
    refused = cli("project", "archive", str(project), "--as", worker.username)
    assert refused.exit_code == 1
    assert "only the project's managers" in refused.stderr
