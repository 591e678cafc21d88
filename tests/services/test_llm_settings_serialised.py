"""``update_llm_settings`` reads the settings it checks and keeps under the project's row
lock, in its write transaction: a change committed meanwhile is neither lost nor checked
against (PostgreSQL, two real transactions; SQLite's write transactions are exclusive from
their ``BEGIN IMMEDIATE``, so there is no meanwhile to interleave there).

Each test holds a first change open in :meth:`Database.transaction`, starts the second
call in a thread, waits until PostgreSQL reports that thread's connection waiting for the
first transaction (or the call is over), then commits the first: deterministic, whichever
order the threads' statements would otherwise run in."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import text

from db_fixtures import Env
from expertloop.domain import Role, User
from expertloop.errors import InputInvalid
from expertloop.services import llm, redundancy

JUDGES = {"judges": ["judge-x"]}


def _adaptive_project(env: Env) -> tuple[User, int]:
    if env.db.is_sqlite:
        pytest.skip("SQLite's write transactions never interleave (BEGIN IMMEDIATE)")
    manager = env.user(Role.MANAGER)
    project = env.project(manager, task_type="label", config={"labels": ["x", "y"]})
    llm.add_provider(env.db, actor=None, name="judge-x", base_url="http://127.0.0.1:9/v1",
                     model="m", max_retries=0)
    redundancy.set_redundancy(env.db, actor=manager, project_id=project, min_answers=1,
                              max_answers=4, target_confidence=0.9)
    return manager, project


class _Second:
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


def _backend(conn: Any) -> int:
    return int(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())


def test_two_concurrent_changes_of_different_settings_both_land(env: Env) -> None:
    manager, project = _adaptive_project(env)
    second = _Second(lambda: llm.update_llm_settings(
        env.db, actor=manager, project_id=project, triage=JUDGES,
    ))
    with env.db.transaction() as conn:
        llm.update_llm_settings(env.db, actor=manager, project_id=project, show_verdicts=True)
        second.start_behind(env, _backend(conn))
    second.join()
    assert second.error is None, second.error
    got = llm.get_llm_settings(env.db, actor=manager, project_id=project)
    # Read before the first committed, the second would write show_verdicts back to off.
    assert (got.show_verdicts, got.triage) == (True, JUDGES)
    assert second.result.show_verdicts is True


def test_triage_is_checked_against_adaptive_redundancy_as_committed_meanwhile(
    env: Env,
) -> None:
    manager, project = _adaptive_project(env)
    second = _Second(lambda: llm.update_llm_settings(
        env.db, actor=manager, project_id=project, triage=JUDGES,
    ))
    with env.db.transaction() as conn:
        redundancy.remove_redundancy(env.db, actor=manager, project_id=project)
        second.start_behind(env, _backend(conn))
    second.join()
    # Triage needs adaptive redundancy, which the first change turned off: refused, where
    # a check before the lock would have let triage on without it.
    assert isinstance(second.error, InputInvalid), second.error
    assert second.error.details[0]["field"] == "triage"
    assert "turn adaptive redundancy on first" in second.error.message
    got = llm.get_llm_settings(env.db, actor=manager, project_id=project)
    assert (got.triage, got.audit_share) == (None, None)
