"""``expertloop export --push-to-hub``, against a real HTTP server on 127.0.0.1 that speaks
the parts of the Hub's API that ``huggingface_hub`` uses to upload a dataset: create the
repository, validate the card's YAML, preupload, commit. It checks the token and the card,
stores what a commit sends, and can be told to fail."""

from __future__ import annotations

import base64
import io
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pyarrow.parquet as pq
import pytest
import yaml
from export_helpers import answer  # noqa: F401 - a fixture
from format_projects import pairwise_project
from typer.testing import CliRunner

from expertloop.cli.main import app

TOKEN = "hf_test_token"


@dataclass
class HubState:
    token: str = TOKEN
    fail_commit: int | None = None  # answer commits with this status
    repos: dict[str, dict[str, Any]] = field(default_factory=dict)
    files: dict[str, dict[str, bytes]] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)


class _Handler(BaseHTTPRequestHandler):
    state: HubState

    def log_message(self, *args: Any) -> None:  # keep the test output clean
        pass

    def _send(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _authorised(self) -> bool:
        if self.headers.get("Authorization") == f"Bearer {self.state.token}":
            return True
        self._body()
        self._send(401, {"error": "Invalid credentials in Authorization header"})
        return False

    def do_GET(self) -> None:
        self.state.calls.append(f"GET {self.path}")
        if not self._authorised():
            return
        self._send(404, {"error": "Repository not found"})

    def do_POST(self) -> None:
        path = self.path.split("?")[0]
        self.state.calls.append(f"POST {path}")
        if not self._authorised():
            return
        body = self._body()
        if path == "/api/repos/create":
            request = json.loads(body)
            repo = f"{request['organization']}/{request['name']}"
            if request.get("type") != "dataset":
                self._send(400, {"error": "expected a dataset repository"})
                return
            self.state.repos[repo] = request
            self.state.files.setdefault(repo, {})
            host = f"http://{self.headers['Host']}"
            self._send(200, {"url": f"{host}/datasets/{repo}", "name": repo, "id": "1"})
        elif path == "/api/validate-yaml":
            content = json.loads(body)["content"]
            try:
                yaml.safe_load(content.split("---")[1])
            except yaml.YAMLError as exc:
                self._send(400, {"errors": [{"message": str(exc)}]})
                return
            self._send(200, {"errors": [], "warnings": []})
        elif path.startswith("/api/datasets/") and "/preupload/" in path:
            files = json.loads(body)["files"]
            self._send(200, {"files": [
                {"path": f["path"], "uploadMode": "regular", "shouldIgnore": False, "oid": None}
                for f in files
            ]})
        elif path.startswith("/api/datasets/") and "/commit/" in path:
            repo = path.removeprefix("/api/datasets/").split("/commit/")[0]
            if self.state.fail_commit is not None:
                self._send(self.state.fail_commit, {"error": "Internal Error - We're working hard to fix this"})
                return
            if repo not in self.state.repos:
                self._send(404, {"error": "Repository not found"})
                return
            lines = [json.loads(line) for line in body.splitlines() if line.strip()]
            assert lines[0]["key"] == "header"
            for line in lines[1:]:
                value = line["value"]
                assert line["key"] == "file"
                assert value["encoding"] == "base64"
                self.state.files[repo][value["path"]] = base64.b64decode(value["content"])
            host = f"http://{self.headers['Host']}"
            self._send(200, {"commitUrl": f"{host}/datasets/{repo}/commit/abc123", "commitOid": "abc123"})
        else:
            self._send(404, {"error": f"no such endpoint {path}"})


@pytest.fixture
def hub() -> Iterator[tuple[str, HubState]]:
    state = HubState()
    handler = type("Handler", (_Handler,), {"state": state})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def _push(env: Any, monkeypatch: Any, url: str, manager: Any, project: int, *extra: str, token: str = TOKEN) -> Any:
    monkeypatch.setenv("EXPERTLOOP_DATABASE_URL", env.backend.url)
    monkeypatch.setenv("HF_ENDPOINT", url)
    monkeypatch.setenv("HF_TOKEN", token)
    return CliRunner().invoke(
        app, ["export", str(project), "preference", "--push-to-hub", "team/prefs", *extra, "--as", manager.username]
    )


def test_an_export_and_its_card_are_pushed_to_a_private_dataset_repository(env, answer, hub, monkeypatch):
    url, state = hub
    manager, project = pairwise_project(env, answer)
    result = _push(env, monkeypatch, url, manager, project, "--license", "cc-by-4.0")
    assert result.exit_code == 0, result.output
    assert state.repos["team/prefs"]["visibility"] == "private"
    files = state.files["team/prefs"]
    assert set(files) == {"README.md", "data/train-00000-of-00001.parquet"}
    table = pq.read_table(io.BytesIO(files["data/train-00000-of-00001.parquet"]))
    assert table.num_rows > 0
    assert table.schema.field("n_answers").type == "int64"
    card = files["README.md"].decode()
    meta = yaml.safe_load(card.split("---")[1])
    assert meta["configs"][0]["data_files"][0]["path"] == "data/train-*.parquet"
    assert meta["license"] == "cc-by-4.0"
    assert meta["expertloop"]["rows"] == table.num_rows
    assert "abc123" in result.output  # the commit's URL is in the summary
    posts = [c for c in state.calls if c.startswith("POST")]
    assert posts == ["POST /api/repos/create", "POST /api/validate-yaml",
                     "POST /api/datasets/team/prefs/preupload/main",
                     "POST /api/datasets/team/prefs/commit/main"]


def test_a_push_with_a_bad_token_fails_and_says_so(env, answer, hub, monkeypatch):
    url, state = hub
    manager, project = pairwise_project(env, answer)
    result = _push(env, monkeypatch, url, manager, project, token="hf_wrong")
    assert result.exit_code != 0
    assert "401" in result.output
    assert "HF_TOKEN" in result.output
    assert state.files == {}


def test_a_push_without_a_token_is_refused_before_exporting(env, answer, hub, monkeypatch):
    url, state = hub
    manager, project = pairwise_project(env, answer)
    result = _push(env, monkeypatch, url, manager, project, token="")
    assert result.exit_code != 0
    assert "HF_TOKEN" in result.output
    assert state.calls == []


def test_a_hub_that_fails_the_commit_fails_the_push(env, answer, hub, monkeypatch):
    url, state = hub
    state.fail_commit = 500
    manager, project = pairwise_project(env, answer)
    result = _push(env, monkeypatch, url, manager, project, "--public")
    assert result.exit_code != 0
    assert "500" in result.output
    assert state.repos["team/prefs"]["visibility"] == "public"
    assert state.files["team/prefs"] == {}
