"""The SDK disables, enables and deletes items, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from db_fixtures import Env, pairwise_item
from expertloop.client import Client, InvalidInput, ItemState, PermissionDenied
from expertloop.domain import Role


def test_a_manager_disables_enables_and_deletes_items_through_the_sdk(env: Env) -> None:
    manager, worker = env.user(Role.MANAGER), env.user()
    project_id = env.project(manager, members=[worker], answers_per_item=1)
    env.items(manager, project_id, [pairwise_item(1)])
    with Client(env.url, env.token_for(manager), backoff=0) as client, Client(
        env.url, env.token_for(worker), backoff=0
    ) as worker_client:
        project = client.projects.get(project_id)
        working = worker_client.projects.get(project_id)
        assignment = working.next()
        assert assignment is not None
        item = assignment.item.id

        state = project.items.disable(item, reason="ambiguous prompt")
        assert isinstance(state, ItemState)
        assert (state.status, state.disabled_reason) == ("disabled", "ambiguous prompt")
        assert state.disabled_at is not None
        assert project.items.get(item).open_slots == 0
        with pytest.raises(PermissionDenied):
            working.items.disable(item)

        assert project.items.enable(item).status == "active"
        assert project.items.delete(item).status == "deleted"
        with pytest.raises(InvalidInput):
            project.items.enable(item)
