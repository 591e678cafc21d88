"""``update_llm_settings`` reads the settings it checks and keeps under the project's row
lock, in its write transaction: a change committed meanwhile is neither lost nor checked
against (PostgreSQL, two real transactions; SQLite's write transactions are exclusive from
their ``BEGIN IMMEDIATE``, so there is no meanwhile to interleave there).
The two transactions are interleaved deterministically by ``pg_interleave``."""

from __future__ import annotations

import pytest

from db_fixtures import Env
from expertloop.domain import Role, User
from expertloop.errors import InputInvalid
from expertloop.services import llm, redundancy
from pg_interleave import Behind, backend_pid

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


def test_two_concurrent_changes_of_different_settings_both_land(env: Env) -> None:
    manager, project = _adaptive_project(env)
    second = Behind(lambda: llm.update_llm_settings(
        env.db, actor=manager, project_id=project, triage=JUDGES,
    ))
    with env.db.transaction() as conn:
        llm.update_llm_settings(env.db, actor=manager, project_id=project, show_verdicts=True)
        second.start_behind(env, backend_pid(conn))
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
    second = Behind(lambda: llm.update_llm_settings(
        env.db, actor=manager, project_id=project, triage=JUDGES,
    ))
    with env.db.transaction() as conn:
        redundancy.remove_redundancy(env.db, actor=manager, project_id=project)
        second.start_behind(env, backend_pid(conn))
    second.join()
    # Triage needs adaptive redundancy, which the first change turned off: refused, where
    # a check before the lock would have let triage on without it.
    assert isinstance(second.error, InputInvalid), second.error
    assert second.error.details[0]["field"] == "triage"
    assert "turn adaptive redundancy on first" in second.error.message
    got = llm.get_llm_settings(env.db, actor=manager, project_id=project)
    assert (got.triage, got.audit_share) == (None, None)
