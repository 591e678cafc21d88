"""Members by username, and the formats a project exports, through the SDK on both databases."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from db_fixtures import Env
from expertloop.client import Client, InvalidInput
from expertloop.domain import Role
from expertloop.tasks import TASK_TYPES, get_task_type


@pytest.fixture
def manager(env: Env) -> Iterator[Client]:
    client = Client(env.url, env.token_for(env.user(Role.MANAGER, "mia")), backoff=0)
    yield client
    client.close()


def test_a_manager_adds_members_by_username_id_or_user(env: Env, manager: Client) -> None:
    alice = env.user(Role.WORKER, "alice")
    bob = env.user(Role.WORKER, "bob")
    carol = env.user(Role.WORKER, "carol")
    project = manager.projects.create("Triage", "label", config={"labels": ["a", "b"]})
    added = project.members.add(["alice", bob.id])
    assert added == sorted([alice.id, bob.id])
    assert project.members.add("carol") == [carol.id]
    worker = Client(env.url, env.token_for(alice), backoff=0)
    try:
        assert [p.id for p in worker.projects.list()] == [project.id]
    finally:
        worker.close()


def test_an_unknown_username_is_named_and_nobody_is_added(env: Env, manager: Client) -> None:
    alice = env.user(Role.WORKER, "alice")
    project = manager.projects.create("Triage", "label", config={"labels": ["a", "b"]})
    with pytest.raises(InvalidInput, match="no such users: nobody"):
        project.members.add(["alice", "nobody"])
    worker = Client(env.url, env.token_for(alice), backoff=0)
    try:
        assert worker.projects.list() == []
    finally:
        worker.close()


def test_naming_no_user_at_all_is_refused(env: Env, manager: Client) -> None:
    project = manager.projects.create("Triage", "label", config={"labels": ["a", "b"]})
    with env.client(env.user(Role.ADMIN)) as http:
        response = http.post(f"/api/v1/projects/{project.id}/members", json={})
    assert response.status_code == 422
    assert "user_ids or usernames" in response.text


@pytest.mark.parametrize("task_type", sorted(TASK_TYPES))
def test_a_project_says_which_formats_it_exports(env: Env, manager: Client, task_type: str) -> None:
    task = get_task_type(task_type)
    project = manager.projects.create("Formats", task_type, config=task.example.config)
    assert project.export_formats == tuple(task.export_formats)
    assert manager.projects.get(project.id).export_formats == tuple(task.export_formats)


def test_a_manager_looks_up_users_by_the_start_of_their_name_across_pages(
    env: Env, manager: Client
) -> None:
    for n in range(5):
        env.user(Role.WORKER, f"dr-{n}")
    env.user(Role.WORKER, "nurse-1")
    assert [u.username for u in manager.users.search("DR-")] == [f"dr-{n}" for n in range(5)]
    assert [u.username for u in manager.users.search("dr-", limit=2)] == ["dr-0", "dr-1"]
    import expertloop.client.client as sdk_client

    original = sdk_client._USERS_PAGE
    sdk_client._USERS_PAGE = 2  # three requests, following X-Next-After
    try:
        assert len(manager.users.search("dr-")) == 5
    finally:
        sdk_client._USERS_PAGE = original
    assert "nurse-1" in [u.username for u in manager.users.list()]
