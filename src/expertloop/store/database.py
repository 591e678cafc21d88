"""Connections to SQLite or PostgreSQL, with the transaction discipline of each.

Callers use :meth:`Database.write` for anything that changes data and :meth:`Database.read`
for reads. On SQLite a write takes the database write lock up front (``BEGIN IMMEDIATE``),
serialised by a process-local lock so threads queue in Python instead of spinning in
SQLite's busy handler; reads run beside it thanks to WAL mode. On PostgreSQL both are plain
READ COMMITTED transactions and concurrency control is by row locks (see ``claims.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import select
import sqlite3
import threading
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import QueuePool
from sqlalchemy.util import greenlet_spawn

from expertloop.clock import SYSTEM_CLOCK, Clock

__all__ = ["Database"]

# The transaction a block opened with ``Database.transaction`` (per thread and task).
_CURRENT_TRANSACTION: ContextVar[tuple[Database, Connection] | None] = ContextVar(
    "expertloop_transaction", default=None
)

P = ParamSpec("P")
R = TypeVar("R")


class Database:
    engine: Engine
    read_engine: Engine
    _autocommit_engine: Engine
    _write_lock: threading.Lock | None
    _on_loop: Database | None
    _clock: Clock

    def __init__(
        self,
        url: str,
        *,
        pool_size: int = 20,
        sqlite_synchronous: str = "NORMAL",
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self._set_up(url, pool_size)
        self._clock = clock
        if self.dialect not in ("sqlite", "postgresql"):
            raise ValueError(f"unsupported database {self.dialect!r}: use sqlite or postgresql")
        if self.is_sqlite:
            self._write_lock = threading.Lock()
            self._prepare_sqlite_file()
            self.engine = _sqlite_engine(
                url, begin="BEGIN IMMEDIATE", sync=sqlite_synchronous, pool_size=pool_size
            )
            self.read_engine = _sqlite_engine(
                url, begin="BEGIN", sync=sqlite_synchronous, pool_size=pool_size
            )
        else:
            self.engine = self.read_engine = create_engine(url, **_postgres_pool(pool_size))
            _refuse_dropped_connections(self.engine)
            self._autocommit_engine = self.engine.execution_options(isolation_level="AUTOCOMMIT")
            self._on_loop = _EventLoopDatabase(url, pool_size)
            self._on_loop._clock = clock

    def _set_up(self, url: str, pool_size: int) -> None:
        self.url = make_url(url)
        self.dialect = self.url.get_backend_name()
        self._write_lock = None
        self._on_loop = None
        self._pool_size = pool_size
        self._slots_by_loop: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, asyncio.Semaphore
        ] = weakref.WeakKeyDictionary()

    @property
    def clock(self) -> Clock:
        """Where the services that take this database read the time: the app's clock (a
        test's :class:`~expertloop.clock.FakeClock` to move time without sleeping)."""
        return self._clock

    @clock.setter
    def clock(self, clock: Clock) -> None:
        self._clock = clock
        if self._on_loop is not None:
            self._on_loop._clock = clock

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    def _prepare_sqlite_file(self) -> None:
        database = self.url.database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A transaction that commits on success and rolls back on any exception (inside
        :meth:`transaction`: that transaction)."""
        joined = self._joined()
        if joined is not None:
            yield joined
            return
        with self._begin_write() as conn:
            yield conn

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """One transaction around several use cases: every :meth:`write`, :meth:`read` and
        :meth:`statements` of this database inside the block, in this thread or task, uses
        its connection, so they all commit together at the end or, on any exception, none
        does (creating a project with its settings: never a project without them)."""
        joined = self._joined()
        if joined is not None:
            yield joined
            return
        with self._begin_write() as conn:
            token = _CURRENT_TRANSACTION.set((self, conn))
            try:
                yield conn
            finally:
                _CURRENT_TRANSACTION.reset(token)

    def _joined(self) -> Connection | None:
        current = _CURRENT_TRANSACTION.get()
        return current[1] if current is not None and current[0] is self else None

    @contextmanager
    def _begin_write(self) -> Iterator[Connection]:
        if self._write_lock is None:
            with self.engine.begin() as conn:
                yield conn
            return
        with self._write_lock, self.engine.begin() as conn:
            yield conn

    @contextmanager
    def statements(self) -> Iterator[Connection]:
        """A connection for work where each statement is atomic on its own.

        On PostgreSQL every statement commits by itself (no BEGIN/COMMIT round trips): the
        hot paths use single statements that carry their whole change (see ``claims.py``,
        ``answers.py``). On SQLite, whose multi-statement equivalents need a transaction,
        this is :meth:`write`.
        """
        joined = self._joined()
        if joined is not None:
            yield joined
            return
        if self._write_lock is not None:
            with self.write() as conn:
                yield conn
            return
        with self._autocommit_engine.connect() as conn:
            yield conn

    @contextmanager
    def read(self, *, snapshot: bool = False) -> Iterator[Connection]:
        """A read-only transaction (rolled back at the end); inside :meth:`transaction`, that
        transaction, which sees its own writes.

        On PostgreSQL each statement sees what was committed when it started (READ
        COMMITTED); with ``snapshot`` every statement sees the same moment (REPEATABLE READ),
        for figures read by several statements that must agree (a statement's balances and
        its lines). SQLite's read transaction is one snapshot already.
        """
        joined = self._joined()
        if joined is not None:
            yield joined
            return
        with self.read_engine.connect() as conn:
            if snapshot and not self.is_sqlite:
                conn.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            yield conn
            conn.rollback()

    async def run(
        self, fn: Callable[Concatenate[Database, P], R], /, *args: P.args, **kwargs: P.kwargs
    ) -> R:
        """``fn(database, *args, **kwargs)`` from async code, without blocking the event loop.

        On PostgreSQL ``fn`` runs on the event loop itself, its statements awaiting the
        asyncio driver: no thread hand-offs, which on the annotator loop cost more CPU than
        the statements. On SQLite, whose calls block, it runs in a worker thread.
        """
        if self._on_loop is None:
            return await asyncio.to_thread(fn, self, *args, **kwargs)
        # Wait here, in arrival order, rather than in the pool, whose waiters can be
        # overtaken again and again by newer requests (a long tail of latency).
        async with self._loop_slots():
            return await greenlet_spawn(functools.partial(fn, self._on_loop, *args, **kwargs))

    def _loop_slots(self) -> asyncio.Semaphore:
        # One per event loop: asyncio primitives belong to the loop that first uses them.
        loop = asyncio.get_running_loop()
        slots = self._slots_by_loop.get(loop)
        if slots is None:
            slots = self._slots_by_loop[loop] = asyncio.Semaphore(self._pool_size)
        return slots

    def dispose(self) -> None:
        """Close the pooled connections (those of :meth:`run` need :meth:`dispose_async`)."""
        self.engine.dispose()
        if self.read_engine is not self.engine:
            self.read_engine.dispose()

    async def dispose_async(self) -> None:
        """:meth:`dispose`, and close :meth:`run`'s connections; call it on their event loop."""
        if self._on_loop is not None:
            await greenlet_spawn(self._on_loop.dispose)
        self.dispose()


