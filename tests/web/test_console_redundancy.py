"""Adaptive redundancy on the console's settings form: shown, set, checked, turned off."""

from __future__ import annotations

import re

import httpx
from sqlalchemy import func, select

from db_fixtures import PASSWORD, Env, audit_events
from expertloop.domain import Role, User
from expertloop.services import projects, redundancy
from expertloop.settings import Settings
from expertloop.store import tables as t
from expertloop.web.sessions import SESSION_COOKIE, csrf_token_for

SECRET = Settings().secret_key  # the test server runs with the default development key


def _signed_in(env: Env, user: User) -> tuple[httpx.Client, str]:
    client = httpx.Client(base_url=env.url, timeout=30, follow_redirects=False)
    env.clients.append(client)
    token = re.search(r'name="csrf_token" value="([0-9a-f]+)"', client.get("/login").text)
    assert token is not None
    response = client.post("/login", data={
        "csrf_token": token.group(1), "next": "/", "username": user.username,
        "password": PASSWORD,
    })
    assert response.status_code == 303, response.text
    session = client.cookies.get(SESSION_COOKIE)
    assert session
    return client, csrf_token_for(SECRET, session)


def _form(csrf: str, **adaptive: str) -> dict[str, str]:
    return {
        "csrf_token": csrf, "name": "Study", "guidelines": "", "answers_per_item": "3",
        "lease_seconds": "600", "max_lease_extensions": "2", "config.labels": "yes\nno",
        "min_answers": "", "max_answers": "", "target_confidence": "", "audit_share": "",
        **adaptive,
    }


def test_the_settings_form_sets_shows_checks_and_turns_off_adaptive_redundancy(
    env: Env,
) -> None:
    manager = env.user(Role.MANAGER)
    project = env.project(manager, task_type="label", config={"labels": ["yes", "no"]})
    client, csrf = _signed_in(env, manager)
    page = client.get(f"/manage/projects/{project}/settings").text
    assert 'name="target_confidence"' in page
    saved = client.post(
        f"/manage/projects/{project}/settings",
        data=_form(csrf, min_answers="2", max_answers="6", target_confidence="0.97",
                   audit_share="0.1"),
    )
    assert saved.status_code == 303, saved.text
    got = redundancy.get_redundancy(env.db, actor=manager, project_id=project)
    assert got is not None
    assert got.as_dict() == {
        "min_answers": 2, "max_answers": 6, "target_confidence": 0.97, "audit_share": 0.1,
    }
    # Saving the form again with the adaptive fields unchanged (another setting changed)
    # leaves adaptive redundancy alone: one audit event, not two.
    renamed = client.post(
        f"/manage/projects/{project}/settings",
        data={**_form(csrf, min_answers="2", max_answers="6", target_confidence="0.97",
                      audit_share="0.1"), "name": "Study, renamed"},
    )
    assert renamed.status_code == 303, renamed.text
    assert audit_events(env, project, "project.redundancy_updated") == 1
    assert projects.get_project(env.db, actor=manager, project_id=project).name == (
        "Study, renamed"
    )
    page = client.get(f"/manage/projects/{project}/settings").text
    assert re.search(r'name="target_confidence"[^>]*value="0.97"', page), page
    assert re.search(r'name="audit_share"[^>]*value="0.1"', page), page
    too_much = client.post(
        f"/manage/projects/{project}/settings",
        data=_form(csrf, min_answers="2", max_answers="6", target_confidence="0.97",
                   audit_share="1.5"),
    )
    assert too_much.status_code == 422
    assert redundancy.get_redundancy(env.db, actor=manager, project_id=project) == got
    refused = client.post(
        f"/manage/projects/{project}/settings",
        data=_form(csrf, min_answers="7", max_answers="6", target_confidence="0.97"),
    )
    assert refused.status_code == 422
    assert "min_answers &lt;= max_answers" in refused.text or "max_answers" in refused.text
    assert redundancy.get_redundancy(env.db, actor=manager, project_id=project) == got
    off = client.post(f"/manage/projects/{project}/settings", data=_form(csrf))
    assert off.status_code == 303, off.text
    assert redundancy.get_redundancy(env.db, actor=manager, project_id=project) is None


