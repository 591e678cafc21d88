"""Promise 1: an acknowledged answer survives the server being killed (SIGKILL) mid-load."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from db_fixtures import Env, backends, env, free_port, pairwise_item  # noqa: F401 (fixtures)
from expertloop.domain import Role


def _start_server(env: Env, data_dir: Path, port: int) -> subprocess.Popen[bytes]:
    environment = {
        **os.environ,
        "EXPERTLOOP_DATABASE_URL": env.backend.url,
        "EXPERTLOOP_DATA_DIR": str(data_dir),
        "EXPERTLOOP_LOG_LEVEL": "warning",
    }
    log = data_dir / "server.log"
    with log.open("ab") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "expertloop.cli.main", "serve", "--port", str(port)],
            env=environment,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 120  # start-up runs every migration; slow on a loaded machine
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return process
        except httpx.TransportError:
            time.sleep(0.05)
        if process.poll() is not None:
            raise RuntimeError(f"server exited: {log.read_text()}")
    process.kill()
    raise RuntimeError("server did not become healthy")


@pytest.mark.slow
def test_every_acknowledged_answer_survives_a_sigkill_of_the_server(
    env: Env, tmp_path: Path
) -> None:
    manager = env.user(Role.MANAGER)
    workers = [env.user() for _ in range(16)]
    project = env.project(manager, members=workers)
    env.items(manager, project, [pairwise_item(n) for n in range(2000)])
    port = free_port()
    server = _start_server(env, tmp_path, port)
    acknowledged: dict[int, int] = {}  # answer id -> assignment id
    lock = threading.Lock()
    stop = threading.Event()

    def work(token: str) -> None:
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=headers) as client:
            while not stop.is_set():
                try:
                    lease = client.post(f"/api/v1/projects/{project}/assignments/next")
                    if lease.status_code != 200:
                        return
                    assignment = lease.json()["assignment_id"]
                    answer = client.post(
                        f"/api/v1/assignments/{assignment}/answer",
                        json={"answer": {"choice": "A"}},
                    )
                except httpx.TransportError:
                    return  # the server is gone
                if answer.is_success:
                    with lock:
                        acknowledged[answer.json()["answer_id"]] = assignment

    threads = [
        threading.Thread(target=work, args=(env.token_for(w),), daemon=True) for w in workers
    ]
    try:
        for thread in threads:
            thread.start()
        # Kill mid-load: once answers are flowing (a busy machine may start slowly).
        deadline = time.monotonic() + 60
        while len(acknowledged) < 100 and time.monotonic() < deadline:
            time.sleep(0.01)
        server.send_signal(signal.SIGKILL)  # mid-load: requests are in flight
        server.wait(timeout=10)
        stop.set()
        for thread in threads:
            thread.join(timeout=10)
        assert len(acknowledged) >= 100, "the load did not get going before the kill"

        with env.db.read() as conn:
            stored = dict(conn.execute(text("SELECT id, assignment_id FROM answers")).all())
        missing = {a: s for a, s in acknowledged.items() if stored.get(a) != s}
        assert missing == {}

        # After a restart the loop carries on where it stopped.
        server = _start_server(env, tmp_path, port)
        client = httpx.Client(
            base_url=f"http://127.0.0.1:{port}",
            headers={"Authorization": f"Bearer {env.token_for(workers[0])}"},
            timeout=60,
        )
        lease = client.post(f"/api/v1/projects/{project}/assignments/next").json()
        answer = client.post(
            f"/api/v1/assignments/{lease['assignment_id']}/answer", json={"answer": {"choice": "B"}}
        )
        assert answer.status_code == 201
        client.close()
    finally:
        stop.set()
        if server.poll() is None:
            server.kill()
            server.wait(timeout=10)
