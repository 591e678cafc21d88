"""``serve --workers N``: N processes, each with its own socket on the port, supervised."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from db_fixtures import Env, free_port


def _serve(
    env: Env, data_dir: Path, port: int, workers: int, output: int = subprocess.DEVNULL
) -> subprocess.Popen[bytes]:
    environment = {
        **os.environ,
        "EXPERTLOOP_DATABASE_URL": env.backend.url,
        "EXPERTLOOP_DATA_DIR": str(data_dir),
        "EXPERTLOOP_LOG_LEVEL": "warning",
    }
    command = [sys.executable, "-m", "expertloop.cli.main", "serve"]
    command += ["--port", str(port), "--workers", str(workers)]
    return subprocess.Popen(command, env=environment, stdout=output, stderr=subprocess.STDOUT)


def _listeners(port: int) -> set[int]:
    """Pids of the processes with a listening socket on ``port``."""
    return {
        c.pid
        for c in psutil.net_connections(kind="tcp")
        if c.status == psutil.CONN_LISTEN and c.laddr and c.laddr.port == port and c.pid
    }


def _wait_for(condition: object, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if callable(condition) and condition():
            return
        time.sleep(0.1)
    raise AssertionError("timed out")


def _healthy(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200
    except httpx.TransportError:
        return False


@pytest.fixture
def two_processes(env: Env, tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    if env.db.is_sqlite:
        pytest.skip("SQLite serves one process")
    port = free_port()
    server = _serve(env, tmp_path, port, workers=2)
    try:
        _wait_for(lambda: len(_listeners(port)) == 2 and _healthy(port))
        yield server, port
    finally:
        if server.poll() is None:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=20)


def test_the_processes_stop_when_the_supervisor_is_killed(
    two_processes: tuple[subprocess.Popen[bytes], int],
) -> None:
    server, port = two_processes
    children = psutil.Process(server.pid).children()
    server.kill()
    server.wait(timeout=10)
    _, alive = psutil.wait_procs(children, timeout=20)
    assert not alive
    assert not _listeners(port)


def test_each_process_listens_on_its_own_socket_and_the_port_is_then_taken(
    two_processes: tuple[subprocess.Popen[bytes], int], env: Env, tmp_path: Path
) -> None:
    server, port = two_processes
    listeners = _listeners(port)
    assert server.pid not in listeners  # the supervisor only supervises
    clients = [socket.create_connection(("127.0.0.1", port)) for _ in range(40)]
    try:
        # The kernel spreads connections by a hash of the client's port: 40 connections all
        # on one of two sockets would be a 1-in-2^39 event.
        def both_serving() -> bool:
            serving = {
                c.pid
                for c in psutil.net_connections(kind="tcp")
                if c.status == psutil.CONN_ESTABLISHED and c.laddr and c.laddr.port == port
            }
            return serving == listeners

        _wait_for(both_serving, timeout=10)
    finally:
        for client in clients:
            client.close()
    second = _serve(env, tmp_path, port, workers=2, output=subprocess.PIPE)
    output, _ = second.communicate(timeout=30)
    assert second.returncode != 0
    assert f"cannot listen on 127.0.0.1:{port}" in output.decode()


def test_a_dead_process_is_replaced_and_sigterm_stops_them_all(
    two_processes: tuple[subprocess.Popen[bytes], int],
) -> None:
    server, port = two_processes
    victim, survivor = sorted(_listeners(port))
    os.kill(victim, signal.SIGKILL)
    _wait_for(lambda: len(_listeners(port)) == 2 and victim not in _listeners(port))
    assert survivor in _listeners(port)
    assert _healthy(port)
    children = psutil.Process(server.pid).children()
    server.send_signal(signal.SIGTERM)
    assert server.wait(timeout=20) == 0
    _, alive = psutil.wait_procs(children, timeout=10)
    assert not alive
    assert not _listeners(port)
