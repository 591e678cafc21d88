"""A throw-away, migrated database for a benchmark: SQLite in a temporary folder, or a fresh
PostgreSQL database (``EXPERTLOOP_BENCH_POSTGRES_URL`` names the server, 127.0.0.1 by
default) dropped at the end."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import create_engine, make_url, text

from expertloop.store import Database, upgrade

__all__ = ["scratch_database"]

_ADMIN_URL = "postgresql+psycopg://postgres:postgres@127.0.0.1:5432/postgres"


@contextmanager
def scratch_database(kind: str, prefix: str) -> Iterator[Database]:
    """A migrated ``Database`` of ``kind`` ("sqlite" or "postgresql"), removed afterwards."""
    with tempfile.TemporaryDirectory() as tmp:
        if kind == "sqlite":
            db = Database(f"sqlite:///{tmp}/{prefix}.db")
            try:
                upgrade(db)
                yield db
            finally:
                db.dispose()
            return
        admin = os.environ.get("EXPERTLOOP_BENCH_POSTGRES_URL", _ADMIN_URL)
        name = f"bench_{prefix}_{os.getpid()}"
        engine = create_engine(admin, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        db = Database(make_url(admin).set(database=name).render_as_string(hide_password=False))
        try:
            upgrade(db)
            yield db
        finally:
            db.dispose()
            with engine.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            engine.dispose()
