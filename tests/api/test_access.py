"""Access that can be cut off: tokens expire and are revoked, accounts are suspended,
passwords changed, members removed; every change holds on the annotator loop too."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
from fastapi.testclient import TestClient

from db_fixtures import PASSWORD, Env, pairwise_item
from expertloop.api.schemas import iso_utc
from expertloop.app import create_app
from expertloop.clock import FakeClock
from expertloop.domain import Role, User
from expertloop.settings import Settings
from expertloop.store import Database
from expertloop.store import audit as audit_store


def _sign_in(env: Env, username: str, password: str = PASSWORD) -> httpx.Response:
    return env.client().post(
        "/api/v1/auth/token", json={"username": username, "password": password}
    )


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _live_leases(db: Database, worker_id: int) -> int:
    from sqlalchemy import func, select

    from expertloop.store import tables as t

    with db.read() as conn:
        return int(
            conn.execute(
                select(func.count()).where(
                    t.Assignment.worker_id == worker_id, t.Assignment.status == "leased"
                )
            ).scalar_one()
        )


def _open_slots(db: Database, project_id: int) -> int:
    from sqlalchemy import func, select

    from expertloop.store import tables as t

    with db.read() as conn:
        return int(
            conn.execute(
                select(func.sum(t.Item.open_slots)).where(t.Item.project_id == project_id)
            ).scalar_one()
        )


def _audit(env: Env, action: str) -> list[audit_store.AuditEntry]:
    with env.db.read() as conn:
        return audit_store.list_events(conn, action=action)


def test_an_api_token_works_until_its_lifetime_has_passed(env: Env, clock: FakeClock) -> None:
    env.user(username="tess")
    token = _sign_in(env, "tess").json()["token"]
    client = env.client()
    listed = client.get("/api/v1/auth/tokens", headers=_bearer(token)).json()
    assert len(listed) == 1
    assert listed[0]["name"] == "api"
    assert listed[0]["expires_at"] == iso_utc(clock.now() + timedelta(days=30))
    clock.advance(29 * 86400)
    assert client.get("/api/v1/me", headers=_bearer(token)).status_code == 200
    clock.advance(86400)
    expired = client.get("/api/v1/me", headers=_bearer(token))
    assert expired.status_code == 401
    assert expired.json()["error"]["message"] == "invalid or expired token"


def test_deleting_the_current_token_signs_the_program_out(env: Env) -> None:
    env.user(username="tess")
    token = _sign_in(env, "tess").json()["token"]
    client = env.client()
    assert client.delete("/api/v1/auth/token", headers=_bearer(token)).status_code == 204
    assert client.get("/api/v1/me", headers=_bearer(token)).status_code == 401
    assert client.delete("/api/v1/auth/token", headers=_bearer(token)).status_code == 401


def test_a_user_lists_and_revokes_their_own_tokens_but_not_anyone_elses(env: Env) -> None:
    tess = env.user(username="tess")
    other = env.user()
    first, second = (_sign_in(env, "tess").json()["token"] for _ in range(2))
    client = env.client()
    tokens = client.get("/api/v1/auth/tokens", headers=_bearer(first)).json()
    assert [t["name"] for t in tokens] == ["api", "api"]
    assert all(set(t) == {"id", "name", "created_at", "expires_at"} for t in tokens)
    second_id = tokens[1]["id"]
    outsider = env.client(other)
    assert outsider.delete(f"/api/v1/auth/tokens/{second_id}").status_code == 404
    revoked = client.delete(f"/api/v1/auth/tokens/{second_id}", headers=_bearer(first))
    assert revoked.status_code == 204
    assert client.get("/api/v1/me", headers=_bearer(second)).status_code == 401
    assert [t["id"] for t in client.get("/api/v1/auth/tokens", headers=_bearer(first)).json()] == [
        tokens[0]["id"]
    ]
    again = client.delete(f"/api/v1/auth/tokens/{second_id}", headers=_bearer(first))
    assert again.status_code == 404
    assert [e.details["token_id"] for e in _audit(env, "token.revoked")] == [second_id]
    assert tess.id == _audit(env, "token.revoked")[0].actor_id


def test_a_suspended_worker_gets_nothing_and_its_leases_go_back_to_the_pool(env: Env) -> None:
    admin, manager, worker = env.user(Role.ADMIN), env.user(Role.MANAGER), env.user()
    project = env.project(manager, members=[worker], answers_per_item=1)
    env.items(manager, project, [pairwise_item(1), pairwise_item(2)])
    client = env.client(worker)
    assert client.post(f"/api/v1/projects/{project}/assignments/next").status_code == 200
    assert _open_slots(env.db, project) == 1
    suspended = env.client(admin).post(f"/api/v1/users/{worker.id}/suspend")
    assert suspended.status_code == 200
    assert suspended.json()["is_active"] is False
    assert _live_leases(env.db, worker.id) == 0
    assert _open_slots(env.db, project) == 2
    assert client.post(f"/api/v1/projects/{project}/assignments/next").status_code == 401
    [event] = _audit(env, "user.suspended")
    assert (event.actor_id, event.before, event.after) == (
        admin.id,
        {"is_active": True},
        {"is_active": False},
    )
    assert event.details == {"user_id": worker.id, "leases_released": 1}
    reactivated = env.client(admin).post(f"/api/v1/users/{worker.id}/reactivate")
    assert reactivated.json()["is_active"] is True
    assert client.post(f"/api/v1/projects/{project}/assignments/next").status_code == 200


def test_only_admins_suspend_and_nobody_suspends_themselves(env: Env) -> None:
    admin, manager, worker = env.user(Role.ADMIN), env.user(Role.MANAGER), env.user()
    assert env.client(manager).post(f"/api/v1/users/{worker.id}/suspend").status_code == 403
    own = env.client(admin).post(f"/api/v1/users/{admin.id}/suspend")
    assert own.status_code == 422
    assert own.json()["error"]["details"][0]["field"] == "user_id"
    assert env.client(admin).post("/api/v1/users/999999/suspend").status_code == 404


def test_a_suspended_account_gets_the_same_answer_whether_its_password_is_right_or_not(
    env: Env,
) -> None:
    admin, _ = env.user(Role.ADMIN), env.user(username="sam")
    sam = next(u for u in env.client(admin).get("/api/v1/users").json() if u["username"] == "sam")
    env.client(admin).post(f"/api/v1/users/{sam['id']}/suspend")
    right, wrong = _sign_in(env, "sam"), _sign_in(env, "sam", "not-the-password")
    unknown = _sign_in(env, "nobody-here")
    assert right.status_code == wrong.status_code == unknown.status_code == 401
    assert right.json() == wrong.json() == unknown.json()
    assert "suspended" in right.json()["error"]["message"]


def test_changing_the_password_revokes_the_other_tokens_but_not_this_one(env: Env) -> None:
    env.user(username="pat")
    this, other = (_sign_in(env, "pat").json()["token"] for _ in range(2))
    client = env.client()
    wrong = client.post(
        "/api/v1/me/password",
        json={"current_password": "nope", "new_password": "a-new-password"},
        headers=_bearer(this),
    )
    assert wrong.status_code == 422
    assert wrong.json()["error"]["details"][0]["field"] == "current_password"
    changed = client.post(
        "/api/v1/me/password",
        json={"current_password": PASSWORD, "new_password": "a-new-password"},
        headers=_bearer(this),
    )
    assert changed.status_code == 204
    assert client.get("/api/v1/me", headers=_bearer(this)).status_code == 200
    assert client.get("/api/v1/me", headers=_bearer(other)).status_code == 401
    assert _sign_in(env, "pat").status_code == 401
    assert _sign_in(env, "pat", "a-new-password").status_code == 200
    [event] = _audit(env, "user.password_changed")
    assert event.details["tokens_revoked"] == 1


def test_a_removed_member_gets_no_items_and_its_leases_in_that_project_are_released(
    env: Env,
) -> None:
    manager, worker = env.user(Role.MANAGER), env.user()
    project = env.project(manager, members=[worker], answers_per_item=1)
    kept = env.project(manager, members=[worker], answers_per_item=1)
    env.items(manager, project, [pairwise_item(1)])
    env.items(manager, kept, [pairwise_item(2)])
    client = env.client(worker)
    assert client.post(f"/api/v1/projects/{project}/assignments/next").status_code == 200
    assert client.post(f"/api/v1/projects/{kept}/assignments/next").status_code == 200
    boss = env.client(manager)
    assert client.delete(f"/api/v1/projects/{project}/members/{worker.id}").status_code == 403
    assert boss.delete(f"/api/v1/projects/{project}/members/{worker.id}").status_code == 204
    assert _open_slots(env.db, project) == 1
    assert _live_leases(env.db, worker.id) == 1  # the lease in the other project stays
    assert client.post(f"/api/v1/projects/{project}/assignments/next").status_code == 404
    assert client.get(f"/api/v1/projects/{project}").status_code == 404
    again = boss.delete(f"/api/v1/projects/{project}/members/{worker.id}")
    assert again.status_code == 404
    [event] = _audit(env, "project.member_removed")
    assert (event.project_id, event.details["user_id"]) == (project, worker.id)


def _app_client(env: Env, **settings: Any) -> TestClient:
    app = create_app(
        Settings(data_dir=env.backend.tmp, database_url=env.backend.url, **settings),
        database=env.db,
    )
    return TestClient(app)


def _worker_with_item(env: Env) -> tuple[int, User, User]:
    admin, manager, worker = env.user(Role.ADMIN), env.user(Role.MANAGER), env.user()
    project = env.project(manager, members=[worker], answers_per_item=1)
    env.items(manager, project, [pairwise_item(n) for n in range(3)])
    return project, admin, worker


def test_a_revoked_token_stops_working_on_the_annotator_loop_at_once_despite_the_cache(
    env: Env,
) -> None:
    project, _, worker = _worker_with_item(env)
    token = env.token_for(worker)
    client = _app_client(env, auth_cache_seconds=3600)
    nxt = f"/api/v1/projects/{project}/assignments/next"
    assert client.post(nxt, headers=_bearer(token)).status_code == 200  # now cached
    assert client.delete("/api/v1/auth/token", headers=_bearer(token)).status_code == 204
    refused = client.post(nxt, headers=_bearer(token))
    assert refused.status_code == 401


def test_suspension_and_removal_hold_on_the_annotator_loop_at_once_despite_the_cache(
    env: Env,
) -> None:
    project, admin, worker = _worker_with_item(env)
    token, admin_token = env.token_for(worker), env.token_for(admin)
    client = _app_client(env, auth_cache_seconds=3600)
    nxt = f"/api/v1/projects/{project}/assignments/next"
    assert client.post(nxt, headers=_bearer(token)).status_code == 200
    removed = client.delete(
        f"/api/v1/projects/{project}/members/{worker.id}", headers=_bearer(admin_token)
    )
    assert removed.status_code == 204
    assert client.post(nxt, headers=_bearer(token)).status_code == 404
    client.post(
        f"/api/v1/projects/{project}/members",
        json={"user_ids": [worker.id]},
        headers=_bearer(admin_token),
    )
    assert client.post(nxt, headers=_bearer(token)).status_code == 200
    suspended = client.post(f"/api/v1/users/{worker.id}/suspend", headers=_bearer(admin_token))
    assert suspended.status_code == 200
    assert client.post(nxt, headers=_bearer(token)).status_code == 401
    assert client.get("/api/v1/me", headers=_bearer(token)).status_code == 401


def test_admins_read_the_audit_log_with_who_what_when_and_before_after(env: Env) -> None:
    admin, manager, worker = env.user(Role.ADMIN), env.user(Role.MANAGER), env.user()
    project = env.project(manager, members=[worker])
    env.client(manager).delete(f"/api/v1/projects/{project}/members/{worker.id}")
    env.client(admin).post(f"/api/v1/users/{worker.id}/suspend")
    client = env.client(admin)
    events = client.get("/api/v1/audit").json()
    assert [e["action"] for e in events] == [
        "project.created",
        "project.members_added",
        "project.member_removed",
        "user.suspended",
    ]
    removed = events[2]
    assert removed["actor"] == manager.username
    assert removed["project_id"] == project
    assert (removed["before"], removed["after"]) == ({"member": True}, {"member": False})
    assert removed["at"].endswith("Z")
    page = client.get("/api/v1/audit", params={"after": events[1]["id"], "limit": 1}).json()
    assert [e["action"] for e in page] == ["project.member_removed"]
    by_actor = client.get("/api/v1/audit", params={"actor_id": admin.id}).json()
    assert [e["action"] for e in by_actor] == ["user.suspended"]
    assert env.client(manager).get("/api/v1/audit").status_code == 403
    bad = client.get("/api/v1/audit", params={"limit": 0})
    assert bad.status_code == 422
    assert bad.json()["error"]["details"][0]["field"] == "limit"
