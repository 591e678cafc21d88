"""The ``cli`` fixture (import it into a test module): run ``expertloop`` in-process against
the test database."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from db_fixtures import Env
from expertloop.cli.main import app


@pytest.fixture
def cli(env: Env, tmp_path: Path):  # type: ignore[no-untyped-def]
    """``cli(*args, input=None, **env)`` runs one command and returns its result."""
    runner = CliRunner()
    variables = {
        "EXPERTLOOP_DATABASE_URL": env.backend.url,
        "EXPERTLOOP_DATA_DIR": str(tmp_path),
        # Wide enough that Rich never wraps a table cell.
        "COLUMNS": "160",
    }

    def invoke(*args: str, input: str | None = None, **extra_env: str):  # type: ignore[no-untyped-def]
        return runner.invoke(app, list(args), input=input, env={**variables, **extra_env})

    return invoke
