"""The workforce in the console: a person's skills and credentials (edited, verified,
removed, each change audited; errors next to their fields; untrusted text escaped) and a
project's exam results."""

from __future__ import annotations

import re

import httpx

from db_fixtures import PASSWORD, Env, pairwise_item
from expertloop.domain import Role, User
from expertloop.services.workforce import settings as workforce_settings
from expertloop.services.workforce import skills
from expertloop.store import audit


def _signed_in(env: Env, user: User) -> httpx.Client:
    client = httpx.Client(base_url=env.url, timeout=30, follow_redirects=False)
    env.clients.append(client)
    page = client.get("/login").text
    token = re.search(r'name="csrf_token" value="([0-9a-f]+)"', page)
    assert token is not None
    signed = client.post(
        "/login",
        data={"csrf_token": token.group(1), "next": "/manage", "username": user.username,
              "password": PASSWORD},
    )
    assert signed.status_code == 303, signed.text
    return client


def _csrf(page: str) -> str:
    token = re.search(r'name="csrf_token" value="([0-9a-f]+)"', page)
    assert token is not None
    return token.group(1)


def _actions(env: Env) -> list[str]:
    with env.db.read() as conn:
        return [e.action for e in audit.list_events(conn, limit=100)]


def test_a_manager_edits_a_workers_skills_and_credentials_and_every_change_is_audited(
    env: Env,
) -> None:
    manager, worker = env.user(Role.MANAGER, "mona"), env.user(username="wes")
    client = _signed_in(env, manager)
    people = client.get("/manage/people").text
    assert f'href="/manage/people/{worker.id}"' in people
    page = client.get(f"/manage/people/{worker.id}")
    assert page.status_code == 200
    assert "No credential recorded." in page.text
    token = _csrf(page.text)

    saved = client.post(
        f"/manage/people/{worker.id}/skills",
        data={"csrf_token": token, "skill": ["cardiology", "statistics", ""],
              "level": ["4", "2", ""]},
    )
    assert saved.status_code == 303
    assert saved.headers["location"] == f"/manage/people/{worker.id}?done=skills"
    assert skills.get_profile(env.db, actor=manager, user_id=worker.id).skills == {
        "cardiology": 4, "statistics": 2,
    }
    page = client.get(saved.headers["location"]).text
    assert "Skills saved." in page
    assert 'value="cardiology"' in page

    # Clearing a row's name removes the skill.
    client.post(
        f"/manage/people/{worker.id}/skills",
        data={"csrf_token": token, "skill": ["cardiology", ""], "level": ["5", "2"]},
    )
    # (a level without a name is refused, nothing changes)
    assert skills.get_profile(env.db, actor=manager, user_id=worker.id).skills == {
        "cardiology": 4, "statistics": 2,
    }
    client.post(
        f"/manage/people/{worker.id}/skills",
        data={"csrf_token": token, "skill": ["cardiology"], "level": ["5"]},
    )
    assert skills.get_profile(env.db, actor=manager, user_id=worker.id).skills == {
        "cardiology": 5
    }

    added = client.post(
        f"/manage/people/{worker.id}/credentials",
        data={"csrf_token": token, "kind": "licence", "title": "<b>GMC</b> 1234567",
              "evidence": "Seen on the register <script>x()</script>"},
    )
    assert added.status_code == 303
    page = client.get(f"/manage/people/{worker.id}").text
    assert "&lt;b&gt;GMC&lt;/b&gt; 1234567" in page
    assert "<script>x()" not in page
    assert "not yet" in page
    (credential,) = skills.get_profile(env.db, actor=manager, user_id=worker.id).credentials
    verified = client.post(
        f"/manage/people/{worker.id}/credentials/{credential.id}/verify",
        data={"csrf_token": token},
    )
    assert verified.status_code == 303
    (credential,) = skills.get_profile(env.db, actor=manager, user_id=worker.id).credentials
    assert credential.verified_by == manager.id
    assert "Credential marked verified by you." in client.get(verified.headers["location"]).text
    removed = client.post(
        f"/manage/people/{worker.id}/credentials/{credential.id}/remove",
        data={"csrf_token": token},
    )
    assert removed.status_code == 303
    assert skills.get_profile(env.db, actor=manager, user_id=worker.id).credentials == []
    actions = _actions(env)
    for action in ("user.skills_set", "user.credential_added", "user.credential_verified",
                   "user.credential_removed"):
        assert action in actions


