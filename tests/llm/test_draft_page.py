"""The expert's page for an item generated from a model draft starts from the draft,
escaped, in the reply box."""

from __future__ import annotations

import re
from typing import Any

import httpx

from db_fixtures import PASSWORD, Env
from expertloop.domain import Role, User
from expertloop.settings import Settings
from expertloop.web.sessions import SESSION_COOKIE, csrf_token_for


def _signed_in(env: Env, user: User) -> tuple[httpx.Client, str]:
    client = env.client()
    page = client.get("/login")
    token = re.search(r'name="csrf_token" value="([0-9a-f]+)"', page.text)
    assert token is not None
    response = client.post("/login", data={
        "csrf_token": token.group(1), "next": "/", "username": user.username,
        "password": PASSWORD,
    })
    assert response.status_code == 303, response.text
    session = client.cookies.get(SESSION_COOKIE)
    assert session
    # The test server runs with the default development key.
    return client, csrf_token_for(Settings().secret_key, session)


def test_a_draft_item_prefills_the_reply_box_escaped_and_is_not_shown_twice(env: Env) -> None:
    manager, worker = env.user(Role.MANAGER), env.user()
    project = env.project(manager, task_type="demonstration", config={}, members=[worker])
    draft = "Paris <script>alert(1)</script> is the capital."
    env.items(manager, project, [{"payload": {"prompt": "Capital of France?", "draft": draft}}])
    client, csrf = _signed_in(env, worker)
    fragment = client.post(f"/ui/projects/{project}/next", headers={"X-CSRF-Token": csrf})
    html = fragment.json()["html"]
    assert "A model wrote a draft" in html
    assert "Paris &lt;script&gt;alert(1)&lt;/script&gt; is the capital.</textarea>" in html
    assert "<script>alert" not in html
    assert html.count("Paris &lt;script&gt;") == 1


def test_the_judges_page_shows_each_judges_agreement_with_the_experts(
    env: Env, chat_server: Any
) -> None:
    from test_judges import _params, add_provider, fair_judge, pairwise_project

    from expertloop.services import llm

    chat_server.reply = fair_judge
    manager, project, _ = pairwise_project(env, n=4)
    add_provider(env, chat_server)
    llm.judge_items(env.db, project, _params())
    client, _ = _signed_in(env, manager)
    page = client.get(f"/manage/projects/{project}/judges")
    assert page.status_code == 200
    assert 'aria-current="page">Judges</a>' in page.text
    assert "<td>judge-x</td><td>judge-model</td><td>overall</td>" in page.text
    assert "1.000 (0.51–1.00)" in page.text
    assert "do <strong>not</strong> see" in page.text
    outsider, _ = _signed_in(env, env.user())
    assert outsider.get(f"/manage/projects/{project}/judges").status_code == 404
