"""The web UI over plain HTTP: sessions, CSRF, security headers, templates, Markdown."""

from __future__ import annotations

import re

import httpx
import pytest

from db_fixtures import PASSWORD, Env, pairwise_item
from expertloop.clock import FakeClock
from expertloop.domain import Role, User
from expertloop.settings import Settings
from expertloop.tasks import TASK_TYPES
from expertloop.web import TEMPLATES_DIR, render_markdown, task_template_name
from expertloop.web.examples import EXAMPLES
from expertloop.web.routes import SESSION_LIFETIME
from expertloop.web.sessions import SESSION_COOKIE, csrf_token_for

SECRET = Settings().secret_key  # the test server runs with the default development key


def _browser(env: Env) -> httpx.Client:
    client = httpx.Client(base_url=env.url, timeout=30, follow_redirects=False)
    env.clients.append(client)
    return client


def _login_fields(client: httpx.Client) -> dict[str, str]:
    page = client.get("/login")
    assert page.status_code == 200
    token = re.search(r'name="csrf_token" value="([0-9a-f]+)"', page.text)
    assert token is not None
    return {"csrf_token": token.group(1), "next": "/"}


def _signed_in(env: Env, user: User) -> tuple[httpx.Client, str]:
    client = _browser(env)
    response = client.post(
        "/login", data={**_login_fields(client), "username": user.username, "password": PASSWORD}
    )
    assert response.status_code == 303, response.text
    session = client.cookies.get(SESSION_COOKIE)
    assert session
    return client, csrf_token_for(SECRET, session)