def test_refused_skills_and_credentials_are_explained_next_to_their_fields(env: Env) -> None:
    manager, worker = env.user(Role.MANAGER), env.user()
    client = _signed_in(env, manager)
    token = _csrf(client.get(f"/manage/people/{worker.id}").text)
    bad_level = client.post(
        f"/manage/people/{worker.id}/skills",
        data={"csrf_token": token, "skill": ["cardiology"], "level": ["9"]},
    )
    assert bad_level.status_code == 422
    assert "skills.cardiology" in bad_level.text
    assert 'value="cardiology"' in bad_level.text  # what was typed stays
    bad_name = client.post(
        f"/manage/people/{worker.id}/skills",
        data={"csrf_token": token, "skill": ["Not A Name!"], "level": ["2"]},
    )
    assert bad_name.status_code == 422
    no_title = client.post(
        f"/manage/people/{worker.id}/credentials",
        data={"csrf_token": token, "kind": "degree", "title": " ", "evidence": "kept"},
    )
    assert no_title.status_code == 422
    assert 'id="credential-title-error"' in no_title.text
    assert ">kept</textarea>" in no_title.text
    no_csrf = client.post(
        f"/manage/people/{worker.id}/skills", data={"skill": ["x"], "level": ["1"]}
    )
    assert no_csrf.status_code == 403
    assert skills.get_profile(env.db, actor=manager, user_id=worker.id).skills == {}
    assert skills.get_profile(env.db, actor=manager, user_id=worker.id).credentials == []


def test_workers_and_reviewers_cannot_open_a_persons_page(env: Env) -> None:
    worker, other = env.user(), env.user()
    client = _signed_in(env, worker)
    assert client.get(f"/manage/people/{other.id}").status_code == 403
    page = _signed_in(env, env.user(Role.MANAGER)).get("/manage/people/999999")
    assert page.status_code == 404


def test_the_exam_page_lists_every_workers_standing_on_the_projects_exam(env: Env) -> None:
    manager, passed, started = env.user(Role.MANAGER), env.user(username="pia"), env.user()
    exam = env.project(manager, members=[passed, started])
    env.items(manager, exam, [pairwise_item(1, gold={"choice": "A"}),
                              pairwise_item(2, gold={"choice": "B"})])
    project = env.project(manager, members=[passed, started])
    client = _signed_in(env, manager)
    page = client.get(f"/manage/projects/{project}/exam")
    assert page.status_code == 200
    assert "names no qualification exam" in page.text

    workforce_settings.update_settings(
        env.db, actor=manager, project_id=project,
        qualification={"exam_project_id": exam, "pass_mark": 0.5},
        required_skills={"cardiology": 2},
    )
    assert "Nobody has taken the exam yet." in client.get(f"/manage/projects/{project}/exam").text
    api = env.client(passed)
    for _ in range(2):
        lease = api.post(f"/api/v1/projects/{exam}/assignments/next").json()
        payload = lease["item"]["payload"]
        # Answer by the gold, as the worker saw the pair (it may be swapped).
        gold = "A" if payload["prompt"].endswith("1?") else "B"
        swapped = not payload["response_a"].startswith("A")
        choice = {"A": "B", "B": "A"}[gold] if swapped else gold
        done = api.post(f"/api/v1/assignments/{lease['assignment_id']}/answer",
                        json={"answer": {"choice": choice}})
        assert done.status_code in (200, 201), done.text
    page = client.get(f"/manage/projects/{project}/exam").text
    assert "pass mark 50%" in page
    assert "cardiology ≥ 2" in page
    assert f'href="/manage/people/{passed.id}">pia</a>' in page
    assert "qualified" in page
    assert "100%" in page
    assert "2 / 2" in page
    assert "Passed: 1" in page
    # A worker sees nobody's results; another manager does not find the project.
    assert _signed_in(env, started).get(f"/manage/projects/{project}/exam").status_code == 403
    other = _signed_in(env, env.user(Role.MANAGER))
    assert other.get(f"/manage/projects/{project}/exam").status_code == 404
