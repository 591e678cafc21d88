"""Pooled PostgreSQL connections the server dropped are replaced, not used: no 5xx."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import create_engine, text

from db_fixtures import Env, pairwise_item
from expertloop.domain import Role


def _drop_every_connection(env: Env) -> int:
    """What a database restart does to the server's pooled connections."""
    engine = create_engine(env.backend.url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            return int(
                conn.execute(
                    text(
                        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                        "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                    )
                ).scalar_one()
            )
    finally:
        engine.dispose()


def test_requests_after_the_database_dropped_the_pooled_connections_all_succeed(
    env: Env,
) -> None:
    if env.db.is_sqlite:
        pytest.skip("SQLite has no server to drop connections")
    manager = env.user(Role.MANAGER)
    workers = [env.user() for _ in range(8)]
    project = env.project(manager, members=workers, answers_per_item=8)
    env.items(manager, project, [pairwise_item(n) for n in range(4)])
    admin = env.client(manager)
    clients = [env.client(w) for w in workers]

    def round_trip(client_index: int) -> list[int]:
        client = clients[client_index]
        listed = admin.get(f"/api/v1/projects/{project}")
        lease = client.post(f"/api/v1/projects/{project}/assignments/next")
        return [listed.status_code, lease.status_code]

    with ThreadPoolExecutor(8) as pool:
        # Fill both pools (the threads' and the event loop's) with connections...
        assert all(s < 300 for r in pool.map(round_trip, range(8)) for s in r)
        assert _drop_every_connection(env) >= 1
        time.sleep(0.1)  # the terminations reach the sockets
        # ...which the database has now dropped: every request still succeeds.
        statuses = [s for r in pool.map(round_trip, range(8)) for s in r]
    assert len(statuses) == 16
    assert all(s < 300 for s in statuses), statuses
