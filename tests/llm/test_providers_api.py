"""``/api/v1/llm/providers`` through the SDK (``client.llm``) and the ``expertloop llm``
commands, against a real server, a real chat server and real databases."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from db_fixtures import Env
from expertloop.cli.main import app
from expertloop.client import Client, NotFound, PermissionDenied
from expertloop.client.errors import InvalidInput
from expertloop.domain import Role
from llm_server import ChatServer, Reply


@pytest.fixture
def cli(env: Env, tmp_path: Path) -> Any:
    """``cli(*args, input=None)`` runs one ``expertloop`` command in-process."""
    runner = CliRunner()
    variables = {"EXPERTLOOP_DATABASE_URL": env.backend.url, "EXPERTLOOP_DATA_DIR": str(tmp_path)}

    def invoke(*args: str, input: str | None = None) -> Any:
        return runner.invoke(app, list(args), input=input, env=variables)

    return invoke


def test_an_admin_configures_tests_changes_and_removes_a_provider(
    env: Env, chat_server: ChatServer
) -> None:
    admin = Client(env.url, env.token_for(env.user(Role.ADMIN)))
    try:
        added = admin.llm.add(
            "judge", chat_server.base_url, "test-model", params={"temperature": 0},
            api_key="sk-secret-123",
        )
        assert (added.name, added.model, added.key_source) == ("judge", "test-model", "stored")
        raw = admin._http.json("GET", "llm/providers/judge")
        assert "sk-secret-123" not in json.dumps(raw)
        assert "api_key" not in raw
        assert "api_key_encrypted" not in raw
        assert [p.name for p in admin.llm.list()] == ["judge"]

        result = admin.llm.test("judge")
        assert result.ok
        assert result.text == "echo: Reply with the single word: ok"
        assert chat_server.headers[-1]["authorization"] == "Bearer sk-secret-123"

        chat_server.script(*[Reply(status=500)] * 4)
        failed = admin.llm.test("judge")
        assert not failed.ok
        assert failed.error_code == "upstream_error"

        changed = admin.llm.update("judge", model="other", api_key_env="JUDGE_KEY")
        assert (changed.model, changed.key_source, changed.api_key_env) == (
            "other", "env", "JUDGE_KEY"
        )
        with pytest.raises(InvalidInput):
            admin.llm.add("judge 2", "ftp://x", "m")
        admin.llm.remove("judge")
        with pytest.raises(NotFound):
            admin.llm.get("judge")
    finally:
        admin.close()


def test_providers_are_for_admins_only(env: Env, chat_server: ChatServer) -> None:
    manager = Client(env.url, env.token_for(env.user(Role.MANAGER)))
    try:
        with pytest.raises(PermissionDenied):
            manager.llm.list()
        with pytest.raises(PermissionDenied):
            manager.llm.add("x", chat_server.base_url, "m")
    finally:
        manager.close()


def test_the_operator_adds_lists_tests_and_removes_providers(
    env: Env, cli: Any, chat_server: ChatServer
) -> None:
    added = cli(
        "llm", "add", "local", "--base-url", chat_server.base_url, "--model", "test-model",
        "--params", '{"temperature": 0}', "--api-key-stdin", input="sk-cli\n",
    )
    assert added.exit_code == 0, added.output
    assert json.loads(added.output)["key_source"] == "stored"
    listed = cli("llm", "list")
    assert [json.loads(line)["name"] for line in listed.output.splitlines()] == ["local"]
    assert "sk-cli" not in listed.output
    tested = cli("llm", "test", "local")
    assert tested.exit_code == 0, tested.output
    assert json.loads(tested.output)["ok"] is True
    assert chat_server.headers[-1]["authorization"] == "Bearer sk-cli"
    assert cli("llm", "add", "local", "--base-url", chat_server.base_url,
               "--model", "m").exit_code == 1
    assert cli("llm", "remove", "local").exit_code == 0
    gone = cli("llm", "test", "local")
    assert gone.exit_code == 1
    assert "no model provider named 'local'" in gone.output
