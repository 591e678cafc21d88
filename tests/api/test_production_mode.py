"""Production mode: a strong secret key, no demo, and pseudonyms only the key can make."""

from __future__ import annotations

import logging

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from db_fixtures import Env
from expertloop.app import create_app
from expertloop.services.demo import seed_demo
from expertloop.services.exports import worker_pseudonym
from expertloop.settings import DEFAULT_SECRET_KEY, Settings

STRONG_KEY = "k" * 32


def test_production_refuses_the_default_key_and_any_key_shorter_than_32_bytes() -> None:
    with pytest.raises(ValidationError, match="must be set to a random value"):
        Settings(environment="production")
    with pytest.raises(ValidationError, match="at least 32 bytes"):
        Settings(environment="production", secret_key="x" * 31)
    assert Settings(environment="production", secret_key=STRONG_KEY).is_production
    assert Settings(secret_key="short").secret_key == "short"  # development allows it


def test_pseudonyms_made_with_another_key_match_no_worker_id() -> None:
    # Whoever lacks the key can only try keys; with the development key (public) they
    # cannot recompute a pseudonym the production key made, for any worker id.
    made = worker_pseudonym(STRONG_KEY, 7, 42)
    guesses = {worker_pseudonym(DEFAULT_SECRET_KEY, 7, w) for w in range(1, 5000)}
    assert made not in guesses
    assert made == worker_pseudonym(STRONG_KEY, 7, 42)
    assert made != worker_pseudonym(STRONG_KEY, 8, 42)


def test_serve_refuses_the_demo_in_production(env: Env) -> None:
    from typer.testing import CliRunner

    from expertloop.cli.main import app

    result = CliRunner().invoke(
        app,
        ["serve", "--demo"],
        env={
            "EXPERTLOOP_DATABASE_URL": env.backend.url,
            "EXPERTLOOP_ENVIRONMENT": "production",
            "EXPERTLOOP_SECRET_KEY": STRONG_KEY,
        },
    )
    assert result.exit_code != 0
    assert "--demo is refused" in result.stderr


def test_a_production_server_warns_at_start_about_demo_accounts_with_their_demo_passwords(
    env: Env, caplog: pytest.LogCaptureFixture
) -> None:
    seed_demo(env.db)
    settings = Settings(
        database_url=env.backend.url, environment="production", secret_key=STRONG_KEY
    )
    with (
        caplog.at_level(logging.WARNING, logger="expertloop"),
        TestClient(create_app(settings, database=env.db)),
    ):
        pass
    [warning] = [r for r in caplog.records if "demo accounts" in r.getMessage()]
    assert "admin" in warning.getMessage()
    assert "alice" in warning.getMessage()
    caplog.clear()
    with (
        caplog.at_level(logging.WARNING, logger="expertloop"),
        TestClient(create_app(Settings(database_url=env.backend.url), database=env.db)),
    ):
        pass
    assert not [r for r in caplog.records if "demo accounts" in r.getMessage()]
