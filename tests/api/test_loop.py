"""The annotator loop over HTTP: next, answer, replay, release."""

from __future__ import annotations

import json

from db_fixtures import Env, pairwise_item
from expertloop.domain import Role


def _setup(env: Env, n_items: int = 1, **options: object) -> tuple[int, object, object]:
    manager, worker = env.user(Role.MANAGER), env.user()
    project = env.project(manager, members=[worker], **options)
    env.items(manager, project, [pairwise_item(n) for n in range(n_items)])
    return project, manager, worker


def test_a_worker_gets_an_item_answers_it_and_the_answer_is_stored(env: Env) -> None:
    project, manager, worker = _setup(env)
    client = env.client(worker)  # type: ignore[arg-type]

    lease = client.post(f"/api/v1/projects/{project}/assignments/next")
    assert lease.status_code == 200
    body = lease.json()
    assert set(body) == {"assignment_id", "project_id", "task_type", "item", "expires_at"}
    assert body["item"]["payload"]["prompt"] == "Question 0?"

    answer = client.post(
        f"/api/v1/assignments/{body['assignment_id']}/answer",
        json={"answer": {"choice": "A", "strength": 2, "rationale": "clearer"}},
        headers={"Idempotency-Key": "k-1"},
    )
    assert answer.status_code == 201
    assert answer.json()["answer"] == {"choice": "A", "strength": 2, "rationale": "clearer"}

    exported = env.client(manager).get(f"/api/v1/projects/{project}/answers")  # type: ignore[arg-type]
    assert exported.headers["content-type"].startswith("application/x-ndjson")
    (row,) = [json.loads(line) for line in exported.text.splitlines()]
    assert row["item_id"] == body["item"]["id"]
    assert row["external_id"] == "item-0"


def test_answers_are_stored_in_canonical_terms_whatever_order_was_shown(env: Env) -> None:
    manager = env.user(Role.MANAGER)
    workers = [env.user() for _ in range(12)]
    project = env.project(manager, members=workers, answers_per_item=12)
    env.items(manager, project, [pairwise_item(1)])
    swaps = []
    for worker in workers:
        client = env.client(worker)
        lease = client.post(f"/api/v1/projects/{project}/assignments/next").json()
        shown = lease["item"]["payload"]
        # Each worker prefers the canonical response_a, wherever it was shown.
        choice = "A" if shown["response_a"] == "A1" else "B"
        swaps.append(choice == "B")
        client.post(
            f"/api/v1/assignments/{lease['assignment_id']}/answer",
            json={"answer": {"choice": choice}},
        )
    rows = env.client(manager).get(f"/api/v1/projects/{project}/answers").text.splitlines()
    stored = [json.loads(r) for r in rows]
    assert {r["answer"]["choice"] for r in stored} == {"A"}
    assert [r["presentation"]["swap"] for r in stored] == swaps
    assert 0 < sum(swaps) < len(swaps)  # both orders occurred (p ~ 2**-11 to fail by chance)


def test_next_returns_204_when_nothing_is_left_for_the_worker(env: Env) -> None:
    project, _, worker = _setup(env)
    client = env.client(worker)  # type: ignore[arg-type]
    lease = client.post(f"/api/v1/projects/{project}/assignments/next").json()
    client.post(
        f"/api/v1/assignments/{lease['assignment_id']}/answer", json={"answer": {"choice": "tie"}}
    )
    empty = client.post(f"/api/v1/projects/{project}/assignments/next")
    assert empty.status_code == 204
    assert empty.content == b""


def test_asking_again_while_holding_a_lease_returns_the_same_lease(env: Env) -> None:
    project, _, worker = _setup(env, n_items=3)
    client = env.client(worker)  # type: ignore[arg-type]
    first = client.post(f"/api/v1/projects/{project}/assignments/next").json()
    again = client.post(f"/api/v1/projects/{project}/assignments/next").json()
    assert again == first


def test_a_replayed_idempotency_key_returns_the_same_body_and_stores_one_answer(env: Env) -> None:
    project, manager, worker = _setup(env)
    client = env.client(worker)  # type: ignore[arg-type]
    lease = client.post(f"/api/v1/projects/{project}/assignments/next").json()
    url = f"/api/v1/assignments/{lease['assignment_id']}/answer"
    headers = {"Idempotency-Key": "retry-me"}
    first = client.post(url, json={"answer": {"choice": "B", "strength": 1}}, headers=headers)
    replay = client.post(url, json={"answer": {"choice": "B", "strength": 1}}, headers=headers)
    assert (first.status_code, replay.status_code) == (201, 200)
    assert replay.json() == first.json()
    other_key = client.post(url, json={"answer": {"choice": "A"}}, headers={"Idempotency-Key": "x"})
    assert other_key.status_code == 409
    assert other_key.json()["error"]["code"] == "already_answered"
    no_key = client.post(url, json={"answer": {"choice": "A"}})
    assert no_key.status_code == 409
    progress = env.client(manager).get(f"/api/v1/projects/{project}/progress").json()  # type: ignore[arg-type]
    assert progress["answers"] == 1


def test_an_idempotency_key_cannot_be_reused_for_another_assignment(env: Env) -> None:
    project, _, worker = _setup(env, n_items=2)
    client = env.client(worker)  # type: ignore[arg-type]
    headers = {"Idempotency-Key": "same"}
    for expected in (201, 409):
        lease = client.post(f"/api/v1/projects/{project}/assignments/next").json()
        response = client.post(
            f"/api/v1/assignments/{lease['assignment_id']}/answer",
            json={"answer": {"choice": "A"}},
            headers=headers,
        )
        assert response.status_code == expected
    assert "already used" in response.json()["error"]["message"]
    # The refused answer did not consume the item: the lease is still live and answerable.
    ok = client.post(
        f"/api/v1/assignments/{lease['assignment_id']}/answer", json={"answer": {"choice": "A"}}
    )
    assert ok.status_code == 201


