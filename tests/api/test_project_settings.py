"""Editing a project (PATCH), its guidelines' versions, archiving, and the user directory's
search, over the REST API."""

from __future__ import annotations

import json

from sqlalchemy import select

from db_fixtures import Env, pairwise_item
from expertloop.domain import Role
from expertloop.store import tables as t

CHOICE = {"choice": "A", "strength": 1}


def _audit(env: Env, action: str) -> list[t.AuditEvent]:
    with env.db.read() as conn:
        return list(
            conn.execute(select(t.AuditEvent).where(t.AuditEvent.action == action)).mappings()
        )


def test_a_manager_edits_a_projects_settings_and_the_audit_log_keeps_before_and_after(
    env: Env,
) -> None:
    manager = env.user(Role.MANAGER)
    project = env.project(manager)
    api = env.client(manager)
    changed = api.patch(
        f"/api/v1/projects/{project}",
        json={"name": "Renamed", "answers_per_item": 5, "lease_seconds": 1200},
    )
    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert (body["name"], body["answers_per_item"], body["lease_seconds"]) == ("Renamed", 5, 1200)
    assert body["guidelines_version"] == 1
    assert api.get(f"/api/v1/projects/{project}").json()["name"] == "Renamed"
    [event] = _audit(env, "project.updated")
    assert event["before"] == {"name": "test project", "answers_per_item": 3, "lease_seconds": 600}
    assert event["after"] == {"name": "Renamed", "answers_per_item": 5, "lease_seconds": 1200}
    # Saving the same values again changes nothing and logs nothing.
    assert api.patch(f"/api/v1/projects/{project}", json={"name": "Renamed"}).status_code == 200
    assert len(_audit(env, "project.updated")) == 1


def test_a_project_edit_is_refused_with_the_field_named(env: Env) -> None:
    manager = env.user(Role.MANAGER)
    project = env.project(manager, task_type="label", config={"labels": ["a", "b"]})
    api = env.client(manager)
    cases = {
        "name": {"name": "  "},
        "config.labels": {"config": {"labels": ["only"]}},
        "lease_seconds": {"lease_seconds": 1},
        "extra": {"extra": 1},
        "guidelines": {"guidelines": None},
    }
    for field, body in cases.items():
        response = api.patch(f"/api/v1/projects/{project}", json=body)
        assert response.status_code == 422, (field, response.text)
        assert response.json()["error"]["details"][0]["field"] == field, response.text


def test_only_the_projects_managers_edit_archive_or_list_its_members(env: Env) -> None:
    owner, other = env.user(Role.MANAGER), env.user(Role.MANAGER)
    worker = env.user()
    project = env.project(owner, members=[worker])
    as_worker, as_other = env.client(worker), env.client(other)
    assert as_worker.patch(f"/api/v1/projects/{project}", json={"name": "x"}).status_code == 403
    assert as_worker.post(f"/api/v1/projects/{project}/archive").status_code == 403
    assert as_worker.get(f"/api/v1/projects/{project}/members").status_code == 403
    # Another manager does not even learn that the project exists.
    assert as_other.patch(f"/api/v1/projects/{project}", json={"name": "x"}).status_code == 404
    assert as_other.post(f"/api/v1/projects/{project}/archive").status_code == 404
    members = env.client(owner).get(f"/api/v1/projects/{project}/members").json()
    assert sorted(m["username"] for m in members) == sorted([owner.username, worker.username])


def test_each_guidelines_edit_is_a_new_version_listed_newest_first(env: Env) -> None:
    manager = env.user(Role.MANAGER)
    worker = env.user()
    project = env.project(manager, guidelines="v1 text", members=[worker])
    api = env.client(manager)
    api.patch(f"/api/v1/projects/{project}", json={"guidelines": "v2 text"})
    api.patch(f"/api/v1/projects/{project}", json={"guidelines": "v2 text", "name": "n"})
    api.patch(f"/api/v1/projects/{project}", json={"guidelines": "v3 text"})
    # Workers read the guidelines, so they may read their history too.
    history = env.client(worker).get(f"/api/v1/projects/{project}/guidelines").json()
    assert history["current_version"] == 3
    assert [(v["version"], v["text"]) for v in history["versions"]] == [
        (3, "v3 text"),
        (2, "v2 text"),
        (1, "v1 text"),
    ]
    assert history["versions"][0]["created_by_username"] == manager.username
    events = _audit(env, "project.updated")
    assert events[0]["before"]["guidelines"] == {"version": 1}
    assert events[0]["after"]["guidelines"] == {"version": 2}
    assert env.client(env.user()).get(f"/api/v1/projects/{project}/guidelines").status_code == 404


