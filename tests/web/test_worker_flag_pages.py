"""The manager's flagged-workers page: each flag with its numbers, reinstate and dismiss
as CSRF-checked forms; workers are refused; the task page loads the telemetry script."""

from __future__ import annotations

import re

import httpx

from db_fixtures import PASSWORD, Env
from expertloop.domain import Role, User
from expertloop.services import assignments, worker_rules
from expertloop.settings import Settings
from expertloop.web.sessions import SESSION_COOKIE, csrf_token_for

SECRET = Settings().secret_key
LABELS = ["cat", "dog", "bird", "fish"]


def _signed_in(env: Env, user: User) -> tuple[httpx.Client, str]:
    client = httpx.Client(base_url=env.url, timeout=30, follow_redirects=False)
    env.clients.append(client)
    page = client.get("/login")
    token = re.search(r'name="csrf_token" value="([0-9a-f]+)"', page.text)
    assert token is not None
    response = client.post("/login", data={"csrf_token": token.group(1), "next": "/",
                                            "username": user.username, "password": PASSWORD})
    assert response.status_code == 303
    session = client.cookies.get(SESSION_COOKIE)
    assert session
    return client, csrf_token_for(SECRET, session)


def _paused_worker(env: Env) -> tuple[User, User, int]:
    manager = env.user(Role.MANAGER)
    worker = env.user(username="sam-<b>")
    project = env.project(manager, task_type="label", config={"labels": LABELS},
                          members=[worker], answers_per_item=1)
    env.items(manager, project, [{"payload": {"text": f"t{k}"}, "gold": {"label": "cat"}}
                                 for k in range(12)])
    while lease := assignments.next_assignment(env.db, actor=worker, project_id=project):
        assignments.submit_answer(env.db, actor=worker, assignment_id=lease.id,
                                  answer={"label": "dog"})
    worker_rules.evaluate_project(env.db, project)
    return manager, worker, project


def test_the_manager_sees_why_a_worker_was_paused_and_reinstates_them(env: Env) -> None:
    manager, worker, project = _paused_worker(env)
    client, csrf = _signed_in(env, manager)
    page = client.get(f"/manage/projects/{project}/flags/workers")
    assert page.status_code == 200
    assert "gold accuracy 0.07 (95% interval" in page.text
    assert "Paused" in page.text
    assert "sam-&lt;b&gt;" in page.text
    assert "sam-<b>" not in page.text
    assert "Content-Security-Policy" in page.headers
    action = f"/manage/projects/{project}/flags/workers/{worker.id}/reinstate"
    refused = client.post(action, data={"csrf_token": "wrong"})
    assert refused.status_code == 403
    done = client.post(action, data={"csrf_token": csrf, "note": "retrained"})
    assert done.status_code == 303
    after = client.get(done.headers["location"])
    assert "The worker is reinstated" in after.text
    assert "No open flags" in after.text
    standing = worker_rules.my_standing(env.db, actor=worker, project_id=project)
    assert standing.paused is None


def test_a_manager_dismisses_a_flag_from_the_page(env: Env) -> None:
    manager, _worker, project = _paused_worker(env)
    flags, _ = worker_rules.list_worker_flags(env.db, actor=manager, project_id=project)
    client, csrf = _signed_in(env, manager)
    done = client.post(
        f"/manage/projects/{project}/flags/worker-flags/{flags[0].id}/dismiss",
        data={"csrf_token": csrf},
    )
    assert done.status_code == 303
    history = client.get(f"/manage/projects/{project}/flags/workers?show=all")
    assert "dismissed" in history.text


def test_a_worker_cannot_open_the_flags_page(env: Env) -> None:
    _manager, worker, project = _paused_worker(env)
    client, _ = _signed_in(env, worker)
    page = client.get(f"/manage/projects/{project}/flags/workers")
    assert page.status_code == 403


def test_the_task_page_loads_the_telemetry_script(env: Env) -> None:
    manager = env.user(Role.MANAGER)
    worker = env.user()
    project = env.project(manager, members=[worker])
    client, _ = _signed_in(env, worker)
    page = client.get(f"/projects/{project}")
    assert "telemetry.js" in page.text
    script = client.get(re.search(r'src="([^"]*telemetry\.js[^"]*)"', page.text).group(1))  # type: ignore[union-attr]
    assert script.status_code == 200
    assert "insertFromPaste" in script.text
