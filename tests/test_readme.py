"""The README's two set-up commands, exactly as a user types them."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from db_fixtures import free_port

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def _quick_start_commands() -> list[str]:
    section = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```sh\n(.*?)```", section, re.S)
    assert block is not None
    return [line.split("#", 1)[0].strip() for line in block.group(1).splitlines() if line.strip()]


def test_the_quick_start_has_exactly_a_demo_command_and_a_test_command() -> None:
    assert _quick_start_commands() == ["./run demo", "./run test"]
    assert (ROOT / ".ci" / "run").read_text().strip().endswith("./run test")


@pytest.mark.slow
def test_the_demo_command_serves_a_demo_project_a_worker_can_use(tmp_path: Path) -> None:
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("EXPERTLOOP_")},
        "EXPERTLOOP_DATA_DIR": str(tmp_path),
        "EXPERTLOOP_PORT": str(port),
    }
    log = tmp_path / "demo.log"
    with log.open("wb") as sink:
        server = subprocess.Popen(
            _quick_start_commands()[0].split(),
            cwd=ROOT,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    # httpx's default 5 s is too short on a busy CI machine (password hashing, the first
    # requests of a freshly started server).
    http = httpx.Client(base_url=base, timeout=60)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert server.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        printed = log.read_text()
        assert "alice" in printed
        assert "demo-alice" in printed
        token = http.post(
            "/api/v1/auth/token", json={"username": "alice", "password": "demo-alice"}
        ).json()["token"]
        headers = {"Authorization": f"Bearer {token}"}
        (project,) = http.get("/api/v1/projects", headers=headers).json()
        assert project["task_type"] == "pairwise"
        lease = http.post(
            f"/api/v1/projects/{project['id']}/assignments/next", headers=headers
        ).json()
        assert lease["item"]["payload"]["response_a"]
        progress = http.get(
            f"/api/v1/projects/{project['id']}/progress", headers=headers
        ).json()
        assert progress["items"] >= 30
        assert (tmp_path / "expertloop.db").exists()
    finally:
        http.close()
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=20)