def test_an_answer_records_the_guidelines_version_of_its_lease_not_of_its_submission(
    env: Env,
) -> None:
    manager, worker = env.user(Role.MANAGER), env.user()
    project = env.project(manager, members=[worker], guidelines="first")
    env.items(manager, project, [pairwise_item(n) for n in range(2)])
    api, as_manager = env.client(worker), env.client(manager)
    first = api.post(f"/api/v1/projects/{project}/assignments/next").json()
    as_manager.patch(f"/api/v1/projects/{project}", json={"guidelines": "second"})
    answered = api.post(f"/api/v1/assignments/{first['assignment_id']}/answer", json={"answer": CHOICE})
    assert answered.status_code == 201
    assert answered.json()["guidelines_version"] == 1
    second = api.post(f"/api/v1/projects/{project}/assignments/next").json()
    again = api.post(
        f"/api/v1/assignments/{second['assignment_id']}/answer",
        json={"answer": CHOICE},
        headers={"Idempotency-Key": "k-2"},
    )
    assert again.json()["guidelines_version"] == 2
    replay = api.post(
        f"/api/v1/assignments/{second['assignment_id']}/answer",
        json={"answer": CHOICE},
        headers={"Idempotency-Key": "k-2"},
    )
    assert replay.status_code == 200
    assert replay.json()["guidelines_version"] == 2
    exported = as_manager.get(f"/api/v1/projects/{project}/answers").text.splitlines()
    assert [json.loads(line)["guidelines_version"] for line in exported] == [1, 2]
    with env.db.read() as conn:
        stored = conn.execute(
            select(t.Answer.guidelines_version).order_by(t.Answer.id)
        ).scalars().all()
    assert stored == [1, 2]
    # Reviewers see it too.
    assert as_manager.post(f"/api/v1/projects/{project}/reviews", json={"fraction": 1}).status_code == 201
    reviewed = as_manager.get(f"/api/v1/projects/{project}/reviews").json()
    assert sorted(r["guidelines_version"] for r in reviewed) == [1, 2]


def test_an_archived_project_hands_out_nothing_but_takes_the_answer_to_a_held_lease(
    env: Env,
) -> None:
    manager, worker = env.user(Role.MANAGER), env.user()
    project = env.project(manager, members=[worker])
    env.items(manager, project, [pairwise_item(n) for n in range(3)])
    api, as_manager = env.client(worker), env.client(manager)
    held = api.post(f"/api/v1/projects/{project}/assignments/next").json()
    archived = as_manager.post(f"/api/v1/projects/{project}/archive")
    assert archived.status_code == 200
    assert archived.json()["archived"] is True
    assert api.post(f"/api/v1/projects/{project}/assignments/next").status_code == 204
    answer = api.post(f"/api/v1/assignments/{held['assignment_id']}/answer", json={"answer": CHOICE})
    assert answer.status_code == 201
    # Its data stays readable, and archiving twice changes nothing.
    assert as_manager.get(f"/api/v1/projects/{project}/progress").json()["answers"] == 1
    assert as_manager.post(f"/api/v1/projects/{project}/archive").status_code == 200
    assert len(_audit(env, "project.archived")) == 1
    restored = as_manager.post(f"/api/v1/projects/{project}/unarchive")
    assert restored.json()["archived"] is False
    assert api.post(f"/api/v1/projects/{project}/assignments/next").status_code == 200


def test_managers_search_users_by_username_prefix_a_page_at_a_time(env: Env) -> None:
    manager = env.user(Role.MANAGER, "mgr")
    other_manager = env.user(Role.MANAGER, "zed")
    names = ["Ann", "anna", "annabel", "bob", "an_x", "anx"]
    people = {n: env.user(Role.WORKER, n) for n in names}
    mine = env.project(manager, members=[people["anna"]])
    env.project(other_manager, members=[people["anna"]])  # not the manager's to see
    api = env.client(manager)
    first = api.get("/api/v1/users", params={"q": "ANN", "limit": 2})
    assert [u["username"] for u in first.json()] == ["Ann", "anna"]
    assert first.headers["x-next-after"] == "anna"
    rest = api.get("/api/v1/users", params={"q": "ann", "limit": 2, "after": "anna"})
    assert [u["username"] for u in rest.json()] == ["annabel"]
    assert "x-next-after" not in rest.headers
    # LIKE's wildcards are plain characters in a search.
    assert [u["username"] for u in api.get("/api/v1/users", params={"q": "an_"}).json()] == [
        "an_x"
    ]
    anna = next(u for u in api.get("/api/v1/users", params={"q": "anna"}).json())
    assert anna["projects"] == [mine]
    assert api.get("/api/v1/users", params={"q": "a\x00"}).status_code == 422
