"""The console's project and people pages over HTTP, on both databases: who may open them,
what they show, and what their forms change."""

from __future__ import annotations

import re

import httpx
import pytest

from db_fixtures import PASSWORD, Env, pairwise_item
from expertloop.domain import Role, User
from expertloop.services import projects
from expertloop.settings import Settings
from expertloop.web.sessions import SESSION_COOKIE, csrf_token_for

SECRET = Settings().secret_key  # the test server runs with the default development key

CONSOLE_PAGES = [
    "/manage",
    "/manage/people",
    "/manage/projects/new",
    "/manage/projects/{id}/settings",
    "/manage/projects/{id}/members",
]


def _signed_in(env: Env, user: User) -> tuple[httpx.Client, str]:
    client = httpx.Client(base_url=env.url, timeout=30, follow_redirects=False)
    env.clients.append(client)
    page = client.get("/login")
    token = re.search(r'name="csrf_token" value="([0-9a-f]+)"', page.text)
    assert token is not None
    response = client.post(
        "/login",
        data={
            "csrf_token": token.group(1),
            "next": "/",
            "username": user.username,
            "password": PASSWORD,
        },
    )
    assert response.status_code == 303, response.text
    session = client.cookies.get(SESSION_COOKIE)
    assert session
    return client, csrf_token_for(SECRET, session)


@pytest.mark.parametrize("role", [Role.WORKER, Role.REVIEWER])
def test_a_worker_or_reviewer_can_open_no_console_page(env: Env, role: Role) -> None:
    manager = env.user(Role.MANAGER)
    person = env.user(role)
    project = env.project(manager, members=[person])
    client, csrf = _signed_in(env, person)
    for path in CONSOLE_PAGES:
        response = client.get(path.format(id=project))
        assert response.status_code == 403, path
        assert "text/html" in response.headers["content-type"]
        assert "for project managers and admins" in response.text
    refused = client.post(f"/manage/projects/{project}/archive", data={"csrf_token": csrf})
    assert refused.status_code == 403
    assert not projects.get_project(env.db, actor=manager, project_id=project).is_archived
    # ...and the worker's home has no link to the console.
    assert "/manage" not in client.get("/").text


def test_a_visitor_who_is_not_signed_in_is_sent_to_sign_in_and_back(env: Env) -> None:
    client = httpx.Client(base_url=env.url, timeout=30, follow_redirects=False)
    env.clients.append(client)
    response = client.get("/manage/people")
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/manage/people"


def test_a_manager_sees_only_their_own_projects_and_cannot_open_anothers(env: Env) -> None:
    alice, bob = env.user(Role.MANAGER, "alice"), env.user(Role.MANAGER, "bob")
    mine = projects.create_project(
        env.db, actor=alice, name="Alice's triage", task_type="label", config={"labels": ["a", "b"]}
    )
    theirs = projects.create_project(env.db, actor=bob, name="Bob's ranking", task_type="ranking")
    client, _ = _signed_in(env, alice)
    home = client.get("/manage")
    assert home.status_code == 200
    assert "Alice&#39;s triage" in home.text
    assert "Bob&#39;s ranking" not in home.text
    for path in CONSOLE_PAGES[3:]:
        assert client.get(path.format(id=theirs.id)).status_code == 404
        assert client.get(path.format(id=mine.id)).status_code == 200
    # The worker home of a manager links to the console.
    assert 'href="/manage"' in client.get("/").text


def test_the_project_list_shows_progress_and_archived_projects_apart(env: Env) -> None:
    manager = env.user(Role.MANAGER)
    running = env.project(manager)
    env.items(manager, running, [pairwise_item(n) for n in range(4)])
    stopped = projects.create_project(env.db, actor=manager, name="Old study", task_type="pairwise")
    projects.archive_project(env.db, actor=manager, project_id=stopped.id)
    client, _ = _signed_in(env, manager)
    page = client.get("/manage").text
    active, _, archived = page.partition('id="archived-heading"')
    assert f'href="/manage/projects/{running}"' in active
    assert "0 / 4" in active
    assert "Old study" in archived
    assert "Old study" not in active
    assert 'href="/manage/projects/new"' in page


def test_creating_a_project_from_the_form_stores_its_settings_and_config(env: Env) -> None:
    manager = env.user(Role.MANAGER)
    client, csrf = _signed_in(env, manager)
    form = client.get("/manage/projects/new?task_type=label")
    assert form.status_code == 200
    # The config form is filled with the task type's example, and the preview renders it.
    assert 'name="config.labels"' in form.text
    assert "Urgent" in form.text
    assert "data-preview" in form.text
    created = client.post(
        "/manage/projects/new",
        data={
            "csrf_token": csrf,
            "task_type": "label",
            "name": "Inbox triage",
            "guidelines": "# Route each message",
            "answers_per_item": "2",
            "lease_seconds": "900",
            "config.labels": "Urgent\nRoutine\n\n",
            "config.multiple": "true",
        },
    )
    assert created.status_code == 303, created.text
    project_id = int(created.headers["location"].split("/")[3])
    project = projects.get_project(env.db, actor=manager, project_id=project_id)
    assert (project.name, project.task_type, project.answers_per_item, project.lease_seconds) == (
        "Inbox triage",
        "label",
        2,
        900,
    )
    assert project.config["labels"] == ["Urgent", "Routine"]
    assert project.config["multiple"] is True
    assert project.guidelines == "# Route each message"


