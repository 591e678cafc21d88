"""``Database.transaction``: several use cases commit together, or not at all."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from db_fixtures import Env
from expertloop.domain import Role
from expertloop.services import projects


def _count(env: Env, name: str) -> int:
    with env.db.read() as conn:
        return int(conn.execute(text("SELECT count(*) FROM projects WHERE name = :n"),
                                {"n": name}).scalar_one())


def test_writes_and_reads_inside_a_transaction_share_it_and_commit_together(env: Env) -> None:
    manager = env.user(Role.MANAGER)
    with env.db.transaction():
        first = projects.create_project(env.db, actor=manager, name="joined", task_type="pairwise")
        # A read inside sees the uncommitted project; a second use case writes beside it.
        assert projects.get_project(env.db, actor=manager, project_id=first.id).id == first.id
        projects.create_project(env.db, actor=manager, name="joined", task_type="pairwise")
    assert _count(env, "joined") == 2


def test_an_error_inside_a_transaction_leaves_nothing_of_any_use_case(env: Env) -> None:
    manager = env.user(Role.MANAGER)

    def two_projects_then_a_failure() -> None:
        with env.db.transaction():
            for _ in range(2):
                projects.create_project(
                    env.db, actor=manager, name="rolled back", task_type="pairwise"
                )
            raise RuntimeError("half-way")

    with pytest.raises(RuntimeError, match="half-way"):
        two_projects_then_a_failure()
    assert _count(env, "rolled back") == 0
    # The database is usable afterwards, and a transaction opened inside one joins it.
    with env.db.transaction(), env.db.transaction():
        projects.create_project(env.db, actor=manager, name="after", task_type="pairwise")
    assert _count(env, "after") == 1


def test_a_snapshot_read_sees_one_moment_across_its_statements(env: Env) -> None:
    manager = env.user(Role.MANAGER)
    query = text("SELECT count(*) FROM projects WHERE name = 'seen'")
    projects.create_project(env.db, actor=manager, name="seen", task_type="pairwise")
    with env.db.read(snapshot=True) as conn:
        before = conn.execute(query).scalar_one()
        projects.create_project(env.db, actor=manager, name="seen", task_type="pairwise")
        assert conn.execute(query).scalar_one() == before == 1
    if not env.db.is_sqlite:  # PostgreSQL's plain read sees each statement's moment
        with env.db.read() as conn:
            before = conn.execute(query).scalar_one()
            projects.create_project(env.db, actor=manager, name="seen", task_type="pairwise")
            assert conn.execute(query).scalar_one() == before + 1
