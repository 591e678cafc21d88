"""Schemathesis against the app's OpenAPI schema, as a manager and as a worker, on SQLite.

Every operation gets generated requests (valid and invalid: out-of-range ids, odd strings,
wrong types); the test fails on any 5xx and on any response that does not match the
documented response schema. (Undocumented 4xx status codes are not checked here.)

Bounded for CI: ``EXPERTLOOP_FUZZ_EXAMPLES`` examples per operation, each sent with both
tokens (default 10: about a minute in all on a two-core machine); raise it for a deeper
run, e.g. ``EXPERTLOOP_FUZZ_EXAMPLES=300`` locally. Examples are derandomised, so a CI
failure reproduces; ``EXPERTLOOP_FUZZ_RANDOM=1`` explores new ones on each run.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error, response_schema_conformance

from db_fixtures import Backend, Env, pairwise_item
from expertloop.app import create_app
from expertloop.domain import Role
from expertloop.services import assignments, reviews
from expertloop.settings import Settings

EXAMPLES = int(os.environ.get("EXPERTLOOP_FUZZ_EXAMPLES", "10"))


@schemathesis.serializer("application/x-ndjson")
def _ndjson(_ctx: Any, value: Any) -> bytes:
    """NDJSON import bodies are documented as strings; send them as they come, lone
    surrogates and all (invalid UTF-8 is part of what the server must refuse cleanly)."""
    return str(value).encode("utf-8", "surrogatepass")


@dataclass
class FuzzTarget:
    url: str
    tokens: dict[str, str]


def _openapi_schema() -> dict[str, Any]:
    """The app's schema, from an app that never connects to its (in-memory) database."""
    app = create_app(Settings(database_url="sqlite://"))
    return app.openapi()


schema = schemathesis.openapi.from_dict(_openapi_schema())


@pytest.fixture(scope="module")
def fuzz_target(backends: dict[str, Backend]) -> Iterator[FuzzTarget]:
    """The test server on the SQLite test database, holding a project with items, answers
    and a review, so generated ids sometimes hit real rows (ids start at 1)."""
    backend = backends["sqlite"]
    env = Env(backend)
    manager, worker, reviewer = env.user(Role.MANAGER), env.user(), env.user(Role.REVIEWER)
    project = env.project(manager, members=[worker, reviewer], answers_per_item=2)
    env.items(manager, project, [pairwise_item(n) for n in range(1, 6)])
    lease = assignments.next_assignment(env.db, actor=worker, project_id=project)
    assert lease is not None
    assignments.submit_answer(
        env.db, actor=worker, assignment_id=lease.id, answer={"choice": "A"}
    )
    assignments.next_assignment(env.db, actor=worker, project_id=project)  # a live lease
    reviews.request_reviews(env.db, actor=manager, project_id=project, fraction=1.0)
    try:
        yield FuzzTarget(
            backend.server().url,
            {"manager": env.token_for(manager), "worker": env.token_for(worker)},
        )
    finally:
        backend.truncate()


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=not os.environ.get("EXPERTLOOP_FUZZ_RANDOM"),
    database=None,
)
def test_no_request_makes_the_api_fail_or_break_its_schema(
    case: schemathesis.Case, fuzz_target: FuzzTarget
) -> None:
    for role in ("manager", "worker"):
        case.call_and_validate(
            base_url=fuzz_target.url,
            headers={"Authorization": f"Bearer {fuzz_target.tokens[role]}"},
            checks=[not_a_server_error, response_schema_conformance],
        )
