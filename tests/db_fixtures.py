"""The database fixtures: real databases (SQLite and PostgreSQL), real servers, factories.

A plugin for the test folders that need a database, not a conftest: their ``conftest.py``
imports its fixtures (``from db_fixtures import backends, clock, env``), so the pure tests
(quality, tasks, domain, scheduling rules) run without it and never create a database.
Test modules import the helpers (``Env``, ``PASSWORD``, ``pairwise_item``) from here.

Each backend gets one database per test run, migrated once, however many folders load
these fixtures. The ``env`` fixture is parametrised over the backends, so every test that
uses it runs on both; after each test every table is emptied, so tests are isolated from
each other.

Environment:
- ``EXPERTLOOP_TEST_DATABASES``: comma-separated backends to run (default
  ``sqlite,postgresql``).
- ``EXPERTLOOP_TEST_POSTGRES_URL``: a PostgreSQL URL whose user may create databases
  (default ``postgresql+psycopg://postgres:postgres@127.0.0.1:5432/postgres``).
"""

from __future__ import annotations

import os
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from expertloop.app import create_app
from expertloop.clock import FakeClock
from expertloop.domain import Role, User
from expertloop.services.auth import hash_password, hash_token
from expertloop.settings import Settings
from expertloop.store import Database, upgrade
from expertloop.store import tables as t
from expertloop.store import users as user_store
from expertloop.store.tables import Base

BACKENDS = [
    b.strip()
    for b in os.environ.get("EXPERTLOOP_TEST_DATABASES", "sqlite,postgresql").split(",")
    if b.strip()
]
POSTGRES_ADMIN_URL = os.environ.get(
    "EXPERTLOOP_TEST_POSTGRES_URL",
    "postgresql+psycopg://postgres:postgres@127.0.0.1:5432/postgres",
)
_FAST_PASSWORD_HASH = hash_password("password123")
PASSWORD = "password123"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Backend:
    """One migrated database of one kind for the whole run, with a server on demand."""

    name: str
    url: str
    tmp: Path
    database: Database
    _server: ServerThread | None = None

    def server(self) -> ServerThread:
        if self._server is None:
            settings = Settings(
                data_dir=self.tmp,
                database_url=self.url,
                lease_sweep_seconds=0.2,
                auth_cache_seconds=0,
                # The shared server runs the jobs its tests ask of it, not the periodic
                # consensus watcher or pruning, which would act on other tests' data;
                # their tests run them directly.
                job_kinds="leases.expire,export.dataset,consensus.refresh,items.import",
            )
            self._server = ServerThread(create_app(settings, database=self.database))
            self._server.start()
        return self._server

    def truncate(self) -> None:
        names = [t.name for t in reversed(Base.metadata.sorted_tables)]
        if self.database.is_sqlite:
            with self.database.write() as conn:
                for name in names:
                    conn.execute(text(f"DELETE FROM {name}"))
            return
        # TRUNCATE locks the tables one after another, while the shared test server's job
        # runner may still be finishing a test's job (an import, an export) that holds one
        # and waits for another: PostgreSQL then ends one of the two as a deadlock. When it
        # ends the TRUNCATE, the job has gone on and a second try finds the tables free.
        for attempt in range(5):
            try:
                with self.database.write() as conn:
                    conn.execute(text(f"TRUNCATE {', '.join(names)} RESTART IDENTITY CASCADE"))
                return
            except OperationalError as exc:
                if getattr(exc.orig, "sqlstate", None) != "40P01" or attempt == 4:
                    raise
                time.sleep(0.2 * (attempt + 1))


class ServerThread:
    """A real uvicorn server on a free port, in a thread of the test process."""

    def __init__(self, app: Any) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on"
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    def start(self) -> None:
        self._thread.start()
        deadline = time.monotonic() + 20
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("test server did not start")
            time.sleep(0.01)

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)


def _create_postgres_database(tmp: Path) -> tuple[str, str]:
    admin = make_url(POSTGRES_ADMIN_URL)
    name = f"expertloop_test_{os.getpid()}_{secrets.token_hex(3)}"
    engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        pytest.exit(
            f"PostgreSQL is not reachable at {POSTGRES_ADMIN_URL} ({exc}). Run the tests "
            "with ./run test (it starts PostgreSQL), or set EXPERTLOOP_TEST_DATABASES=sqlite.",
            returncode=3,
        )
    finally:
        engine.dispose()
    return name, admin.set(database=name).render_as_string(hide_password=False)


def _drop_postgres_database(name: str) -> None:
    engine = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


