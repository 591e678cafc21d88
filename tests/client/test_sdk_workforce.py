"""The SDK's workforce: skills, credentials, project requirements, exams and gold accuracy."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from db_fixtures import PASSWORD, Env, pairwise_item
from expertloop.client import Client, InvalidInput, PermissionDenied
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


def test_a_manager_staffs_a_project_with_skills_an_exam_and_gold_through_the_sdk(
    env: Env, clients: list[Client]
) -> None:
    manager, worker = env.user(Role.MANAGER, "mona"), env.user(username="wes")
    exam = env.project(manager, members=[worker])
    env.items(manager, exam, [pairwise_item(1, gold={"choice": "A"})])
    project = env.project(manager, members=[worker])
    env.items(manager, project, [pairwise_item(2)])
    sdk = _login(env, clients, "mona")
    profile = sdk.workforce.set_skills(worker.id, {"medicine": 3})
    assert profile["skills"] == {"medicine": 3}
    credential = sdk.workforce.add_credential(
        worker.id, "degree", "MD", evidence="Diploma seen", verified=True
    )
    assert credential["verified"] is True
    assert sdk.workforce.profile(worker.id)["credentials"][0]["title"] == "MD"
    settings = sdk.workforce.update(
        project, required_skills={"medicine": 2}, gold_share=0.1,
        qualification={"exam_project_id": exam, "pass_mark": 0.5},
    )
    assert settings["required_skills"] == {"medicine": 2}
    assert settings["qualification"]["exam_project_id"] == exam
    assert sdk.workforce.settings(exam)["is_exam"] is True
    with pytest.raises(InvalidInput):
        sdk.workforce.update(project, gold_share=2)
    wes = _login(env, clients, "wes")
    assert wes.workforce.qualification(project)["status"] == "not_started"
    assert wes.projects.get(project).next() is None  # not qualified yet
    assignment = wes.projects.get(exam).next()
    assert assignment is not None
    a_first = assignment.item.payload["response_a"].startswith("A")
    assignment.answer({"choice": "A" if a_first else "B"})
    assert wes.workforce.qualification(project)["status"] == "passed"
    assert [r["status"] for r in sdk.workforce.qualification_results(project)] == ["passed"]
    assert wes.projects.get(project).next() is not None
    assert wes.workforce.my_gold_accuracy(project)["gold_answers"] == 0
    with pytest.raises(PermissionDenied):
        wes.workforce.gold_accuracy(project)
    assert sdk.workforce.gold_accuracy(exam, worker.id)["gold_correct"] == 1
    sdk.workforce.remove_credential(worker.id, credential["id"])
    assert sdk.workforce.profile(worker.id)["credentials"] == []
