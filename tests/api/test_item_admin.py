"""Items that cannot be served are skipped and flagged; managers disable, enable and delete
items (answers kept); exports read what older versions stored without dying mid-stream."""

from __future__ import annotations

import json
from typing import Any

import pytest
from project_health import assert_project_still_works
from sqlalchemy import text

from db_fixtures import Env, pairwise_item
from expertloop.domain import Role, User
from expertloop.services.clock import utcnow
from expertloop.store import items as item_store


def _deep(levels: int) -> Any:
    value: Any = "bottom"
    for _ in range(levels):
        value = {"x": value}
    return value


def _store_unchecked(env: Env, project: int, payload_extra: Any, **item: Any) -> int:
    """Store an item as an older version did, without the checks at the door."""
    base = pairwise_item(99)
    payload = {**base["payload"], "extra": payload_extra}
    with env.db.write() as conn:
        item_store.insert_items(
            conn,
            project,
            [{"external_id": "poison", "payload": payload, "gold": None, **item}],
            target=1,
            now=utcnow(),
        )
        return int(conn.execute(text("SELECT max(id) FROM items")).scalar_one())


# Stored payloads orjson cannot send, on both databases: 64+-bit integers, deep nesting.
UNSERVABLE = {"an integer beyond 64 bits": 2**70, "nesting 300 levels deep": _deep(300)}


@pytest.mark.parametrize("poison", UNSERVABLE, ids=list(UNSERVABLE))
def test_an_item_that_cannot_be_served_is_skipped_and_disabled_with_the_reason(
    env: Env, poison: str
) -> None:
    manager, worker = env.user(Role.MANAGER), env.user()
    project = env.project(manager, members=[worker], answers_per_item=1)
    env.items(manager, project, [pairwise_item(1)])
    bad = _store_unchecked(env, project, UNSERVABLE[poison], priority=100)
    client = env.client(worker)
    lease = client.post(f"/api/v1/projects/{project}/assignments/next")
    assert lease.status_code == 200, lease.text
    assert lease.json()["item"]["id"] != bad
    state = env.client(manager).get(f"/api/v1/items/{bad}").json()
    assert state["status"] == "disabled"
    assert state["disabled_reason"].startswith("payload cannot be served")
    assert state["open_slots"] == 0
    # Every later call works too: the item is never offered again.
    stored = client.post(
        f"/api/v1/assignments/{lease.json()['assignment_id']}/answer",
        json={"answer": {"choice": "A"}},
    )
    assert stored.status_code == 201
    assert client.post(f"/api/v1/projects/{project}/assignments/next").status_code == 204
    assert_project_still_works(env, manager, project)


def test_exports_read_nan_and_lone_surrogates_an_older_version_stored(env: Env) -> None:
    if not env.db.is_sqlite:
        pytest.skip("PostgreSQL's jsonb never held NaN or lone surrogates")
    manager, worker = env.user(Role.MANAGER), env.user()
    project = env.project(manager, members=[worker], answers_per_item=1)
    env.items(manager, project, [pairwise_item(1)])
    client = env.client(worker)
    lease = client.post(f"/api/v1/projects/{project}/assignments/next").json()
    client.post(
        f"/api/v1/assignments/{lease['assignment_id']}/answer", json={"answer": {"choice": "A"}}
    )
    # What json.dumps wrote for such a payload before the checks at the door.
    poisoned = json.dumps({**pairwise_item(1)["payload"], "x": float("nan"), "y": "a\ud800"})
    with env.db.write() as conn:
        conn.execute(text("UPDATE items SET payload = :p"), {"p": poisoned})
    manager_client = env.client(manager)
    raw = manager_client.get(f"/api/v1/projects/{project}/exports/raw")
    assert raw.status_code == 200
    rows = [json.loads(line) for line in raw.text.splitlines()]
    assert len(rows) == 1
    preference = manager_client.get(f"/api/v1/projects/{project}/exports/preference")
    assert preference.status_code == 200
    assert len(preference.text.splitlines()) == 1
    assert_project_still_works(env, manager, project)


def _answered_item(env: Env) -> tuple[User, User, int, int]:
    manager, worker = env.user(Role.MANAGER), env.user()
    project = env.project(manager, members=[worker], answers_per_item=2)
    env.items(manager, project, [pairwise_item(1)])
    client = env.client(worker)
    lease = client.post(f"/api/v1/projects/{project}/assignments/next").json()
    client.post(
        f"/api/v1/assignments/{lease['assignment_id']}/answer", json={"answer": {"choice": "A"}}
    )
    return manager, worker, project, lease["item"]["id"]


def test_a_disabled_item_is_never_claimed_until_enabled_and_keeps_its_answers(env: Env) -> None:
    manager, _, project, item = _answered_item(env)
    other = env.user()
    env.client(manager).post(f"/api/v1/projects/{project}/members", json={"user_ids": [other.id]})
    worker = env.client(other)
    held = worker.post(f"/api/v1/projects/{project}/assignments/next").json()
    admin = env.client(manager)

    disabled = admin.post(f"/api/v1/items/{item}/disable", json={"reason": "typo in prompt"})
    assert disabled.status_code == 200
    assert disabled.json()["status"] == "disabled"
    assert disabled.json()["disabled_reason"] == "typo in prompt"
    # The live lease ended with the disable: its answer is refused, nothing is handed out.
    late = worker.post(
        f"/api/v1/assignments/{held['assignment_id']}/answer", json={"answer": {"choice": "B"}}
    )
    assert late.status_code == 409
    assert worker.post(f"/api/v1/projects/{project}/assignments/next").status_code == 204
    answers = admin.get(f"/api/v1/projects/{project}/answers").text.splitlines()
    assert len(answers) == 1

    enabled = admin.post(f"/api/v1/items/{item}/enable")
    assert enabled.json()["status"] == "active"
    assert enabled.json()["open_slots"] == 1
    newcomer = env.user()
    admin.post(f"/api/v1/projects/{project}/members", json={"user_ids": [newcomer.id]})
    again = env.client(newcomer).post(f"/api/v1/projects/{project}/assignments/next")
    assert again.status_code == 200
    assert again.json()["item"]["id"] == item


def test_a_deleted_item_keeps_its_answers_and_cannot_be_enabled(env: Env) -> None:
    manager, _, project, item = _answered_item(env)
    admin = env.client(manager)
    deleted = admin.delete(f"/api/v1/items/{item}")
    assert deleted.status_code == 200
    assert deleted.json()["status"] == "deleted"
    assert admin.delete(f"/api/v1/items/{item}").status_code == 200  # idempotent
    refused = admin.post(f"/api/v1/items/{item}/enable")
    assert refused.status_code == 422
    assert "deleted" in refused.json()["error"]["message"]
    assert len(admin.get(f"/api/v1/projects/{project}/answers").text.splitlines()) == 1
    assert_project_still_works(env, manager, project)


def test_only_the_projects_managers_manage_its_items(env: Env) -> None:
    manager, worker, _, item = _answered_item(env)
    for method, path in (
        ("GET", f"/api/v1/items/{item}"),
        ("POST", f"/api/v1/items/{item}/disable"),
        ("POST", f"/api/v1/items/{item}/enable"),
        ("DELETE", f"/api/v1/items/{item}"),
    ):
        assert env.client(worker).request(method, path).status_code == 403
        stranger = env.user(Role.MANAGER)
        assert env.client(stranger).request(method, path).status_code == 404
    assert env.client(manager).get("/api/v1/items/999999").status_code == 404
    assert env.client(manager).get(f"/api/v1/items/{2**63}").status_code == 422
