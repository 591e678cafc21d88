"""The workforce on the worker's home page: an exam shows as "Qualification for X"."""

from __future__ import annotations

import re

import httpx

from db_fixtures import PASSWORD, Env, pairwise_item
from expertloop.domain import Role, User
from expertloop.services.workforce import settings


def _signed_in(env: Env, user: User) -> httpx.Client:
    client = httpx.Client(base_url=env.url, timeout=30, follow_redirects=False)
    env.clients.append(client)
    page = client.get("/login").text
    token = re.search(r'name="csrf_token" value="([0-9a-f]+)"', page)
    assert token is not None
    fields = {"csrf_token": token.group(1), "next": "/"}
    signed = client.post(
        "/login", data={**fields, "username": user.username, "password": PASSWORD}
    )
    assert signed.status_code == 303, signed.text
    return client


def test_the_home_page_shows_an_exam_as_the_qualification_for_its_project(env: Env) -> None:
    manager, worker = env.user(Role.MANAGER), env.user()
    exam = env.project(manager, members=[worker])
    env.items(manager, exam, [pairwise_item(1, gold={"choice": "A"})])
    project = env.project(manager, members=[worker])
    settings.update_settings(
        env.db, actor=manager, project_id=project, qualification={"exam_project_id": exam}
    )
    page = _signed_in(env, worker).get("/").text
    assert "Qualification for test project" in page
    assert 'data-qualification="not_started"' in page
    assert "0 of 1 answered" in page
    assert "choice" not in page  # never the gold