def test_an_invalid_answer_gets_422_naming_the_field_and_the_lease_stays_usable(env: Env) -> None:
    project, _, worker = _setup(env)
    client = env.client(worker)  # type: ignore[arg-type]
    lease = client.post(f"/api/v1/projects/{project}/assignments/next").json()
    url = f"/api/v1/assignments/{lease['assignment_id']}/answer"
    bad = client.post(url, json={"answer": {"choice": "A", "strength": 9}})
    assert bad.status_code == 422
    assert bad.json()["error"]["code"] == "invalid_answer"
    assert bad.json()["error"]["details"][0]["field"] == "answer.strength"
    not_an_object = client.post(url, json={"answer": "A"})
    assert not_an_object.status_code == 422
    assert not_an_object.json()["error"]["details"][0]["field"] == "answer"
    assert client.post(url, json={"answer": {"choice": "A"}}).status_code == 201


def test_a_released_item_goes_to_another_worker_and_not_back_to_the_same(env: Env) -> None:
    project, manager, worker = _setup(env, answers_per_item=1)
    other = env.user()
    from expertloop.services.projects import add_members

    add_members(env.db, actor=manager, project_id=project, user_ids=[other.id])  # type: ignore[arg-type]
    client = env.client(worker)  # type: ignore[arg-type]
    lease = client.post(f"/api/v1/projects/{project}/assignments/next").json()
    assert env.client(other).post(f"/api/v1/projects/{project}/assignments/next").status_code == 204
    released = client.post(f"/api/v1/assignments/{lease['assignment_id']}/release")
    assert released.status_code == 204
    assert client.post(f"/api/v1/projects/{project}/assignments/next").status_code == 204
    taken = env.client(other).post(f"/api/v1/projects/{project}/assignments/next")
    assert taken.json()["item"]["id"] == lease["item"]["id"]
    twice = client.post(f"/api/v1/assignments/{lease['assignment_id']}/release")
    assert twice.status_code == 409


def test_a_worker_cannot_answer_or_release_someone_elses_assignment(env: Env) -> None:
    project, manager, worker = _setup(env)
    intruder = env.user()
    from expertloop.services.projects import add_members

    add_members(env.db, actor=manager, project_id=project, user_ids=[intruder.id])  # type: ignore[arg-type]
    lease = env.client(worker).post(f"/api/v1/projects/{project}/assignments/next").json()  # type: ignore[arg-type]
    thief = env.client(intruder)
    url = f"/api/v1/assignments/{lease['assignment_id']}"
    assert thief.post(f"{url}/answer", json={"answer": {"choice": "A"}}).status_code == 404
    assert thief.post(f"{url}/release").status_code == 404


def test_a_skipped_item_cannot_be_answered_afterwards(env: Env) -> None:
    project, _, worker = _setup(env, n_items=2)
    client = env.client(worker)  # type: ignore[arg-type]
    lease = client.post(f"/api/v1/projects/{project}/assignments/next").json()
    client.post(f"/api/v1/assignments/{lease['assignment_id']}/release")
    late = client.post(
        f"/api/v1/assignments/{lease['assignment_id']}/answer", json={"answer": {"choice": "A"}}
    )
    assert late.status_code == 409
    assert late.json()["error"]["code"] == "lease_lost"
    assert "skipped" in late.json()["error"]["message"]


def test_a_missing_body_is_reported_as_the_body(env: Env) -> None:
    project, _, worker = _setup(env)
    client = env.client(worker)  # type: ignore[arg-type]
    lease = client.post(f"/api/v1/projects/{project}/assignments/next").json()
    response = client.post(f"/api/v1/assignments/{lease['assignment_id']}/answer")
    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["field"] == "body"


def test_answers_are_checked_against_the_item_they_answer(env: Env) -> None:
    manager, worker = env.user(Role.MANAGER), env.user()
    project = env.project(manager, task_type="ranking", members=[worker])
    env.items(manager, project, [{"payload": {"prompt": "Best?", "responses": ["x", "y", "z"]}}])
    client = env.client(worker)
    lease = client.post(f"/api/v1/projects/{project}/assignments/next").json()
    url = f"/api/v1/assignments/{lease['assignment_id']}/answer"
    incomplete = client.post(url, json={"answer": {"ranking": [[0], [1]]}})
    assert incomplete.status_code == 422
    assert incomplete.json()["error"]["details"][0]["field"].startswith("answer.ranking")
    assert client.post(url, json={"answer": {"ranking": [[2], [0], [1]]}}).status_code == 201


def test_gold_needs_no_rationale_where_workers_must_give_one(env: Env) -> None:
    manager = env.user(Role.MANAGER)
    project = env.project(manager, config={"require_rationale": True})
    assert env.items(manager, project, [pairwise_item(1, gold={"choice": "A"})]) == 1


def test_an_answer_body_over_the_limit_is_refused_and_nothing_is_stored(env: Env) -> None:
    project, _, worker = _setup(env)
    client = env.client(worker)  # type: ignore[arg-type]
    lease = client.post(f"/api/v1/projects/{project}/assignments/next").json()
    url = f"/api/v1/assignments/{lease['assignment_id']}/answer"
    huge = {"answer": {"choice": "A", "rationale": "x" * (4 * 1024 * 1024)}}
    response = client.post(url, json=huge)
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"
    stored = client.post(url, json={"answer": {"choice": "A"}})
    assert stored.status_code == 201