class _EventLoopDatabase(Database):
    """PostgreSQL as :meth:`Database.run` hands it to service code: blocking-style calls
    whose I/O awaits the asyncio driver on the event loop (SQLAlchemy's greenlet bridge).

    One pool of autocommit connections serves it all: :meth:`statements` as they are, and
    :meth:`write` / :meth:`read` with an explicit ``BEGIN``. (Switching a pooled connection
    between autocommit and transactions costs more CPU than a loop statement, on every
    checkout.)
    """

    def __init__(self, url: str, pool_size: int) -> None:
        self._set_up(url, pool_size)
        engine = create_async_engine(
            url, isolation_level="AUTOCOMMIT", **_postgres_pool(pool_size)
        ).sync_engine
        _refuse_dropped_connections(engine)
        self.engine = self.read_engine = self._autocommit_engine = engine

    @contextmanager
    def write(self) -> Iterator[Connection]:
        with self._transaction(end="COMMIT") as conn:
            yield conn

    @contextmanager
    def read(self, *, snapshot: bool = False) -> Iterator[Connection]:
        begin = "BEGIN ISOLATION LEVEL REPEATABLE READ" if snapshot else "BEGIN"
        with self._transaction(end="ROLLBACK", begin=begin) as conn:
            yield conn

    @contextmanager
    def _transaction(self, *, end: str, begin: str = "BEGIN") -> Iterator[Connection]:
        with self._autocommit_engine.connect() as conn:
            conn.exec_driver_sql(begin)
            try:
                yield conn
            except BaseException:
                with contextlib.suppress(Exception):  # the error that got us here matters
                    conn.exec_driver_sql("ROLLBACK")
                raise
            conn.exec_driver_sql(end)


def _postgres_pool(pool_size: int) -> dict[str, Any]:
    return {
        "pool_size": pool_size,
        "max_overflow": 0,
        "pool_timeout": 60,
        "pool_pre_ping": False,
        "pool_recycle": 3600,
        "connect_args": {"prepare_threshold": 1},
    }


def _refuse_dropped_connections(engine: Engine) -> None:
    """Check each pooled PostgreSQL connection as it is checked out, without a round trip.

    An idle connection has nothing to read. When the server drops it (a restart,
    ``pg_terminate_backend``, an idle timeout) it sends an error and closes the socket, so
    the socket turns readable: such a connection is discarded and the pool connects anew
    (SQLAlchemy retries a checkout that raises :class:`DisconnectionError`), instead of
    failing the request's first statement. ``pool_pre_ping`` would cost a round trip on
    every checkout, which on the annotator loop is as much as the work itself; a zero-timeout
    ``poll`` costs a system call. (A connection whose peer vanished without a word still
    fails once; ``pool_recycle`` bounds how long such a connection can linger.)
    """

    @event.listens_for(engine, "checkout")
    def _check(dbapi_conn: Any, _record: Any, _proxy: Any) -> None:
        driver = getattr(dbapi_conn, "driver_connection", dbapi_conn)
        try:
            fd = driver.fileno()
        except Exception:  # closed already
            raise DisconnectionError("connection closed") from None
        poller = select.poll()
        poller.register(fd, select.POLLIN | select.POLLERR | select.POLLHUP)
        if poller.poll(0):
            raise DisconnectionError("the server closed the connection while it was idle")


def _sqlite_engine(url: str, *, begin: str, sync: str, pool_size: int) -> Engine:
    engine = create_engine(
        url,
        connect_args={"check_same_thread": False, "timeout": 30},
        poolclass=QueuePool,
        pool_size=pool_size,
        max_overflow=pool_size,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: sqlite3.Connection, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide when transactions begin.
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA synchronous={sync}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        conn.exec_driver_sql(begin)

    return engine
