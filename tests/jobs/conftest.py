"""The job tests run against real databases (SQLite and PostgreSQL)."""

from db_fixtures import backends, clock, env  # noqa: F401
