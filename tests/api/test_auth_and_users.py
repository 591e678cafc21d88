"""POST /auth/token, GET /me, POST and GET /users."""

from __future__ import annotations

from db_fixtures import PASSWORD, Env
from expertloop.domain import Role
from expertloop.services.auth import SIGN_IN_FAILED


def _error(response: object) -> dict[str, object]:
    body = response.json()  # type: ignore[attr-defined]
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details"}
    return body["error"]  # type: ignore[no-any-return]


def test_a_user_exchanges_a_password_for_a_token_that_identifies_them(env: Env) -> None:
    user = env.user(Role.MANAGER, username="maria")
    client = env.client()
    token = client.post("/api/v1/auth/token", json={"username": "maria", "password": PASSWORD})
    assert token.status_code == 200
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token.json()['token']}"})
    assert me.json() == {"id": user.id, "username": "maria", "role": "manager", "is_active": True}


def test_a_wrong_password_and_an_unknown_user_get_the_same_401(env: Env) -> None:
    env.user(username="maria")
    client = env.client()
    wrong = client.post("/api/v1/auth/token", json={"username": "maria", "password": "nope-nope"})
    unknown = client.post("/api/v1/auth/token", json={"username": "ghost", "password": "x"})
    assert wrong.status_code == unknown.status_code == 401
    assert _error(wrong)["message"] == _error(unknown)["message"] == SIGN_IN_FAILED


def test_requests_without_a_valid_token_are_refused(env: Env) -> None:
    client = env.client()
    assert _error(client.get("/api/v1/me"))["code"] == "not_authenticated"
    bad = client.get("/api/v1/me", headers={"Authorization": "Bearer el_forged"})
    assert bad.status_code == 401
    assert bad.headers["www-authenticate"] == "Bearer"


def test_an_admin_creates_and_lists_users(env: Env) -> None:
    admin = env.client(env.user(Role.ADMIN))
    created = admin.post(
        "/api/v1/users", json={"username": "wendy", "password": "long-enough", "role": "worker"}
    )
    assert created.status_code == 201
    assert created.json()["role"] == "worker"
    listed = admin.get("/api/v1/users").json()
    assert {
        "id": created.json()["id"],
        "username": "wendy",
        "role": "worker",
        "is_active": True,
        "projects": [],
    } in listed
    login = env.client().post(
        "/api/v1/auth/token", json={"username": "wendy", "password": "long-enough"}
    )
    assert login.status_code == 200


def test_only_admins_create_users_and_workers_cannot_look_them_up(env: Env) -> None:
    manager = env.client(env.user(Role.MANAGER))
    body = {"username": "x", "password": "long-enough", "role": "worker"}
    assert manager.post("/api/v1/users", json=body).status_code == 403
    # Managers search the directory to staff their projects; workers may not.
    assert manager.get("/api/v1/users").status_code == 200
    worker = env.client(env.user(Role.WORKER))
    assert _error(worker.get("/api/v1/users"))["code"] == "permission_denied"


def test_bad_user_bodies_name_the_field(env: Env) -> None:
    admin = env.client(env.user(Role.ADMIN))
    bad_role = admin.post(
        "/api/v1/users", json={"username": "x", "password": "long-enough", "role": "boss"}
    )
    assert bad_role.status_code == 422
    error = _error(bad_role)
    assert error["code"] == "invalid_input"
    assert error["details"][0]["field"] == "role"  # type: ignore[index]
    short = admin.post(
        "/api/v1/users", json={"username": "x", "password": "short", "role": "worker"}
    )
    assert _error(short)["details"][0]["field"] == "password"  # type: ignore[index]


def test_usernames_are_unique(env: Env) -> None:
    admin = env.client(env.user(Role.ADMIN))
    body = {"username": "dup", "password": "long-enough", "role": "worker"}
    assert admin.post("/api/v1/users", json=body).status_code == 201
    again = admin.post("/api/v1/users", json=body)
    assert again.status_code == 409
    assert _error(again)["code"] == "already_exists"


def test_health_check_reports_the_database(env: Env) -> None:
    response = env.client().get("/healthz")
    assert response.json() == {"status": "ok", "database": env.backend.name}