def test_the_create_form_shows_each_error_next_to_its_field_and_keeps_what_was_typed(
    env: Env,
) -> None:
    manager = env.user(Role.MANAGER)
    client, csrf = _signed_in(env, manager)
    refused = client.post(
        "/manage/projects/new",
        data={
            "csrf_token": csrf,
            "task_type": "label",
            "name": "Keep this name",
            "guidelines": "",
            "answers_per_item": "0",
            "lease_seconds": "600",
            "config.labels": "only one",
        },
    )
    assert refused.status_code == 422
    page = refused.text
    assert 'value="Keep this name"' in page
    answers_field = page[page.index('data-field="answers_per_item"') :]
    assert "greater than or equal to 1" in answers_field[: answers_field.index("</div>")]
    labels_field = page[page.index('data-field="config.labels"') :]
    assert "at least 2 items" in labels_field[: labels_field.index("</div>")]
    assert projects.list_projects(env.db, actor=manager) == []


def test_the_preview_renders_the_example_item_with_the_config_being_typed(env: Env) -> None:
    manager = env.user(Role.MANAGER)
    client, csrf = _signed_in(env, manager)
    headers = {"X-CSRF-Token": csrf}
    shown = client.post(
        "/ui/manage/preview",
        json={"task_type": "label", "fields": {"config.labels": "Spam\nHam"}},
        headers=headers,
    )
    assert shown.status_code == 200
    html = shown.json()["html"]
    assert "Spam" in html
    assert "Ham" in html
    assert "Urgent" not in html
    bad = client.post(
        "/ui/manage/preview",
        json={"task_type": "label", "fields": {"config.labels": "Spam"}},
        headers=headers,
    )
    assert bad.status_code == 422
    assert bad.json()["error"]["details"][0]["field"] == "config.labels"
    worker_client, worker_csrf = _signed_in(env, env.user())
    assert (
        worker_client.post(
            "/ui/manage/preview",
            json={"task_type": "label", "fields": {}},
            headers={"X-CSRF-Token": worker_csrf},
        ).status_code
        == 403
    )


def test_saving_new_guidelines_on_the_settings_page_adds_a_version_shown_with_its_diff(
    env: Env,
) -> None:
    manager = env.user(Role.MANAGER)
    project = projects.create_project(
        env.db,
        actor=manager,
        name="Study",
        task_type="label",
        config={"labels": ["yes", "no"]},
        guidelines="Say yes or no.",
    )
    client, csrf = _signed_in(env, manager)
    saved = client.post(
        f"/manage/projects/{project.id}/settings",
        data={
            "csrf_token": csrf,
            "name": "Study, round 2",
            "guidelines": "Say yes or no.\nWhen unsure, say no.",
            "answers_per_item": "3",
            "lease_seconds": "600",
            "config.labels": "yes\nno",
        },
    )
    assert saved.status_code == 303
    after = projects.get_project(env.db, actor=manager, project_id=project.id)
    assert after.name == "Study, round 2"
    assert after.guidelines_version == 2
    page = client.get(f"/manage/projects/{project.id}/settings").text
    assert "Version 2" in page
    assert "Version 1" in page
    assert '<span class="console-diff__add">+ When unsure, say no.</span>' in page


def test_the_settings_page_refuses_a_bad_value_and_changes_nothing(env: Env) -> None:
    manager = env.user(Role.MANAGER)
    project = env.project(manager)
    client, csrf = _signed_in(env, manager)
    refused = client.post(
        f"/manage/projects/{project}/settings",
        data={"csrf_token": csrf, "name": "  ", "lease_seconds": "5"},
    )
    assert refused.status_code == 422
    assert "greater than or equal to 10" in refused.text
    assert projects.get_project(env.db, actor=manager, project_id=project).lease_seconds == 600
    no_token = client.post(f"/manage/projects/{project}/settings", data={"name": "x"})
    assert no_token.status_code == 403


def test_archiving_from_the_settings_page_stops_the_items_and_unarchiving_restarts_them(
    env: Env,
) -> None:
    manager, worker = env.user(Role.MANAGER), env.user()
    project = env.project(manager, members=[worker])
    env.items(manager, project, [pairwise_item(1)])
    client, csrf = _signed_in(env, manager)
    assert (
        client.post(f"/manage/projects/{project}/archive", data={"csrf_token": csrf}).headers[
            "location"
        ]
        == f"/manage/projects/{project}/settings?archived=1"
    )
    api = env.client(worker)
    assert api.post(f"/api/v1/projects/{project}/assignments/next").status_code == 204
    assert "This project is archived" in client.get(f"/manage/projects/{project}/settings").text
    client.post(f"/manage/projects/{project}/unarchive", data={"csrf_token": csrf})
    assert api.post(f"/api/v1/projects/{project}/assignments/next").status_code == 200


