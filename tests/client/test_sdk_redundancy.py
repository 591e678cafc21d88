"""The SDK's adaptive redundancy: set on create, read, change, turn off."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from db_fixtures import PASSWORD, Env
from expertloop.client import Client, InvalidInput
from expertloop.domain import Role


@pytest.fixture
def clients() -> Iterator[list[Client]]:
    made: list[Client] = []
    yield made
    for client in made:
        client.close()


def test_a_manager_runs_a_project_with_adaptive_redundancy_through_the_sdk(
    env: Env, clients: list[Client]
) -> None:
    env.user(Role.MANAGER, "mona")
    sdk = Client.login(env.url, "mona", PASSWORD, backoff=0)
    clients.append(sdk)
    project = sdk.projects.create(
        "Triage", "label", config={"labels": ["urgent", "routine"]},
        redundancy={"min_answers": 2, "max_answers": 7, "target_confidence": 0.98},
    )
    assert sdk.redundancy.get(project) == {
        "adaptive": True, "min_answers": 2, "max_answers": 7, "target_confidence": 0.98,
        "audit_share": 0.0,
    }
    changed = sdk.redundancy.set(project.id, min_answers=3, max_answers=5,
                                 target_confidence=0.9, audit_share=0.1)
    assert (changed["max_answers"], changed["audit_share"]) == (5, 0.1)
    assert sdk.redundancy.get(project)["audit_share"] == 0.1
    with pytest.raises(InvalidInput) as caught:
        sdk.redundancy.set(project, audit_share=1.5)
    assert "audit_share" in str(caught.value)
    with pytest.raises(InvalidInput) as caught:
        sdk.redundancy.set(project, min_answers=6, max_answers=5)
    assert "max_answers" in str(caught.value)
    sdk.redundancy.remove(project)
    assert sdk.redundancy.get(project)["adaptive"] is False
