"""Retries: network failures are retried with the same idempotency key, so exactly one
answer is stored; writes the server cannot deduplicate and 4xx answers are never repeated."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from db_fixtures import Env
from expertloop.client import Client, NetworkError, NotFound
from expertloop.domain import Role


class FlakyTransport(httpx.BaseTransport):
    """Forwards requests to the real server; for the first ``failures`` requests that
    ``matches`` selects, it raises ``error`` (after forwarding when ``delivered``, i.e. the
    server processed the request but its response was lost)."""

    def __init__(
        self,
        matches: Callable[[httpx.Request], bool],
        *,
        failures: int = 1,
        delivered: bool = True,
        error: type[httpx.TransportError] = httpx.ReadError,
    ) -> None:
        self.inner = httpx.HTTPTransport()
        self.matches = matches
        self.failures = failures
        self.delivered = delivered
        self.error = error
        self.seen: list[httpx.Request] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if not self.matches(request):
            return self.inner.handle_request(request)
        self.seen.append(request)
        if len(self.seen) <= self.failures:
            if self.delivered:
                response = self.inner.handle_request(request)
                response.read()
                response.close()
            raise self.error("connection reset by peer", request=request)
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


def _answer_requests(request: httpx.Request) -> bool:
    return request.url.path.endswith("/answer")


def _one_item_project(env: Env) -> tuple[int, object, object]:
    manager, worker = env.user(Role.MANAGER), env.user()
    with Client(env.url, env.token_for(manager)) as client:
        project = client.projects.create("p", "pairwise", answers_per_item=1)
        project.members.add(worker)  # type: ignore[arg-type]
        project.items.add([{"prompt": "Q?", "response_a": "a", "response_b": "b"}])
    return project.id, manager, worker


def test_an_answer_whose_response_was_lost_is_retried_and_stored_once(env: Env) -> None:
    project_id, manager, worker = _one_item_project(env)
    flaky = FlakyTransport(_answer_requests, failures=1, delivered=True)
    with Client(env.url, env.token_for(worker), transport=flaky, backoff=0) as client:  # type: ignore[arg-type]
        assignment = client.projects.get(project_id).next()
        assert assignment is not None
        receipt = assignment.answer({"choice": "B", "rationale": "safer"})
    assert receipt.replayed  # the second attempt got the answer the first one stored
    assert len(flaky.seen) == 2
    keys = {r.headers["Idempotency-Key"] for r in flaky.seen}
    assert len(keys) == 1
    with Client(env.url, env.token_for(manager)) as client:  # type: ignore[arg-type]
        rows = list(client.projects.get(project_id).answers())
    assert len(rows) == 1
    assert rows[0]["answer_id"] == receipt.answer_id


def test_each_answer_call_sends_its_own_idempotency_key(env: Env) -> None:
    manager, worker = env.user(Role.MANAGER), env.user()
    seen: list[str] = []

    def record(request: httpx.Request) -> bool:
        if _answer_requests(request):
            seen.append(request.headers["Idempotency-Key"])
        return False

    with Client(env.url, env.token_for(manager)) as client:
        project = client.projects.create("p", "pairwise", answers_per_item=1)
        project.members.add(worker)
        project.items.add(
            [{"prompt": f"Q{n}", "response_a": "a", "response_b": "b"} for n in range(2)]
        )
    transport = FlakyTransport(record)
    with Client(env.url, env.token_for(worker), transport=transport) as client:
        mine = client.projects.get(project.id)
        while (assignment := mine.next()) is not None:
            assignment.answer({"choice": "A"})
    assert len(seen) == 2
    assert len(set(seen)) == 2


def test_retries_are_bounded_and_then_raise_a_network_error(env: Env) -> None:
    project_id, _, worker = _one_item_project(env)
    flaky = FlakyTransport(_answer_requests, failures=10, delivered=False)
    with Client(env.url, env.token_for(worker), transport=flaky, retries=2, backoff=0) as client:  # type: ignore[arg-type]
        assignment = client.projects.get(project_id).next()
        assert assignment is not None
        with pytest.raises(NetworkError, match="3 attempt") as caught:
            assignment.answer({"choice": "A"})
    assert isinstance(caught.value.__cause__, httpx.ReadError)
    assert len(flaky.seen) == 3
    key = flaky.seen[0].headers["Idempotency-Key"]
    assert f"idempotency_key={key!r}" in caught.value.__notes__[0]


def test_a_lost_next_response_is_retried_and_returns_the_same_lease(env: Env) -> None:
    project_id, _, worker = _one_item_project(env)
    flaky = FlakyTransport(lambda r: r.url.path.endswith("/next"), failures=1)
    with Client(env.url, env.token_for(worker), transport=flaky, backoff=0) as client:  # type: ignore[arg-type]
        assignment = client.projects.get(project_id).next()
        assert assignment is not None
        assignment.answer({"choice": "A"})
        assert client.projects.get(project_id).next() is None
    assert len(flaky.seen) == 3  # lost, retried, then the final 204


def test_an_import_is_not_repeated_once_sent_but_is_when_it_never_left(env: Env) -> None:
    manager = env.user(Role.MANAGER)
    items = [{"prompt": "Q?", "response_a": "a", "response_b": "b"}]

    def imports(request: httpx.Request) -> bool:
        return request.url.path.endswith("/items")

    lost = FlakyTransport(imports, failures=1, delivered=True)
    with Client(env.url, env.token_for(manager), transport=lost, backoff=0) as client:
        project = client.projects.create("p", "pairwise")
        with pytest.raises(NetworkError):
            project.items.add(items)
        assert len(lost.seen) == 1
        assert project.progress().items == 1  # the server did import it: no duplicate

    refused = FlakyTransport(imports, failures=1, delivered=False, error=httpx.ConnectError)
    with Client(env.url, env.token_for(manager), transport=refused, backoff=0) as client:
        assert client.projects.get(project.id).items.add(items) == 1
        assert len(refused.seen) == 2
        assert client.projects.get(project.id).progress().items == 2


def test_client_errors_are_never_retried_and_unavailable_servers_are() -> None:
    calls: list[str] = []

    def server(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        if request.url.path.endswith("/projects/1"):
            return httpx.Response(
                404, json={"error": {"code": "not_found", "message": "nope", "details": None}}
            )
        if calls.count("/api/v1/me") <= 2:
            return httpx.Response(503, text="restarting")
        return httpx.Response(
            200, json={"id": 1, "username": "u", "role": "worker", "is_active": True}
        )

    with Client(
        "http://testserver", "el_x", transport=httpx.MockTransport(server), backoff=0
    ) as client:
        with pytest.raises(NotFound):
            client.projects.get(1)
        assert calls == ["/api/v1/projects/1"]
        assert client.me().username == "u"
    assert calls == ["/api/v1/projects/1", "/api/v1/me", "/api/v1/me", "/api/v1/me"]
