"""The model-provider tests: a real scripted chat server, and real databases."""

from db_fixtures import backends, clock, env  # noqa: F401
from llm_server import chat_server  # noqa: F401
