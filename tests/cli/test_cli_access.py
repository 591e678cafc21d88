"""``expertloop user suspend/reactivate`` and ``expertloop audit list``."""

from __future__ import annotations

import json

from cli_helpers import cli  # noqa: F401 - a fixture

from db_fixtures import PASSWORD, Env
from expertloop.domain import Role
from expertloop.errors import NotAuthenticated
from expertloop.services.auth import issue_token


def test_the_operator_suspends_and_reactivates_an_account_by_name(cli, env: Env) -> None:  # type: ignore[no-untyped-def]
    worker = env.user(Role.WORKER, username="wren")
    suspended = cli("user", "suspend", "wren")
    assert suspended.exit_code == 0, suspended.output
    assert json.loads(suspended.stdout) == {"id": worker.id, "username": "wren", "is_active": False}
    try:
        issue_token(env.db, username="wren", password=PASSWORD)
    except NotAuthenticated:
        pass
    else:
        raise AssertionError("a suspended account signed in")
    assert cli("user", "reactivate", str(worker.id)).exit_code == 0
    assert issue_token(env.db, username="wren", password=PASSWORD).startswith("el_")
    missing = cli("user", "suspend", "nobody")
    assert missing.exit_code == 1
    assert "no user" in missing.stderr


def test_audit_list_prints_events_as_json_lines_and_pages_with_after(cli, env: Env) -> None:  # type: ignore[no-untyped-def]
    env.user(Role.WORKER, username="wren")
    assert (
        cli("user", "create", "root", "--role", "admin", "--password", "long-enough").exit_code == 0
    )
    cli("user", "suspend", "wren")
    cli("user", "reactivate", "wren")
    listed = cli("audit", "list")
    assert listed.exit_code == 0, listed.output
    events = [json.loads(line) for line in listed.stdout.splitlines()]
    assert [e["action"] for e in events] == ["user.created", "user.suspended", "user.reactivated"]
    assert events[1]["before"] == {"is_active": True}
    assert events[1]["after"] == {"is_active": False}
    assert events[1]["actor_id"] is None  # the operator at the command line
    page = cli("audit", "list", "--after", str(events[0]["id"]), "--limit", "1")
    assert [json.loads(line)["action"] for line in page.stdout.splitlines()] == ["user.suspended"]
    only = cli("audit", "list", "--action", "user.reactivated")
    assert len(only.stdout.splitlines()) == 1