def _retarget_jobs(env: Env, project: int) -> int:
    """The project's re-target jobs, whatever their status (the test server runs them)."""
    with env.db.read() as conn:
        return int(conn.execute(
            select(func.count()).select_from(t.Job).where(
                t.Job.project_id == project, t.Job.kind == redundancy.RETARGET_KIND
            )
        ).scalar_one())


def test_the_settings_form_saves_its_fields_and_adaptive_redundancy_together_or_not_at_all(
    env: Env,
) -> None:
    manager = env.user(Role.MANAGER)
    client, csrf = _signed_in(env, manager)
    # A rewrite project's answers pick no class: only set_redundancy's own check, run on
    # the project as stored, refuses adaptive redundancy there, after the fields' part.
    free = env.project(manager, task_type="rewrite", config={"min_critique_length": 10})
    form = {**_form(csrf, min_answers="2", max_answers="6", target_confidence="0.97"),
            "name": "Renamed", "guidelines": "New guidelines", "answers_per_item": "4",
            "config.min_critique_length": "20"}
    form.pop("config.labels")
    refused = client.post(f"/manage/projects/{free}/settings", data=form)
    assert refused.status_code == 422, refused.text
    assert "adaptive redundancy needs answers that pick a class" in refused.text
    assert 'value="Renamed"' in refused.text  # the form re-shown as typed
    kept = projects.get_project(env.db, actor=manager, project_id=free)
    assert (kept.name, kept.guidelines, kept.guidelines_version, kept.answers_per_item,
            kept.config) == ("test project", "", 1, 3, {"min_critique_length": 10})
    assert redundancy.get_redundancy(env.db, actor=manager, project_id=free) is None
    assert audit_events(env, free, "project.updated") == 0
    assert audit_events(env, free, "project.redundancy_updated") == 0
    assert _retarget_jobs(env, free) == 0
    # The same fields without adaptive redundancy save.
    form.update(min_answers="", max_answers="", target_confidence="")
    saved = client.post(f"/manage/projects/{free}/settings", data=form)
    assert saved.status_code == 303, saved.text
    assert projects.get_project(env.db, actor=manager, project_id=free).name == "Renamed"
    assert audit_events(env, free, "project.updated") == 1
    assert audit_events(env, free, "project.redundancy_removed") == 0  # it had none

    # The happy path: both parts saved, each audited once, one re-target job queued.
    label = env.project(manager, task_type="label", config={"labels": ["yes", "no"]})
    both = client.post(
        f"/manage/projects/{label}/settings",
        data={**_form(csrf, min_answers="2", max_answers="5", target_confidence="0.9"),
              "name": "Both"},
    )
    assert both.status_code == 303, both.text
    assert projects.get_project(env.db, actor=manager, project_id=label).name == "Both"
    got = redundancy.get_redundancy(env.db, actor=manager, project_id=label)
    assert got is not None
    assert (got.min_answers, got.max_answers) == (2, 5)
    assert audit_events(env, label, "project.updated") == 1
    assert audit_events(env, label, "project.redundancy_updated") == 1
    assert _retarget_jobs(env, label) == 1
    # Turning it off with another field changed: both again, in the one transaction.
    off = client.post(f"/manage/projects/{label}/settings",
                      data={**_form(csrf), "name": "Off"})
    assert off.status_code == 303, off.text
    assert projects.get_project(env.db, actor=manager, project_id=label).name == "Off"
    assert redundancy.get_redundancy(env.db, actor=manager, project_id=label) is None
    assert audit_events(env, label, "project.updated") == 2
    assert audit_events(env, label, "project.redundancy_removed") == 1
