"""``expertloop items show|disable|enable|delete`` against real databases."""

from __future__ import annotations

import json

from cli_helpers import cli  # noqa: F401 - a fixture

from conftest import Env, pairwise_item
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
