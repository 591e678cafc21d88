"""``update_project`` reads the project under its row lock: two concurrent edits run one
after the other (PostgreSQL, two real transactions interleaved by ``pg_interleave``; SQLite's
write transactions never interleave)."""

from __future__ import annotations

import pytest

from db_fixtures import Env
from expertloop.domain import Role
from expertloop.services import projects
from expertloop.store import projects as project_store
from pg_interleave import Behind, backend_pid


def test_two_concurrent_guidelines_edits_become_two_versions(env: Env) -> None:
    if env.db.is_sqlite:
        pytest.skip("SQLite's write transactions never interleave (BEGIN IMMEDIATE)")
    manager = env.user(Role.MANAGER)
    project = env.project(manager, task_type="label", config={"labels": ["x", "y"]})
    with env.db.read() as conn:
        start = project_store.project_for_user(conn, project, 0)
    assert start is not None
    second = Behind(lambda: projects.update_project(
        env.db, actor=manager, project_id=project, changes={"guidelines": "second"},
    ))
    with env.db.transaction() as conn:
        projects.update_project(
            env.db, actor=manager, project_id=project, changes={"guidelines": "first"}
        )
        second.start_behind(env, backend_pid(conn))
    second.join()
    # Read before the first committed, the second would add the same version number (the
    # table's key) and fail.
    assert second.error is None, second.error
    assert second.result.guidelines_version == start.guidelines_version + 2
    with env.db.read() as conn:
        texts = {v.version: v.text for v in project_store.guidelines_versions(conn, project)}
    assert texts[start.guidelines_version + 1] == "first"
    assert texts[start.guidelines_version + 2] == "second"
