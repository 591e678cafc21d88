"""Server errors reach SDK users as typed exceptions with the server's code, message and
details; import errors count lines in the caller's records, across chunks."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from db_fixtures import Env
from expertloop.client import (
    AlreadyAnswered,
    AlreadyExists,
    Client,
    Conflict,
    ExpertloopAPIError,
    ImportFailed,
    InvalidAnswer,
    InvalidInput,
    LeaseLost,
    NotAuthenticated,
    NotFound,
    PermissionDenied,
    ServerError,
)
from expertloop.domain import Role

Connect = Callable[..., Client]


@pytest.fixture
def connect(env: Env) -> Iterator[Connect]:
    clients: list[Client] = []

    def make(user: Any = None, token: str | None = None) -> Client:
        client = Client(env.url, token or (env.token_for(user) if user else None), backoff=0)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


def _raw_error(env: Env, user: Any, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
    """What the server itself says, for comparison with the exception."""
    response = env.client(user).request(method, f"/api/v1/{path}", **kwargs)
    assert response.status_code >= 400
    return dict(response.json()["error"]) | {"status": response.status_code}


def _as_dict(exc: ExpertloopAPIError) -> dict[str, Any]:
    return {"code": exc.code, "message": exc.message, "details": exc.details, "status": exc.status}


def test_a_missing_project_raises_not_found_with_the_servers_message(
    env: Env, connect: Connect
) -> None:
    manager = env.user(Role.MANAGER)
    with pytest.raises(NotFound) as caught:
        connect(manager).projects.get(999)
    assert _as_dict(caught.value) == _raw_error(env, manager, "GET", "projects/999")
    assert caught.value.message == "project 999 not found"
    assert str(caught.value) == "404 not_found: project 999 not found"


def test_a_worker_creating_a_project_raises_permission_denied(env: Env, connect: Connect) -> None:
    worker = env.user()
    with pytest.raises(PermissionDenied) as caught:
        connect(worker).projects.create("x", "pairwise")
    body = {"name": "x", "task_type": "pairwise"}
    assert _as_dict(caught.value) == _raw_error(env, worker, "POST", "projects", json=body)
    with pytest.raises(PermissionDenied, match="only managers and admins can search users"):
        connect(worker).users.list()


def test_a_taken_username_raises_already_exists_a_kind_of_conflict(
    env: Env, connect: Connect
) -> None:
    admin = connect(env.user(Role.ADMIN))
    admin.users.create("dr.lee", "correct-horse-9")
    with pytest.raises(Conflict) as caught:
        admin.users.create("dr.lee", "correct-horse-9")
    assert isinstance(caught.value, AlreadyExists)
    assert (caught.value.status, caught.value.code) == (409, "already_exists")
    assert caught.value.message == "a user named 'dr.lee' already exists"


def test_answer_conflicts_raise_already_answered_and_lease_lost(env: Env, connect: Connect) -> None:
    manager, worker = env.user(Role.MANAGER), env.user()
    project = connect(manager).projects.create("p", "pairwise", answers_per_item=1)
    project.members.add(worker)
    project.items.add([{"prompt": "Q?", "response_a": "a", "response_b": "b"}])
    assignment = connect(worker).projects.get(project.id).next()
    assert assignment is not None
    assignment.answer({"choice": "A"}, idempotency_key="first")
    with pytest.raises(AlreadyAnswered, match="already has an answer"):
        assignment.answer({"choice": "A"})
    with pytest.raises(LeaseLost) as caught:
        assignment.release()
    assert caught.value.status == 409
    assert "no longer active" in caught.value.message


def test_invalid_input_and_invalid_answers_carry_the_fields_in_details(
    env: Env, connect: Connect
) -> None:
    manager, worker = env.user(Role.MANAGER), env.user()
    projects = connect(manager).projects
    with pytest.raises(InvalidInput) as caught:
        projects.create("x", "label", config={"labels": ["only one"]})
    assert caught.value.status == 422
    assert caught.value.details[0]["field"] == "config.labels"

    project = projects.create("x", "label", config={"labels": ["yes", "no"]})
    with pytest.raises(InvalidInput, match=r"no such users: \[99999\]"):
        project.members.add(99999)
    project.members.add(worker)
    project.items.add([{"text": "t"}])
    assignment = connect(worker).projects.get(project.id).next()
    assert assignment is not None
    with pytest.raises(InvalidAnswer) as answer_error:
        assignment.answer({"label": "maybe"})
    assert answer_error.value.code == "invalid_answer"
    assert answer_error.value.details[0]["field"].startswith("answer")


def test_bad_tokens_and_wrong_passwords_raise_not_authenticated(env: Env, connect: Connect) -> None:
    with pytest.raises(NotAuthenticated):
        connect(token="el_not-a-token").me()
    env.user(Role.WORKER, username="alice")
    with pytest.raises(NotAuthenticated, match="wrong username or password"):
        Client.login(env.url, "alice", "not-her-password", backoff=0)


def test_import_errors_name_the_callers_record_numbers_across_chunks(
    env: Env, connect: Connect
) -> None:
    manager = env.user(Role.MANAGER)
    project = connect(manager).projects.create("x", "label", config={"labels": ["yes", "no"]})
    records: list[dict[str, Any]] = [
        {"external_id": f"r-{n}", "text": str(n)} for n in range(1, 10)
    ]
    records[4]["gold"] = {"label": "maybe"}  # record 5: in the second chunk of 3
    records[5]["priority"] = "high"  # record 6: same chunk
    records[7]["gold"] = {"label": "nope"}  # record 8: third chunk, never sent
    done: list[int] = []
    with pytest.raises(ImportFailed) as caught:
        project.items.add(records, chunk_size=3, progress=lambda n, total: done.append(n))
    error = caught.value
    assert error.lines == [5, 6]
    assert [e["field"] for e in error.errors] == ["gold.label", "priority"]
    assert error.details["total_errors"] == 2
    assert error.imported == 3
    assert error.message.startswith("record 5, field gold.label: ")
    assert "(and 1 more); records 4-6 were not imported, the 3 before them were" in error.message
    assert done == [3]
    assert project.progress().items == 3

    # Resuming from where it stopped, with the records fixed.
    for record in records:
        record.pop("gold", None)
        record.pop("priority", None)
    assert project.items.add(records[error.imported :], chunk_size=3) == 6


def test_a_first_chunk_that_fails_says_nothing_was_imported(env: Env, connect: Connect) -> None:
    project = connect(env.user(Role.MANAGER)).projects.create("x", "pairwise")
    with pytest.raises(ImportFailed) as caught:
        project.items.add([{"prompt": "only a prompt"}])
    assert caught.value.imported == 0
    assert caught.value.lines == [1]
    assert caught.value.message.endswith("records 1-1 were not imported, nor any other")


def test_an_error_body_that_is_not_the_apis_shape_still_raises_by_status() -> None:
    def proxy(request: httpx.Request) -> httpx.Response:
        return httpx.Response(500, text="<html>Internal Server Error</html>")

    transport = httpx.MockTransport(proxy)
    with (
        Client("http://t", "el_x", transport=transport) as client,
        pytest.raises(ServerError) as caught,
    ):
        client.me()
    assert caught.value.code == "http_error"
    assert caught.value.status == 500
    assert "Internal Server Error" in caught.value.message
