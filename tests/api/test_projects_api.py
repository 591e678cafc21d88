"""Projects: create, read, list, members, progress."""

from __future__ import annotations

from db_fixtures import Env, pairwise_item
from expertloop.domain import Role


def test_a_manager_creates_a_project_with_defaults(env: Env) -> None:
    manager = env.client(env.user(Role.MANAGER))
    created = manager.post(
        "/api/v1/projects",
        json={"name": "Med QA", "task_type": "pairwise", "guidelines": "# Be careful"},
    )
    assert created.status_code == 201
    project = created.json()
    assert project["answers_per_item"] == 3
    assert project["lease_seconds"] == 600
    assert project["created_at"].endswith("Z")
    assert manager.get(f"/api/v1/projects/{project['id']}").json() == project
    assert [p["id"] for p in manager.get("/api/v1/projects").json()] == [project["id"]]


def test_a_label_project_needs_a_label_set_and_the_error_names_it(env: Env) -> None:
    manager = env.client(env.user(Role.MANAGER))
    response = manager.post("/api/v1/projects", json={"name": "x", "task_type": "label"})
    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["field"] == "config.labels"
    unknown = manager.post("/api/v1/projects", json={"name": "x", "task_type": "essay"})
    assert "unknown task type 'essay'" in unknown.json()["error"]["message"]


def test_workers_cannot_create_projects(env: Env) -> None:
    worker = env.client(env.user())
    response = worker.post("/api/v1/projects", json={"name": "x", "task_type": "pairwise"})
    assert response.status_code == 403


def test_non_members_cannot_see_a_project_at_all(env: Env) -> None:
    manager = env.user(Role.MANAGER)
    project = env.project(manager)
    stranger = env.client(env.user())
    other_manager = env.client(env.user(Role.MANAGER))
    for client in (stranger, other_manager):
        assert client.get(f"/api/v1/projects/{project}").status_code == 404
        assert client.get(f"/api/v1/projects/{project}/progress").status_code == 404
        assert client.get("/api/v1/projects").json() == []
    admin = env.client(env.user(Role.ADMIN))
    assert admin.get(f"/api/v1/projects/{project}").status_code == 200


def test_managers_add_members_and_unknown_users_are_reported(env: Env) -> None:
    manager_user = env.user(Role.MANAGER)
    project = env.project(manager_user)
    worker = env.user()
    manager = env.client(manager_user)
    added = manager.post(f"/api/v1/projects/{project}/members", json={"user_ids": [worker.id]})
    assert added.json() == {"added": [worker.id]}
    assert env.client(worker).get(f"/api/v1/projects/{project}").status_code == 200
    again = manager.post(f"/api/v1/projects/{project}/members", json={"user_ids": [worker.id]})
    assert again.status_code == 200
    missing = manager.post(f"/api/v1/projects/{project}/members", json={"user_ids": [999999]})
    assert missing.status_code == 422
    assert "999999" in missing.json()["error"]["message"]


def test_members_who_are_workers_cannot_add_members(env: Env) -> None:
    manager = env.user(Role.MANAGER)
    worker = env.user()
    project = env.project(manager, members=[worker])
    response = env.client(worker).post(
        f"/api/v1/projects/{project}/members", json={"user_ids": [worker.id]}
    )
    assert response.status_code == 403


def test_progress_counts_items_answers_completions_and_live_leases(env: Env) -> None:
    manager = env.user(Role.MANAGER)
    workers = [env.user() for _ in range(2)]
    project = env.project(manager, members=workers, answers_per_item=2)
    env.items(manager, project, [pairwise_item(n) for n in range(3)])
    for worker in workers:
        client = env.client(worker)
        lease = client.post(f"/api/v1/projects/{project}/assignments/next").json()
        client.post(
            f"/api/v1/assignments/{lease['assignment_id']}/answer", json={"answer": {"choice": "B"}}
        )
    env.client(workers[0]).post(f"/api/v1/projects/{project}/assignments/next")
    progress = env.client(manager).get(f"/api/v1/projects/{project}/progress").json()
    assert progress == {"items": 3, "answers": 2, "items_complete": 1, "active_leases": 1}
