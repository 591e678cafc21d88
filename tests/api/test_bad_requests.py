"""Requests that used to be 500s are 4xx naming what is wrong (line, field or parameter),
and the project keeps working afterwards."""

from __future__ import annotations

import os
import socket
import time

import pytest
from project_health import assert_project_still_works

from db_fixtures import Env, pairwise_item
from expertloop.domain import Role
from expertloop.errors import NotAuthenticated
from expertloop.services import auth

NDJSON = {"Content-Type": "application/x-ndjson"}
CSV = {"Content-Type": "text/csv"}
JSON = {"Content-Type": "application/json"}


def test_invalid_utf8_in_a_json_body_is_422(env: Env) -> None:
    manager = env.user(Role.MANAGER)
    client = env.client(manager)
    response = client.post(
        "/api/v1/projects", content=b'{"name": "p\xff\xfe", "task_type": "pairwise"}', headers=JSON
    )
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "invalid_input"
    assert "UTF-8" in response.json()["error"]["message"]
    assert client.get("/api/v1/projects").json() == []
    # The annotator loop's own parser (bearer-token answers) says the same with a 422.
    worker = env.user()
    project = env.project(manager, members=[worker])
    env.items(manager, project, [pairwise_item(1)])
    working = env.client(worker)
    lease = working.post(f"/api/v1/projects/{project}/assignments/next").json()
    answer = working.post(
        f"/api/v1/assignments/{lease['assignment_id']}/answer",
        content=b'{"answer": {"choice": "A", "rationale": "\xff"}}',
        headers=JSON,
    )
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["details"][0]["field"] == "body"
    assert_project_still_works(env, manager, project)


@pytest.mark.parametrize("kind", ["ndjson", "csv", "json"])
def test_invalid_utf8_in_an_import_is_422_with_its_line_not_replaced(env: Env, kind: str) -> None:
    manager = env.user(Role.MANAGER)
    project = env.project(manager)
    if kind == "ndjson":
        body = b'{"payload": {"prompt": "q", "response_a": "a", "response_b": "b"}}\n' * 2
        body += b'{"payload": {"prompt": "caf\xe9", "response_a": "a", "response_b": "b"}}\n'
        headers, line = NDJSON, 3
    elif kind == "csv":
        body = b"prompt,response_a,response_b\r\nq,a,b\r\nq,a\xff,b\r\n"
        headers, line = CSV, 3
    else:
        body = b'[\n{"payload": {"prompt": "q", "response_a": "a\xc3", "response_b": "b"}}\n]'
        headers, line = JSON, 2
    response = env.client(manager).post(
        f"/api/v1/projects/{project}/items", content=body, headers=headers
    )
    assert response.status_code == 422, response.text
    first = response.json()["error"]["details"]["errors"][0]
    assert first["line"] == line
    assert "invalid UTF-8" in first["message"]
    assert_project_still_works(env, manager, project)


def test_a_csv_cell_over_128_kib_is_422_with_its_line(env: Env) -> None:
    manager = env.user(Role.MANAGER)
    project = env.project(manager)
    body = "prompt,response_a,response_b\r\nq,a,b\r\nq," + "x" * 140_000 + ",b\r\n"
    response = env.client(manager).post(
        f"/api/v1/projects/{project}/items", content=body.encode(), headers=CSV
    )
    assert response.status_code == 422, response.text
    first = response.json()["error"]["details"]["errors"][0]
    assert first["line"] == 3
    assert "longer than 131072 characters" in first["message"]
    assert_project_still_works(env, manager, project)


def test_a_bare_carriage_return_in_an_unquoted_csv_cell_is_422_with_its_line(env: Env) -> None:
    manager = env.user(Role.MANAGER)
    project = env.project(manager)
    body = b"prompt,response_a,response_b\nq,a,b\nq,a\rb,c\n"
    response = env.client(manager).post(
        f"/api/v1/projects/{project}/items", content=body, headers=CSV
    )
    assert response.status_code == 422, response.text
    first = response.json()["error"]["details"]["errors"][0]
    assert first["line"] == 3
    assert "carriage return" in first["message"]
    assert_project_still_works(env, manager, project)


@pytest.mark.parametrize("kind", ["json", "csv", "ndjson"])
def test_fifty_megabytes_of_random_bytes_are_a_422_import(env: Env, kind: str) -> None:
    manager = env.user(Role.MANAGER)
    project = env.project(manager)
    headers = {"json": JSON, "csv": CSV, "ndjson": NDJSON}[kind]
    response = env.client(manager).post(
        f"/api/v1/projects/{project}/items", content=os.urandom(50 * 1024 * 1024), headers=headers
    )
    assert response.status_code == 422, response.text[:500]
    assert response.json()["error"]["details"]["errors"][0]["line"] >= 1
    random_json = env.client(manager).post(
        "/api/v1/projects", content=os.urandom(1024 * 1024), headers=JSON
    )
    assert random_json.status_code == 422, random_json.text[:500]
    assert_project_still_works(env, manager, project)


HUGE = 2**63


