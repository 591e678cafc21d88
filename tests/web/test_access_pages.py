"""The web form's share of cutting access off: sign-in throttling and a sign-out that only
this site's pages can ask for."""

from __future__ import annotations

import re

import httpx

from db_fixtures import PASSWORD, Env
from expertloop.clock import FakeClock
from expertloop.settings import Settings
from expertloop.web.sessions import SESSION_COOKIE, csrf_token_for

SECRET = Settings().secret_key  # the test server runs with the default development key


def _browser(env: Env) -> httpx.Client:
    client = httpx.Client(base_url=env.url, timeout=30, follow_redirects=False)
    env.clients.append(client)
    return client


def _sign_in(client: httpx.Client, username: str, password: str) -> httpx.Response:
    page = client.get("/login")
    token = re.search(r'name="csrf_token" value="([0-9a-f]+)"', page.text)
    assert token is not None
    return client.post(
        "/login",
        data={
            "csrf_token": token.group(1),
            "next": "/",
            "username": username,
            "password": password,
        },
    )


def test_a_sign_out_posted_without_the_pages_csrf_token_keeps_the_session(env: Env) -> None:
    worker = env.user()
    client = _browser(env)
    assert _sign_in(client, worker.username, PASSWORD).status_code == 303
    session = client.cookies.get(SESSION_COOKIE)
    assert session
    # What another site's form can send: the cookie, but not the token.
    refused = client.post("/logout")
    assert refused.status_code == 403
    assert client.get("/").status_code == 200
    assert (
        client.post("/logout", data={"csrf_token": csrf_token_for(SECRET, session)}).status_code
        == 303
    )
    assert client.get("/").status_code == 303


def test_the_sign_in_form_refuses_a_username_after_ten_failures_until_the_window_passes(
    env: Env, clock: FakeClock
) -> None:
    worker = env.user()
    client = _browser(env)
    for _ in range(10):
        assert _sign_in(client, worker.username, "wrong-password").status_code == 401
    throttled = _sign_in(client, worker.username, PASSWORD)
    assert throttled.status_code == 429
    assert throttled.headers["retry-after"] == "900"
    assert "Too many failed sign-ins. Try again in 15 minutes." in throttled.text
    assert client.cookies.get(SESSION_COOKIE) is None
    clock.advance(600)
    assert int(_sign_in(client, worker.username, PASSWORD).headers["retry-after"]) == 300
    clock.advance(301)
    assert _sign_in(client, worker.username, PASSWORD).status_code == 303


def test_a_suspended_users_session_goes_back_to_the_sign_in_page(env: Env) -> None:
    from expertloop.services.access import suspend_user

    worker = env.user()
    client = _browser(env)
    assert _sign_in(client, worker.username, PASSWORD).status_code == 303
    assert client.get("/").status_code == 200
    suspend_user(env.db, actor=None, user_id=worker.id)
    page = client.get("/")
    assert page.status_code == 303
    assert page.headers["location"].startswith("/login")
    again = _sign_in(client, worker.username, PASSWORD)
    assert again.status_code == 401
    assert "Wrong username or password, or the account is suspended." in again.text