def test_members_are_added_by_username_and_removed_from_the_members_page(env: Env) -> None:
    manager = env.user(Role.MANAGER)
    env.user(Role.WORKER, "Wanda.Expert")
    project = env.project(manager)
    client, csrf = _signed_in(env, manager)
    added = client.post(
        f"/manage/projects/{project}/members",
        data={"csrf_token": csrf, "username": "wanda.expert"},
    )
    assert added.status_code == 303
    page = client.get(added.headers["location"]).text
    assert "Added Wanda.Expert." in page
    wanda = next(
        m
        for m in projects.list_members(env.db, actor=manager, project_id=project)
        if m.username == "Wanda.Expert"
    )
    unknown = client.post(
        f"/manage/projects/{project}/members", data={"csrf_token": csrf, "username": "nobody"}
    )
    assert unknown.status_code == 422
    assert "No user is named &#39;nobody&#39;." in unknown.text
    removed = client.post(
        f"/manage/projects/{project}/members/{wanda.user_id}/remove", data={"csrf_token": csrf}
    )
    assert removed.status_code == 303
    assert "Removed Wanda.Expert." in client.get(removed.headers["location"]).text
    members = projects.list_members(env.db, actor=manager, project_id=project)
    assert [m.username for m in members] == [manager.username]


def test_the_people_directory_searches_by_username_prefix_a_page_at_a_time(env: Env) -> None:
    manager = env.user(Role.MANAGER, "manager-m")
    for n in range(55):
        env.user(Role.WORKER, f"expert{n:02d}")
    env.user(Role.WORKER, "other")
    client, _ = _signed_in(env, manager)
    first = client.get("/manage/people?q=EXPERT")
    assert first.status_code == 200

    def rows(html: str) -> list[str]:
        # Each username links to the person's page.
        return re.findall(r'<th scope="row"><a href="/manage/people/\d+">([^<]+)</a></th>', html)

    assert rows(first.text) == [f"expert{n:02d}" for n in range(50)]
    assert "after=expert49" in first.text
    second = client.get("/manage/people?q=expert&after=expert49").text
    assert rows(second) == [f"expert{n:02d}" for n in range(50, 55)]
    assert "Next page" not in second
    # Managers look people up; only admins create or suspend accounts.
    assert "Create an account" not in first.text
    assert client.post("/manage/people", data={}).status_code == 403


def test_an_admin_creates_suspends_and_reactivates_accounts_from_the_people_page(
    env: Env,
) -> None:
    admin = env.user(Role.ADMIN)
    client, csrf = _signed_in(env, admin)
    bad = client.post(
        "/manage/people",
        data={"csrf_token": csrf, "username": "new.expert", "role": "worker", "password": "short"},
    )
    assert bad.status_code == 422
    assert "at least 8 characters" in bad.text
    created = client.post(
        "/manage/people",
        data={
            "csrf_token": csrf,
            "username": "new.expert",
            "role": "reviewer",
            "password": "long-enough",
        },
    )
    assert created.status_code == 303
    assert "Account new.expert created" in client.get(created.headers["location"]).text
    token = env.client().post(
        "/api/v1/auth/token", json={"username": "new.expert", "password": "long-enough"}
    )
    assert token.status_code == 200
    user_id = env.client(admin).get("/api/v1/users?q=new.expert").json()[0]["id"]
    suspended = client.post(f"/manage/people/{user_id}/suspend", data={"csrf_token": csrf})
    assert suspended.status_code == 303
    assert "suspended" in client.get(suspended.headers["location"]).text
    assert (
        env.client()
        .post("/api/v1/auth/token", json={"username": "new.expert", "password": "long-enough"})
        .status_code
        == 401
    )
    client.post(f"/manage/people/{user_id}/reactivate", data={"csrf_token": csrf})
    assert (
        env.client()
        .post("/api/v1/auth/token", json={"username": "new.expert", "password": "long-enough"})
        .status_code
        == 200
    )


def test_the_new_project_form_of_every_task_type_shows_its_example_in_the_preview(
    env: Env,
) -> None:
    from expertloop.tasks import TASK_TYPES

    client, _ = _signed_in(env, env.user(Role.MANAGER))
    for task_type in sorted(TASK_TYPES):
        page = client.get(f"/manage/projects/new?task_type={task_type}")
        assert page.status_code == 200, task_type
        preview = page.text[page.text.index("data-preview aria-live") :]
        assert f'data-task-type="{task_type}"' in preview, task_type