def test_signing_in_sets_an_httponly_samesite_session_cookie_and_redirects_home(env: Env) -> None:
    worker = env.user()
    client = _browser(env)
    response = client.post(
        "/login", data={**_login_fields(client), "username": worker.username, "password": PASSWORD}
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/"
    cookie = next(
        c for c in response.headers.get_list("set-cookie") if c.startswith(SESSION_COOKIE)
    )
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie or "samesite=lax" in cookie.lower()
    assert "Secure" not in cookie  # plain http in tests; https sets it
    home = client.get("/")
    assert home.status_code == 200
    assert worker.username in home.text


def test_a_session_ends_when_its_lifetime_has_passed(env: Env, clock: FakeClock) -> None:
    client, _ = _signed_in(env, env.user())
    clock.advance(SESSION_LIFETIME.total_seconds() - 60)
    assert client.get("/").status_code == 200
    clock.advance(120)
    expired = client.get("/")
    assert expired.status_code == 303
    assert expired.headers["location"].startswith("/login")


def test_a_wrong_password_shows_an_error_and_sets_no_session(env: Env) -> None:
    worker = env.user()
    client = _browser(env)
    response = client.post(
        "/login", data={**_login_fields(client), "username": worker.username, "password": "nope"}
    )
    assert response.status_code == 401
    assert "Wrong username or password" in response.text
    assert SESSION_COOKIE not in client.cookies


def test_a_login_form_without_its_csrf_token_is_refused(env: Env) -> None:
    worker = env.user()
    client = _browser(env)
    _login_fields(client)
    response = client.post(
        "/login", data={"username": worker.username, "password": PASSWORD, "csrf_token": "x"}
    )
    assert response.status_code == 400
    assert SESSION_COOKIE not in client.cookies


def test_pages_redirect_to_login_without_a_session_and_never_off_site(env: Env) -> None:
    client = _browser(env)
    response = client.get("/projects/1")
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/projects/1"
    worker = env.user()
    fields = _login_fields(client)
    sneaky = client.post(
        "/login",
        data={
            **fields,
            "next": "//evil.example/",
            "username": worker.username,
            "password": PASSWORD,
        },
    )
    assert sneaky.headers["location"] == "/"


def test_ui_pages_carry_a_strict_content_security_policy_and_no_inline_script(env: Env) -> None:
    manager, worker = env.user(Role.MANAGER), env.user()
    project = env.project(manager, members=[worker])
    client, _ = _signed_in(env, worker)
    for path in ("/login", "/", f"/projects/{project}"):
        page = client.get(path, follow_redirects=True)
        policy = page.headers["content-security-policy"]
        assert "script-src 'self'" in policy
        assert "default-src 'none'" in policy
        assert "unsafe-inline" not in policy
        assert page.headers["x-content-type-options"] == "nosniff"
        for tag in re.findall(r"<script\b[^>]*>", page.text):
            assert "src=" in tag, f"inline script on {path}"
        assert " on" not in " ".join(re.findall(r"<[^>]+ on\w+=", page.text))


def test_a_cookie_authenticated_post_without_the_csrf_token_is_refused(env: Env) -> None:
    manager, worker = env.user(Role.MANAGER), env.user()
    project = env.project(manager, members=[worker])
    env.items(manager, project, [pairwise_item(1)])
    client, csrf = _signed_in(env, worker)

    refused = client.post(f"/api/v1/projects/{project}/assignments/next")
    assert refused.status_code == 403
    assert "CSRF" in refused.json()["error"]["message"]
    wrong = client.post(
        f"/ui/projects/{project}/next", headers={"X-CSRF-Token": csrf_token_for("x", "y")}
    )
    assert wrong.status_code == 403

    lease = client.post(f"/ui/projects/{project}/next", headers={"X-CSRF-Token": csrf})
    assert lease.status_code == 200
    assignment = lease.json()["assignment_id"]
    no_token = client.post(
        f"/api/v1/assignments/{assignment}/answer", json={"answer": {"choice": "A"}}
    )
    assert no_token.status_code == 403
    saved = client.post(
        f"/api/v1/assignments/{assignment}/answer",
        json={"answer": {"choice": "A"}},
        headers={"X-CSRF-Token": csrf, "Idempotency-Key": f"web-assignment-{assignment}"},
    )
    assert saved.status_code == 201


def test_bearer_token_calls_need_no_csrf_token(env: Env) -> None:
    manager, worker = env.user(Role.MANAGER), env.user()
    project = env.project(manager, members=[worker])
    env.items(manager, project, [pairwise_item(1)])
    lease = env.client(worker).post(f"/api/v1/projects/{project}/assignments/next")
    assert lease.status_code == 200


def test_reading_with_the_session_cookie_needs_no_csrf_token(env: Env) -> None:
    worker = env.user()
    client, _ = _signed_in(env, worker)
    assert client.get("/api/v1/me").json()["username"] == worker.username


def test_the_next_fragment_is_rendered_html_with_the_lease(env: Env) -> None:
    manager, worker = env.user(Role.MANAGER), env.user()
    project = env.project(manager, members=[worker])
    env.items(manager, project, [pairwise_item(1)])
    client, csrf = _signed_in(env, worker)
    body = client.post(f"/ui/projects/{project}/next", headers={"X-CSRF-Token": csrf}).json()
    assert body["assignment_id"] > 0
    assert body["expires_at"].endswith("Z")
    assert 'id="task-form"' in body["html"]
    assert "Question 1?" in body["html"]
    again = client.post(f"/ui/projects/{project}/next", headers={"X-CSRF-Token": csrf}).json()
    assert again["assignment_id"] == body["assignment_id"]  # a reload gets the same lease


def test_the_next_fragment_says_when_nothing_is_left(env: Env) -> None:
    manager, worker = env.user(Role.MANAGER), env.user()
    project = env.project(manager, members=[worker])
    client, csrf = _signed_in(env, worker)
    body = client.post(f"/ui/projects/{project}/next", headers={"X-CSRF-Token": csrf}).json()
    assert body["assignment_id"] is None
    assert "All caught up" in body["html"]


def test_a_project_the_worker_is_not_in_is_not_found(env: Env) -> None:
    manager, worker = env.user(Role.MANAGER), env.user()
    project = env.project(manager)
    client, _ = _signed_in(env, worker)
    page = client.get(f"/projects/{project}")
    assert page.status_code == 404
    assert "Not found" in page.text


def test_signing_out_revokes_the_session(env: Env) -> None:
    worker = env.user()
    client, csrf = _signed_in(env, worker)
    session = client.cookies.get(SESSION_COOKIE)
    refused = client.post("/logout", data={"csrf_token": "forged"})
    assert refused.status_code == 403
    response = client.post("/logout", data={"csrf_token": csrf})
    assert response.status_code == 303
    replay = httpx.get(
        f"{env.url}/api/v1/me", headers={"Authorization": f"Bearer {session}"}, timeout=30
    )
    assert replay.status_code == 401


def test_the_home_page_lists_the_workers_projects_with_progress(env: Env) -> None:
    manager, worker = env.user(Role.MANAGER), env.user()
    project = env.project(manager, members=[worker])
    env.items(manager, project, [pairwise_item(n) for n in range(4)])
    other = env.project(manager)
    client, _ = _signed_in(env, worker)
    page = client.get("/").text
    assert f'href="/projects/{project}"' in page
    assert f'href="/projects/{other}"' not in page
    assert "of 4 items complete" in page


# --- templates and Markdown, without a server -------------------------------------------


@pytest.mark.parametrize("task_type", sorted(TASK_TYPES))
def test_every_task_type_has_a_web_template(task_type: str) -> None:
    path = TEMPLATES_DIR / task_template_name(task_type)
    assert path.is_file(), f"task type {task_type!r} has no template at {path}"


@pytest.mark.parametrize("task_type", sorted(TASK_TYPES))
def test_every_task_type_has_an_example_for_screenshots_and_browser_tests(task_type: str) -> None:
    assert task_type in {e.task_type for e in EXAMPLES}


def test_markdown_keeps_formatting_and_drops_html_and_script_links() -> None:
    html = render_markdown(
        "# Title\n\n- one\n- two\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n```python\nx = 1\n```\n\n"
        "<script>alert(1)</script> <img src=x onerror=alert(1)>\n\n"
        "[bad](javascript:alert(1)) [good](https://example.org) [mail](mailto:a@b.org) "
        "![pic](https://example.org/p.png)"
    )
    assert "<h1>Title</h1>" in html
    assert "<li>one</li>" in html
    assert "<table>" in html
    assert '<code class="language-python">' in html
    assert "<script" not in html
    assert "<img" not in html
    assert "&lt;script&gt;" in html
    assert "javascript:" not in re.sub(r">[^<]*<", "><", html)  # not in any attribute
    assert 'href="https://example.org"' in html
    assert 'href="mailto:a@b.org"' in html
    assert "[image: pic]" in html


def test_the_markdown_preview_is_rendered_sanitised_and_needs_the_csrf_token(env: Env) -> None:
    worker = env.user()
    client, csrf = _signed_in(env, worker)
    text = "**bold**\n\n<script>alert(1)</script>\n\n[x](javascript:alert(1))"
    refused = client.post("/ui/preview", json={"text": text})
    assert refused.status_code == 403
    html = client.post("/ui/preview", json={"text": text}, headers={"X-CSRF-Token": csrf}).json()[
        "html"
    ]
    assert "<strong>bold</strong>" in html
    assert "<script" not in html
    assert "href=\"javascript:" not in html  # shown as text, never a link
