"""Running the HTTP server: one process, or several that share the port evenly.

With ``processes > 1`` uvicorn would bind one listening socket and share it: whichever
process wakes first accepts every connection waiting, so a burst of clients (a workforce
starting its shift, everyone reconnecting after a restart) can land two to one on one
process and keep that imbalance for as long as the keep-alive connections live. Here each
process listens on a socket of its own with ``SO_REUSEPORT``, and the kernel spreads new
connections across them by a hash of the client's address and port. A small supervisor
starts the processes, restarts one that dies, and stops them all on SIGINT or SIGTERM.
"""

from __future__ import annotations

import ctypes
import logging
import multiprocessing
import os
import signal
import socket
import sys
import threading
from dataclasses import dataclass
from multiprocessing.process import BaseProcess
from types import FrameType

import uvicorn

__all__ = ["ServerOptions", "run_server"]

log = logging.getLogger("expertloop.server")

APP = "expertloop.app:create_app"
# uvicorn's exit code when a server cannot start (for example, the port is taken).
_STARTUP_FAILURE = 3


@dataclass(frozen=True)
class ServerOptions:
    host: str
    port: int
    processes: int = 1
    log_level: str = "info"
    access_log: bool = False

    def uvicorn_config(self) -> uvicorn.Config:
        return uvicorn.Config(
            APP,
            factory=True,
            host=self.host,
            port=self.port,
            log_level=self.log_level,
            access_log=self.access_log,
            timeout_graceful_shutdown=5,
        )


def run_server(options: ServerOptions) -> int:
    """Serve until interrupted; the exit status (non-zero if the server could not start)."""
    if options.processes == 1:
        server = uvicorn.Server(options.uvicorn_config())
        server.run()
        return 0 if server.started else _STARTUP_FAILURE
    return _Supervisor(options).run()


def _bound_socket(host: str, port: int, *, reuse_port: bool) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    return sock


def _serve_one_process(options: ServerOptions) -> None:
    """A server process: its own socket in the port's ``SO_REUSEPORT`` group.

    The socket is only bound here; uvicorn starts listening on it once the app has started,
    so the kernel sends no connection to a process that is not ready to serve it.
    """
    _exit_with_parent()
    try:
        sock = _bound_socket(options.host, options.port, reuse_port=True)
    except OSError as exc:
        print(f"cannot listen on {options.host}:{options.port}: {exc}", file=sys.stderr)
        sys.exit(_STARTUP_FAILURE)
    server = uvicorn.Server(options.uvicorn_config())
    server.run(sockets=[sock])
    if not server.started:
        sys.exit(_STARTUP_FAILURE)


def _exit_with_parent() -> None:
    """Have the kernel stop this process (SIGTERM) if the supervisor dies, even by SIGKILL,
    so no orphaned server keeps the port (Linux; elsewhere a no-op)."""
    if not sys.platform.startswith("linux"):
        return
    parent = os.getppid()
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent:  # the parent died before the request took effect
        os.kill(os.getpid(), signal.SIGTERM)


_PR_SET_PDEATHSIG = 1


class _Supervisor:
    def __init__(self, options: ServerOptions) -> None:
        self.options = options
        self.context = multiprocessing.get_context("spawn")
        self.stopping = threading.Event()

    def run(self) -> int:
        try:
            # Refuse a port that anything listens on already: a socket without
            # SO_REUSEPORT cannot bind beside one, so this also finds another expertloop.
            probe = _bound_socket(self.options.host, self.options.port, reuse_port=False)
            probe.listen()
            probe.close()
        except OSError as exc:
            print(
                f"cannot listen on {self.options.host}:{self.options.port}: {exc}",
                file=sys.stderr,
            )
            return _STARTUP_FAILURE
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, self._on_signal)
        children = [self._start() for _ in range(self.options.processes)]
        print(
            f"expertloop: {len(children)} server processes on "
            f"http://{self.options.host}:{self.options.port} (pids "
            + " ".join(str(c.pid) for c in children)
            + ")",
            file=sys.stderr,
        )
        status = 0
        while not self.stopping.wait(0.5):
            for index, child in enumerate(children):
                if child.is_alive() or self.stopping.is_set():
                    continue
                if child.exitcode == _STARTUP_FAILURE:
                    status = _STARTUP_FAILURE
                    self.stopping.set()
                    break
                print(
                    f"expertloop: server process {child.pid} exited ({child.exitcode}); "
                    "starting another",
                    file=sys.stderr,
                )
                children[index] = self._start()
        self._stop(children)
        return status

    def _start(self) -> BaseProcess:
        child = self.context.Process(target=_serve_one_process, args=(self.options,))
        child.start()
        return child

    def _on_signal(self, _signum: int, _frame: FrameType | None) -> None:
        self.stopping.set()

    @staticmethod
    def _stop(children: list[BaseProcess]) -> None:
        for child in children:
            if child.is_alive():
                child.terminate()  # SIGTERM: uvicorn finishes the requests in flight
        for child in children:
            child.join(timeout=10)
            if child.is_alive():
                child.kill()
                child.join()
