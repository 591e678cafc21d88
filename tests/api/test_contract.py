"""The API's contract: errors documented in OpenAPI, ``Allow`` on 405, docs served offline."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from db_fixtures import Env, pairwise_item
from expertloop.domain import Role

_TEMPLATE = re.compile(r"\{[^}]+\}")


def _operations(schema: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, operation)
        for path, operations in schema["paths"].items()
        for method, operation in operations.items()
    ]


def _documented(schema: dict[str, Any], method: str, url: str) -> set[int]:
    """The statuses documented for the operation that serves ``method url``."""
    for path, operations in schema["paths"].items():
        pattern = (
            "^"
            + _TEMPLATE.sub("[^/]+", re.escape(path).replace(r"\{", "{").replace(r"\}", "}"))
            + "$"
        )
        if re.match(pattern, url) and method.lower() in operations:
            return {int(s) for s in operations[method.lower()]["responses"]}
    raise AssertionError(f"{method} {url} is not in the schema")


def test_every_documented_error_has_the_error_body_and_callers_are_told_of_401_and_403(
    env: Env,
) -> None:
    schema = env.client().get("/openapi.json").json()
    assert "HTTPValidationError" not in schema["components"]["schemas"]
    for path, method, operation in _operations(schema):
        errors = {s: r for s, r in operation["responses"].items() if s.startswith("4")}
        for status, response in errors.items():
            ref = response["content"]["application/json"]["schema"]["$ref"]
            assert ref == "#/components/schemas/ErrorBody", (method, path, status)
        if path.startswith("/api/v1/") and (path, method) != ("/api/v1/auth/token", "post"):
            assert {"401", "403"} <= set(errors), (method, path)
        if "{" in path:
            assert {"404", "422"} <= set(errors), (method, path)
    token = schema["paths"]["/api/v1/auth/token"]["post"]["responses"]
    assert "Retry-After" in token["429"]["headers"]


def test_the_errors_the_api_answers_are_the_ones_its_schema_documents(env: Env) -> None:
    admin, manager, worker = env.user(Role.ADMIN), env.user(Role.MANAGER), env.user()
    project = env.project(manager, members=[worker], answers_per_item=1)
    env.items(manager, project, [pairwise_item(1)])
    as_admin, as_manager, as_worker = env.client(admin), env.client(manager), env.client(worker)
    anonymous = env.client()
    schema = anonymous.get("/openapi.json").json()
    lease = as_worker.post(f"/api/v1/projects/{project}/assignments/next").json()
    as_worker.post(f"/api/v1/assignments/{lease['assignment_id']}/release")
    observed: list[tuple[str, str, httpx.Response]] = []

    def call(client: httpx.Client, method: str, url: str, **kwargs: Any) -> None:
        observed.append((method, url, client.request(method, url, **kwargs)))

    call(anonymous, "GET", "/api/v1/me")
    call(anonymous, "POST", "/api/v1/auth/token", json={"username": "x", "password": "y"})
    call(anonymous, "POST", "/api/v1/auth/token", json={"username": ""})
    call(as_worker, "GET", "/api/v1/users")
    call(as_worker, "GET", "/api/v1/audit")
    call(as_manager, "GET", "/api/v1/projects/999999")
    call(as_manager, "GET", "/api/v1/projects/not-a-number")
    call(
        as_admin,
        "POST",
        "/api/v1/users",
        json={"username": manager.username, "password": "long-enough", "role": "worker"},
    )
    call(as_worker, "POST", f"/api/v1/assignments/{lease['assignment_id']}/release")
    call(
        as_manager,
        "POST",
        f"/api/v1/projects/{project}/items",
        content=b"x",
        headers={"Content-Type": "application/xml"},
    )
    call(as_manager, "DELETE", f"/api/v1/projects/{project}/members/{admin.id}")
    call(as_worker, "DELETE", "/api/v1/auth/tokens/12345")
    call(as_admin, "POST", f"/api/v1/users/{admin.id}/suspend")
    call(
        as_worker,
        "POST",
        "/api/v1/me/password",
        json={"current_password": "x", "new_password": "long-enough"},
    )
    statuses = set()
    for method, url, response in observed:
        assert 400 <= response.status_code < 500, (method, url, response.status_code)
        assert response.status_code in _documented(schema, method, url), (
            method,
            url,
            response.status_code,
        )
        assert set(response.json()) == {"error"}
        statuses.add(response.status_code)
    assert statuses == {401, 403, 404, 409, 415, 422}


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("GET", "/api/v1/auth/token", "POST, DELETE"),
        ("PUT", "/api/v1/users", "GET, POST"),
        ("GET", "/api/v1/projects/1/assignments/next", "POST"),
        ("PATCH", "/api/v1/projects/1/members/2", "DELETE"),
        ("DELETE", "/login", "GET, POST"),
    ],
)
def test_a_405_names_every_method_the_path_answers_in_allow(
    env: Env, method: str, path: str, allow: str
) -> None:
    response = env.client(env.user()).request(method, path)
    assert response.status_code == 405
    assert response.headers["allow"] == allow
    assert response.json()["error"]["code"] == "method_not_allowed"


def test_the_docs_page_loads_everything_from_this_server_under_a_strict_policy(env: Env) -> None:
    client = env.client()
    page = client.get("/docs")
    assert page.status_code == 200
    policy = page.headers["content-security-policy"]
    assert "default-src 'none'" in policy
    assert "script-src 'self';" in policy
    assert "http://" not in page.text
    assert "https://" not in page.text
    assert "<script>" not in page.text  # no inline script
    sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert sources
    for source in sources:
        asset = client.get(source)
        assert asset.status_code == 200, source
        assert len(asset.content) > 0
    bundle = client.get("/docs/assets/swagger-ui-bundle.js")
    assert "SwaggerUIBundle" in bundle.text
    assert client.get("/redoc").status_code == 404


def _integer_schemas(schema: dict[str, Any]) -> list[dict[str, Any]]:
    """A parameter's schema, or each of its ``anyOf`` branches, that is an integer."""
    branches = schema.get("anyOf", [schema])
    return [b for b in branches if b.get("type") == "integer"]


def test_every_integer_parameter_is_bounded_so_no_id_overflows_the_database(env: Env) -> None:
    # An unbounded id reaches SQLite's 64-bit or PostgreSQL's 32-bit columns and fails there
    # with a 500; bounded in the route, it is a 422 naming the parameter.
    schema = env.client().get("/openapi.json").json()
    unbounded = [
        f"{method.upper()} {path} {parameter['name']}"
        for path, method, operation in _operations(schema)
        for parameter in operation.get("parameters", [])
        for integer in _integer_schemas(parameter["schema"])
        if "maximum" not in integer
    ]
    assert unbounded == []
