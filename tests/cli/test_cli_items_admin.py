"""``expertloop items show|disable|enable|delete`` against real databases."""

from __future__ import annotations

import json

from cli_helpers import cli  # noqa: F401 - a fixture

from db_fixtures import Env, pairwise_item
from expertloop.domain import Role
from expertloop.services import assignments


def test_a_manager_disables_enables_and_deletes_an_item_from_the_cli(cli, env: Env) -> None:  # type: ignore[no-untyped-def]
    manager, worker, other = env.user(Role.MANAGER, "mona"), env.user(), env.user()
    project = env.project(manager, members=[worker, other], answers_per_item=1)
    env.items(manager, project, [pairwise_item(1)])
    lease = assignments.next_assignment(env.db, actor=worker, project_id=project)
    assert lease is not None
    item = lease.item.id

    disabled = cli("items", "disable", str(item), "--reason", "duplicate", "--as", "mona")
    assert disabled.exit_code == 0, disabled.output
    state = json.loads(disabled.stdout)
    assert (state["status"], state["disabled_reason"]) == ("disabled", "duplicate")
    assert assignments.next_assignment(env.db, actor=other, project_id=project) is None

    shown = cli("items", "show", str(item), "--as", "mona")
    assert json.loads(shown.stdout)["status"] == "disabled"
    enabled = cli("items", "enable", str(item), "--as", "mona")
    assert json.loads(enabled.stdout)["status"] == "active"
    deleted = cli("items", "delete", str(item), "--as", "mona")
    assert json.loads(deleted.stdout)["status"] == "deleted"
    refused = cli("items", "enable", str(item), "--as", "mona")
    assert refused.exit_code == 1
    assert f"item {item} was deleted" in refused.stderr
    missing = cli("items", "show", "999999", "--as", "mona")
    assert missing.exit_code == 1
    assert "item 999999 not found" in missing.stderr


def test_an_import_file_with_invalid_utf8_or_poison_is_refused_by_line(  # type: ignore[no-untyped-def]
    cli, env: Env, tmp_path
) -> None:
    manager = env.user(Role.MANAGER, "mo")
    project = env.project(manager)
    csv_file = tmp_path / "items.csv"
    csv_file.write_bytes(b"prompt,response_a,response_b\nq,a,b\nq,caf\xe9,b\n")
    refused = cli("items", "import", str(csv_file), "--project", str(project), "--as", "mo")
    assert refused.exit_code == 1
    assert "line 3: invalid UTF-8" in refused.stderr
    jsonl = tmp_path / "items.jsonl"
    jsonl.write_text(
        '{"payload": {"prompt": "q", "response_a": "a", "response_b": "b", "n": NaN}}\n'
    )
    refused = cli("items", "import", str(jsonl), "--project", str(project), "--as", "mo")
    assert refused.exit_code == 1
    assert "line 1: payload.n: nan is not a finite number" in refused.stderr
    csv_file.write_bytes(b"prompt,response_a,response_b\nq,a,b\n")
    imported = cli("items", "import", str(csv_file), "--project", str(project), "--as", "mo")
    assert imported.exit_code == 0, imported.output
