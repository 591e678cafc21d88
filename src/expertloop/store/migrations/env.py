"""Alembic environment: runs on the connection handed over by ``store.migrate``."""

from __future__ import annotations

import warnings

from alembic import context
from sqlalchemy.exc import SAWarning

from expertloop.store.tables import Base

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction(), warnings.catch_warnings():
    # A batch migration on SQLite reflects the tables its table refers to, and SQLAlchemy
    # cannot reflect an index on an expression (users' lower(username)); the batch rebuilds
    # only its own table, so the referred table's indexes are never touched.
    warnings.filterwarnings(
        "ignore",
        message="Skipped unsupported reflection of expression-based index",
        category=SAWarning,
    )
    context.run_migrations()
