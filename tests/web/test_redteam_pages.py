"""The red-team campaign page over HTTP (both databases): managers and reviewers read it,
only red-team projects have it, and model output on it is escaped."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx
import pytest

from db_fixtures import PASSWORD, Env
from expertloop.domain import Role, User
from expertloop.services import assignments, redteam, redteam_campaigns
from expertloop.store import redteam as redteam_store

HOSTILE = "<script>alert('x')</script><img src=x onerror=alert(1)>"


def _browser(env: Env, user: User) -> httpx.Client:
    client = httpx.Client(base_url=env.url, timeout=30, follow_redirects=False)
    env.clients.append(client)
    page = client.get("/login")
    token = page.text.split('name="csrf_token" value="')[1].split('"')[0]
    done = client.post("/login", data={"username": user.username, "password": PASSWORD,
                                       "csrf_token": token, "next": "/"})
    assert done.status_code in (302, 303), done.text
    return client


def _project(env: Env) -> dict[str, Any]:
    manager, worker = env.user(Role.MANAGER), env.user()
    project = env.project(manager, task_type="redteam", members=[worker])
    env.items(manager, project, [{"payload": {
        "goal": "g", "transcript": [{"role": "user", "content": "attack text"},
                                    {"role": "assistant", "content": HOSTILE}]}}])
    lease = assignments.next_assignment(env.db, actor=worker, project_id=project)
    assert lease is not None
    assignments.submit_answer(env.db, actor=worker, assignment_id=lease.id, answer={
        "category": "hte", "success": True, "severity": 1})
    return {"manager": manager, "worker": worker, "project": project}


def test_the_campaign_page_shows_the_numbers_and_escapes_model_output(env: Env) -> None:
    p = _project(env)
    page = _browser(env, p["manager"]).get(f"/manage/projects/{p['project']}/redteam")
    assert page.status_code == 200
    html = page.text
    assert 'id="rt-attempts">1<' in html
    assert '<tr data-key="hte"><th scope="row">Hate' in html
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in html
    assert "<img src=x" not in html
    assert f'href="/manage/projects/{p["project"]}/redteam" aria-current="page"' in html
    assert "script-src 'self'" in page.headers["content-security-policy"]


def test_only_red_team_projects_have_the_tab_and_workers_cannot_read_it(env: Env) -> None:
    p = _project(env)
    manager = _browser(env, p["manager"])
    other = env.project(p["manager"], task_type="rewrite")
    overview = manager.get(f"/manage/projects/{other}")
    assert overview.status_code == 200
    assert "/redteam" not in overview.text
    assert manager.get(f"/manage/projects/{other}/redteam").status_code == 422
    assert "/redteam" in manager.get(f"/manage/projects/{p['project']}").text
    worker = _browser(env, p["worker"])
    assert worker.get(f"/manage/projects/{p['project']}/redteam").status_code == 403


def _stored_behind(env: Env, project: int, manager: User) -> None:
    """A stored snapshot of a (pretended) large campaign that has not seen any answer."""
    numbers = redteam.campaign(env.db, actor=manager, project_id=project).to_dict()
    with env.db.write() as conn:
        redteam_store.save_campaign(conn, redteam_store.CampaignRow(
            project_id=project, computed_at=datetime(2026, 1, 2, 3, 4), last_answer_id=0,
            decided_reviews=0, config_hash="old", attempts=100_000, duration_ms=1,
            numbers={**numbers, "attempts": 7},
        ))


def test_the_page_and_the_api_serve_a_large_campaigns_snapshot_and_say_it_is_behind(
    env: Env,
) -> None:
    p = _project(env)
    manager: User = p["manager"]
    page = _browser(env, manager).get(f"/manage/projects/{p['project']}/redteam")
    assert 'id="rt-when">Numbers computed' in page.text
    assert "behind" not in page.text.split('id="rt-when"')[1].split("</p>")[0]

    _stored_behind(env, p["project"], manager)
    page = _browser(env, manager).get(f"/manage/projects/{p['project']}/redteam")
    when = page.text.split('id="rt-when"')[1].split("</p>")[0]
    assert "02 Jan 2026, 03:04 UTC" in when
    assert "<strong>behind</strong>: 1 answer arrived since" in when
    assert 'id="rt-attempts">7<' in page.text  # the snapshot, not a recomputation
    body = env.client(manager).get(f"/api/v1/projects/{p['project']}/redteam/campaign").json()
    assert (body["attempts"], body["stale"], body["answers_behind"]) == (7, True, 1)
    assert body["computed_at"].startswith("2026-01-02T03:04")
    assert isinstance(body["refresh_job"], int)


def test_a_large_campaign_without_a_snapshot_says_its_numbers_are_on_their_way(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    p = _project(env)
    manager: User = p["manager"]
    monkeypatch.setattr(redteam_campaigns, "INLINE_MAX_ATTEMPTS", 0)  # the campaign is "large"
    page = _browser(env, manager).get(f"/manage/projects/{p['project']}/redteam")
    assert page.status_code == 200
    assert 'id="rt-pending"' in page.text
    assert 'id="rt-attempts"' not in page.text
    pending = env.client(manager).get(f"/api/v1/projects/{p['project']}/redteam/campaign")
    assert pending.status_code == 202
    job = pending.json()
    assert (job["kind"], job["status"]) == ("redteam.campaign", "queued")
    redteam_campaigns.refresh_campaign(env.db, p["project"])
    body = env.client(manager).get(f"/api/v1/projects/{p['project']}/redteam/campaign").json()
    assert (body["attempts"], body["stale"]) == (1, False)
