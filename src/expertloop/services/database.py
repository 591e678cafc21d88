"""Opening the configured database for the entry points (the CLI, the server's start).

The command line reaches data only through services; this is where it gets the database
handle that every service takes, migrated to the newest schema.
"""

from __future__ import annotations

from expertloop.settings import Settings
from expertloop.store import Database, upgrade
from expertloop.store.migrate import current_revision

__all__ = ["Database", "open_database", "schema_revision"]


def open_database(settings: Settings) -> Database:
    """The database ``settings`` name, its schema brought to the newest revision (safe to
    run on every start and from many hosts at once)."""
    database = Database(
        settings.resolved_database_url,
        pool_size=settings.db_pool_size,
        sqlite_synchronous=settings.sqlite_synchronous,
    )
    try:
        upgrade(database)
    except BaseException:
        database.dispose()
        raise
    return database


def schema_revision(database: Database) -> str | None:
    """The migration the schema is at (``None`` before the first)."""
    return current_revision(database)