def test_ids_out_of_range_are_422_on_every_route(env: Env) -> None:
    manager = env.user(Role.MANAGER)
    project = env.project(manager)
    client = env.client(manager)
    routes = [
        ("GET", f"/api/v1/projects/{HUGE}"),
        ("GET", f"/api/v1/projects/{2**31}"),
        ("POST", f"/api/v1/projects/{HUGE}/members"),
        ("POST", f"/api/v1/projects/{HUGE}/items"),
        ("GET", f"/api/v1/projects/{HUGE}/progress"),
        ("GET", f"/api/v1/projects/{HUGE}/answers"),
        ("GET", f"/api/v1/projects/{HUGE}/exports/raw"),
        ("GET", f"/api/v1/projects/{HUGE}/consensus"),
        ("POST", f"/api/v1/projects/{HUGE}/assignments/next"),
        ("POST", f"/api/v1/projects/{2**31}/assignments/next"),
        ("POST", f"/api/v1/assignments/{HUGE}/answer"),
        ("POST", f"/api/v1/assignments/{HUGE}/release"),
        ("POST", f"/api/v1/projects/{HUGE}/reviews"),
        ("GET", f"/api/v1/projects/{HUGE}/reviews"),
        ("GET", f"/api/v1/projects/{HUGE}/reviews/summary"),
        ("POST", f"/api/v1/projects/{HUGE}/reviews/next"),
        ("GET", f"/api/v1/reviews/{HUGE}"),
        ("POST", f"/api/v1/reviews/{HUGE}/decision"),
        ("GET", f"/api/v1/items/{HUGE}"),
        ("POST", f"/api/v1/items/{HUGE}/disable"),
        ("POST", f"/api/v1/items/{HUGE}/enable"),
        ("DELETE", f"/api/v1/items/{HUGE}"),
    ]
    for method, path in routes:
        response = client.request(method, path, json={})
        assert response.status_code == 422, (method, path, response.text)
        assert response.json()["error"]["code"] == "invalid_input"
    bodies = [
        (f"/api/v1/projects/{project}/members", {"user_ids": [2**31]}, "user_ids.0"),
        (f"/api/v1/projects/{project}/members", {"user_ids": [HUGE]}, "user_ids.0"),
        (f"/api/v1/projects/{project}/reviews", {"count": 1, "worker_id": 2**31}, "worker_id"),
        (f"/api/v1/projects/{project}/reviews", {"answer_ids": [HUGE]}, "answer_ids.0"),
    ]
    for path, body, field in bodies:
        response = client.post(path, json=body)
        assert response.status_code == 422, (path, response.text)
        assert response.json()["error"]["details"][0]["field"] == field
    env.items(manager, project, [pairwise_item(1)])
    assert_project_still_works(env, manager, project)


def test_a_review_list_after_a_huge_number_is_422(env: Env) -> None:
    manager = env.user(Role.MANAGER)
    project = env.project(manager)
    client = env.client(manager)
    response = client.get(
        f"/api/v1/projects/{project}/reviews", params={"after": "7766419129595443806208"}
    )
    assert response.status_code == 422, response.text
    assert response.json()["error"]["details"][0]["field"] == "after"
    last = client.get(f"/api/v1/projects/{project}/reviews", params={"after": 2**63 - 1})
    assert last.status_code == 200
    assert last.json() == []


def test_a_worker_posting_an_import_is_refused_before_the_server_reads_the_body(
    env: Env,
) -> None:
    manager, worker = env.user(Role.MANAGER), env.user()
    project = env.project(manager, members=[worker])
    token = env.token_for(worker)
    port = int(env.url.rsplit(":", 1)[1])
    # Announce 200 MB and send none of it: only a server that answers before reading the
    # body responds at all.
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(
            (
                f"POST /api/v1/projects/{project}/items HTTP/1.1\r\nHost: test\r\n"
                f"Authorization: Bearer {token}\r\nContent-Type: application/x-ndjson\r\n"
                "Content-Length: 200000000\r\n\r\n"
            ).encode()
        )
        started = time.monotonic()
        reply = sock.recv(65536).decode("latin-1")
    assert reply.startswith("HTTP/1.1 403"), reply
    assert time.monotonic() - started < 5


def test_a_nul_character_in_a_sign_in_or_a_query_string_is_4xx(env: Env) -> None:
    manager = env.user(Role.MANAGER)
    project = env.project(manager)
    anonymous = env.client()
    signed_in = anonymous.post("/api/v1/auth/token", json={"username": "a\x00b", "password": "x"})
    assert signed_in.status_code in (401, 422), signed_in.text
    with pytest.raises(NotAuthenticated):  # the web sign-in form goes this way
        auth.issue_token(env.db, username="a\x00b", password="x")
    client = env.client(manager)
    for path, params in (
        (f"/api/v1/projects/{project}/exports/raw", {"criterion": "a\x00"}),
        (f"/api/v1/projects/{project}/items", {"source": "a\x00"}),
    ):
        response = client.request(
            "POST" if path.endswith("items") else "GET", path, params=params, json=[]
        )
        assert 400 <= response.status_code < 500, (path, response.text)
