"""The SDK's managers' methods of a project: its settings (PATCH), archiving and the
guidelines' history, against the real test server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from db_fixtures import PASSWORD, Env, pairwise_item
from expertloop.client import Client, GuidelinesVersion, InvalidInput, NotFound, PermissionDenied
from expertloop.domain import Role


@pytest.fixture
def clients() -> Iterator[list[Client]]:
    made: list[Client] = []
    yield made
    for client in made:
        client.close()


def _login(env: Env, clients: list[Client], username: str) -> Client:
    client = Client.login(env.url, username, PASSWORD, backoff=0)
    clients.append(client)
    return client


def test_a_manager_changes_the_settings_and_the_guidelines_become_a_new_version(
    env: Env, clients: list[Client]
) -> None:
    env.user(Role.MANAGER, "mona")
    sdk = _login(env, clients, "mona")
    project = sdk.projects.create("Safety", "pairwise", guidelines="Prefer the safer answer.")
    assert project.guidelines_version == 1

    same = project.update(
        name="Safety, round 2", guidelines="Prefer the safer answer; cite the source.",
        answers_per_item=5, lease_seconds=900, max_lease_extensions=4,
        config={"require_rationale": True},
    )
    assert same is project
    assert (project.name, project.answers_per_item, project.lease_seconds) == (
        "Safety, round 2", 5, 900,
    )
    assert project.max_lease_extensions == 4
    assert project.config["require_rationale"] is True
    assert project.guidelines_version == 2
    # What the server keeps, read afresh.
    again = sdk.projects.get(project.id)
    assert (again.name, again.lease_seconds, again.guidelines_version) == (
        "Safety, round 2", 900, 2,
    )

    history = project.guidelines_history()
    assert [v.version for v in history] == [2, 1]
    assert all(isinstance(v, GuidelinesVersion) for v in history)
    assert history[0].text == "Prefer the safer answer; cite the source."
    assert history[1].text == "Prefer the safer answer."
    assert history[0].created_by_username == "mona"

    # The same guidelines again change nothing (a retried PATCH is harmless).
    project.update(guidelines="Prefer the safer answer; cite the source.")
    assert project.guidelines_version == 2
    assert len(project.guidelines_history()) == 2


def test_refused_settings_name_the_field_and_nothing_changes(
    env: Env, clients: list[Client]
) -> None:
    env.user(Role.MANAGER, "mona")
    sdk = _login(env, clients, "mona")
    project = sdk.projects.create("Safety", "pairwise")
    with pytest.raises(InvalidInput) as refused:
        project.update(lease_seconds=3)
    assert "lease_seconds" in str(refused.value)
    with pytest.raises(InvalidInput):
        project.update(config={"no_such_option": 1})
    with pytest.raises(ValueError, match="nothing to change"):
        project.update()
    assert sdk.projects.get(project.id).lease_seconds == 600


def test_an_archived_project_hands_out_nothing_until_unarchived(
    env: Env, clients: list[Client]
) -> None:
    manager, worker = env.user(Role.MANAGER, "mona"), env.user(username="wes")
    project_id = env.project(manager, members=[worker])
    env.items(manager, project_id, [pairwise_item(1)])
    sdk = _login(env, clients, "mona")
    project = sdk.projects.get(project_id)
    assert project.archived is False

    project.archive()
    assert project.archived is True
    assert project.archived_at is not None
    project.archive()  # archiving twice changes nothing
    assert project.archived is True
    wes = _login(env, clients, "wes")
    assert wes.projects.get(project_id).next() is None

    project.unarchive()
    assert project.archived is False
    assert project.archived_at is None
    assert wes.projects.get(project_id).next() is not None


def test_only_the_projects_managers_may_change_it(env: Env, clients: list[Client]) -> None:
    manager, worker = env.user(Role.MANAGER, "mona"), env.user(username="wes")
    env.user(Role.MANAGER, "otto")
    project_id = env.project(manager, members=[worker])
    wes = _login(env, clients, "wes").projects.get(project_id)
    with pytest.raises(PermissionDenied):
        wes.update(name="mine now")
    with pytest.raises(PermissionDenied):
        wes.archive()
    # A worker reads the guidelines' versions (they follow them).
    assert [v.version for v in wes.guidelines_history()] == [1]
    otto = _login(env, clients, "otto")
    with pytest.raises(NotFound):
        otto.projects.get(project_id)
