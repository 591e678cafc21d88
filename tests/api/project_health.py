"""A check that a project still works end to end: the helper behind the poison-input tests.

After a refused (or stored-then-disabled) poison input, a fresh item must still go through
``next`` and ``answer``, the review queue must still list and decide reviews, and every
export the task type offers (JSONL and Parquet), the consensus and the answers stream must
come back whole.
"""

from __future__ import annotations

import io
import json
import secrets

import pyarrow.parquet as pq

from db_fixtures import Env, pairwise_item
from expertloop.domain import Role, User
from expertloop.tasks import get_task_type


def assert_project_still_works(env: Env, manager: User, project: int) -> None:
    """A new worker answers a new item; reviews, exports, consensus and answers all work."""
    worker, reviewer = env.user(Role.WORKER), env.user(Role.REVIEWER)
    admin = env.client(manager)
    added = admin.post(
        f"/api/v1/projects/{project}/members", json={"user_ids": [worker.id, reviewer.id]}
    )
    assert added.status_code == 200, added.text
    fresh = pairwise_item(0, external_id=f"fresh-{secrets.token_hex(4)}")
    imported = admin.post(f"/api/v1/projects/{project}/items", json=[fresh])
    assert imported.status_code == 201, imported.text

    client = env.client(worker)
    answered = 0
    while (lease := client.post(f"/api/v1/projects/{project}/assignments/next")).status_code == 200:
        assignment = lease.json()
        stored = client.post(
            f"/api/v1/assignments/{assignment['assignment_id']}/answer",
            json={"answer": {"choice": "A"}},
        )
        assert stored.status_code == 201, stored.text
        answered += 1
    assert lease.status_code == 204, lease.text
    assert answered >= 1

    queued = admin.post(f"/api/v1/projects/{project}/reviews", json={"fraction": 1.0})
    assert queued.status_code == 201, queued.text
    reviews = env.client(reviewer)
    listed = reviews.get(f"/api/v1/projects/{project}/reviews", params={"limit": 1000})
    assert listed.status_code == 200, listed.text
    assert listed.json(), "the answers were queued for review"
    held = reviews.post(f"/api/v1/projects/{project}/reviews/next")
    assert held.status_code == 200, held.text
    decided = reviews.post(
        f"/api/v1/reviews/{held.json()['review_id']}/decision", json={"outcome": "accepted"}
    )
    assert decided.status_code == 200, decided.text

    task = get_task_type(env_task_type(env, manager, project))
    for fmt in task.export_formats:
        jsonl = admin.get(f"/api/v1/projects/{project}/exports/{fmt}")
        assert jsonl.status_code == 200, jsonl.text
        for line in jsonl.text.splitlines():
            json.loads(line)
        parquet = admin.get(f"/api/v1/projects/{project}/exports/{fmt}?output=parquet")
        assert parquet.status_code == 200, parquet.text
        pq.read_table(io.BytesIO(parquet.content))
    for stream in ("consensus", "answers"):
        response = admin.get(f"/api/v1/projects/{project}/{stream}")
        assert response.status_code == 200, response.text
        rows = [json.loads(line) for line in response.text.splitlines()]
        assert rows, f"{stream} lists the new answer"


def env_task_type(env: Env, manager: User, project: int) -> str:
    response = env.client(manager).get(f"/api/v1/projects/{project}")
    assert response.status_code == 200, response.text
    return str(response.json()["task_type"])
