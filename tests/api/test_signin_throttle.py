"""Sign-in throttling over the API: per username and per address, counted in the database."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest

from db_fixtures import PASSWORD, Env
from expertloop.clock import FakeClock
from expertloop.errors import NotAuthenticated, TooManyAttempts
from expertloop.services.auth import SignInLimits, issue_token


def _sign_in(client: httpx.Client, username: str, password: str) -> httpx.Response:
    return client.post("/api/v1/auth/token", json={"username": username, "password": password})


def test_ten_failures_for_a_username_get_429_with_retry_after_even_for_the_right_password(
    env: Env, clock: FakeClock
) -> None:
    worker = env.user()
    client = env.client()
    for _ in range(10):
        assert _sign_in(client, worker.username, "wrong-password").status_code == 401
    throttled = _sign_in(client, worker.username, PASSWORD)
    assert throttled.status_code == 429
    assert throttled.headers["retry-after"] == "900"
    assert throttled.json()["error"]["code"] == "too_many_attempts"
    assert _sign_in(client, env.user().username, PASSWORD).status_code == 200  # others sign in
    clock.advance(900)
    assert _sign_in(client, worker.username, PASSWORD).status_code == 200


def test_fifty_failures_from_one_address_get_429_whatever_the_username(
    env: Env, clock: FakeClock
) -> None:
    worker = env.user()
    client = env.client()
    for n in range(50):
        clock.advance(1)
        assert _sign_in(client, f"guess-{n}", "wrong-password").status_code == 401
    throttled = _sign_in(client, worker.username, PASSWORD)
    assert throttled.status_code == 429
    assert throttled.headers["retry-after"] == str(900 - 49)
    clock.advance(900 - 49)
    assert _sign_in(client, worker.username, PASSWORD).status_code == 200


def test_failures_are_counted_in_the_database_so_every_process_sees_them(
    env: Env, clock: FakeClock
) -> None:
    # Two "processes" share nothing but the database.
    worker = env.user()
    limits = SignInLimits(per_username=3, per_address=100, window=timedelta(minutes=15))
    for address in ("10.0.0.1", "10.0.0.2", "10.0.0.3"):
        with pytest.raises(NotAuthenticated):
            issue_token(
                env.db, username=worker.username, password="x", address=address, limits=limits
            )
    with pytest.raises(TooManyAttempts) as refused:
        issue_token(
            env.db, username=worker.username, password=PASSWORD, address="10.0.0.4", limits=limits
        )
    assert refused.value.retry_after == 900
    clock.advance(900)
    assert issue_token(
        env.db, username=worker.username, password=PASSWORD, address="10.0.0.4", limits=limits
    ).startswith("el_")