class _LazyBackends(dict[str, Backend]):
    """Creates a backend's database the first time a test asks for it."""

    def __init__(self, factory: pytest.TempPathFactory) -> None:
        super().__init__()
        self._factory = factory
        self.postgres_databases: list[str] = []

    def __missing__(self, name: str) -> Backend:
        tmp = self._factory.mktemp(name)
        if name == "sqlite":
            url = f"sqlite:///{tmp / 'test.db'}"
        elif name == "postgresql":
            db_name, url = _create_postgres_database(tmp)
            self.postgres_databases.append(db_name)
        else:
            raise ValueError(f"unknown test backend {name!r}")
        # Few connections: several test runs and spawned servers share one PostgreSQL.
        database = Database(url, pool_size=8)
        upgrade(database)
        backend = self[name] = Backend(name, url, tmp, database)
        return backend


class _Shared:
    """The run's backends, shared by every folder that loads these fixtures: each folder's
    conftest registers its own copy of the session fixture, and all of them hand out this
    one, so a run makes one database per backend. The last copy to finish drops them."""

    backends: _LazyBackends | None = None
    users = 0


@pytest.fixture(scope="session")
def backends(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Backend]]:
    """The test databases, created lazily and dropped at the end of the run."""
    if _Shared.backends is None:
        _Shared.backends = _LazyBackends(tmp_path_factory)
    _Shared.users += 1
    try:
        yield _Shared.backends
    finally:
        _Shared.users -= 1
        if _Shared.users == 0:
            lazy, _Shared.backends = _Shared.backends, None
            for backend in lazy.values():
                if backend._server is not None:
                    backend._server.stop()
                backend.database.dispose()
            for name in lazy.postgres_databases:
                _drop_postgres_database(name)


@dataclass
class Env:
    """What a test needs: the backend's database, its server, and factories."""

    backend: Backend
    clients: list[httpx.Client] = field(default_factory=list)

    @property
    def db(self) -> Database:
        return self.backend.database

    @property
    def url(self) -> str:
        return self.backend.server().url

    def user(self, role: Role | str = Role.WORKER, username: str | None = None) -> User:
        """A user whose password is ``PASSWORD`` (hashed once per run, to stay fast)."""
        with self.db.write() as conn:
            return user_store.create_user(
                conn,
                username=username or f"{Role(role).value}-{secrets.token_hex(4)}",
                password_hash=_FAST_PASSWORD_HASH,
                role=Role(role),
                now=self.db.clock.now(),
            )

    def token_for(self, user: User) -> str:
        token = "el_test_" + secrets.token_urlsafe(24)
        with self.db.write() as conn:
            user_store.insert_token(
                conn, user_id=user.id, token_hash=hash_token(token), name="test", now=self.db.clock.now()
            )
        return token

    def client(self, user: User | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.token_for(user)}"} if user else {}
        client = httpx.Client(base_url=self.url, headers=headers, timeout=30)
        self.clients.append(client)
        return client

    def project(
        self,
        manager: User,
        *,
        task_type: str = "pairwise",
        config: dict[str, Any] | None = None,
        members: list[User] = (),  # type: ignore[assignment]
        **options: Any,
    ) -> int:
        from expertloop.services import projects

        project = projects.create_project(
            self.db,
            actor=manager,
            name="test project",
            task_type=task_type,
            config=config,
            **options,
        )
        if members:
            projects.add_members(
                self.db, actor=manager, project_id=project.id, user_ids=[m.id for m in members]
            )
        return project.id

    def items(self, manager: User, project_id: int, records: list[dict[str, Any]]) -> int:
        from expertloop.services.items import import_items

        return import_items(
            self.db, actor=manager, project_id=project_id, records=enumerate(records, start=1)
        )


def audit_events(env: Env, project_id: int, action: str) -> int:
    """How many audit events of ``action`` the project has."""
    with env.db.read() as conn:
        return int(conn.execute(
            select(func.count()).select_from(t.AuditEvent).where(
                t.AuditEvent.project_id == project_id, t.AuditEvent.action == action
            )
        ).scalar_one())


def pairwise_item(n: int, **extra: Any) -> dict[str, Any]:
    return {
        "external_id": f"item-{n}",
        "payload": {"prompt": f"Question {n}?", "response_a": f"A{n}", "response_b": f"B{n}"},
        **extra,
    }


@pytest.fixture(params=BACKENDS)
def env(request: pytest.FixtureRequest, backends: dict[str, Backend]) -> Iterator[Env]:
    backend = backends[request.param]
    environment = Env(backend)
    try:
        yield environment
    finally:
        for client in environment.clients:
            client.close()
        backend.truncate()


@pytest.fixture
def clock(env: Env) -> Iterator[FakeClock]:
    """A clock that stands still until the test advances it, read by the services (and the
    test server, whose services read the same database) for the length of the test: a
    test waits for a lease or a cache to run out by ``clock.advance(seconds)``, not by
    sleeping."""
    fake = FakeClock()
    real = env.db.clock
    env.db.clock = fake
    try:
        yield fake
    finally:
        env.db.clock = real
