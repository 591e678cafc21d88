"""The services tests run against real databases (SQLite and PostgreSQL)."""

from db_fixtures import backends, clock, env  # noqa: F401
from llm_server import chat_server  # noqa: F401
