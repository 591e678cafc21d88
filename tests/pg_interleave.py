"""Two real transactions interleaved deterministically on PostgreSQL.

A test holds a first change open in :meth:`Database.transaction`, starts the second call in
a thread (:class:`Behind`), waits until PostgreSQL reports that thread's connection waiting
for the first transaction's backend (or the call is over), then commits the first: the same
order on every run, whichever order the threads' statements would otherwise run in."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import text

from db_fixtures import Env

__all__ = ["Behind", "backend_pid"]


class Behind:
    """A call run in its own thread (its own connection and transaction)."""

    def __init__(self, call: Callable[[], Any]) -> None:
        self.result: Any = None
        self.error: BaseException | None = None
        self._call = call
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            self.result = self._call()
        except BaseException as exc:  # reported to the test
            self.error = exc

    def start_behind(self, env: Env, first: int) -> None:
        """Start, and return once the call waits for the transaction of backend ``first``
        (or has ended without waiting)."""
        self._thread.start()
        deadline = time.monotonic() + 20
        while self._thread.is_alive() and time.monotonic() < deadline:
            with env.db.read() as conn:
                waiting = conn.execute(
                    text("SELECT count(*) FROM pg_stat_activity"
                         " WHERE :first = ANY(pg_blocking_pids(pid))"),
                    {"first": first},
                ).scalar_one()
            if waiting:
                return
            time.sleep(0.02)

    def join(self) -> None:
        self._thread.join(timeout=20)
        assert not self._thread.is_alive(), "the second call never finished"


def backend_pid(conn: Any) -> int:
    """The PostgreSQL backend of ``conn`` (what :meth:`Behind.start_behind` waits on)."""
    return int(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())
