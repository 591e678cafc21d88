"""Helpers for job tests: a large answered pairwise project, written straight to the tables."""

from __future__ import annotations

import random
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select, text

from db_fixtures import Env
from expertloop.domain import Role, User
from expertloop.store import tables as t

CHUNK = 20_000


def answered_project(env: Env, n_items: int, *, n_workers: int = 12) -> tuple[User, int]:
    """A pairwise project of ``n_items`` items with three answers each (seeded, so two runs
    build the same data), and its manager. Rows get explicit ids (no ``RETURNING`` round
    trips), then PostgreSQL's sequences are moved past them."""
    rng = random.Random(5)
    manager = env.user(Role.MANAGER)
    workers = [env.user(Role.WORKER) for _ in range(n_workers)]
    project = env.project(manager, members=workers, answers_per_item=3)
    now = datetime(2025, 1, 1)
    with env.db.read() as conn:
        item_id = conn.execute(select(func.coalesce(func.max(t.Item.id), 0))).scalar_one()
        answer_id = max(
            conn.execute(select(func.coalesce(func.max(t.Assignment.id), 0))).scalar_one(),
            conn.execute(select(func.coalesce(func.max(t.Answer.id), 0))).scalar_one(),
        )
    for start in range(0, n_items, CHUNK):
        items: list[dict[str, Any]] = []
        assignments: list[dict[str, Any]] = []
        answers: list[dict[str, Any]] = []
        for k in range(start, min(start + CHUNK, n_items)):
            item_id += 1
            items.append({
                "id": item_id, "project_id": project, "external_id": f"q{k}",
                "payload": {"prompt": f"Q{k}?", "response_a": f"a{k}", "response_b": f"b{k}"},
                "gold": None, "priority": 0, "target": 3, "n_answers": 3, "open_slots": 0,
                "created_at": now,
            })
            truth = "A" if k % 2 else "B"
            for w in rng.sample(range(n_workers), 3):
                answer_id += 1
                choice = truth if rng.random() < 0.8 else rng.choice(["A", "B", "tie"])
                common = {"id": answer_id, "project_id": project, "item_id": item_id,
                          "worker_id": workers[w].id}
                assignments.append({**common, "status": "answered", "presentation": None,
                                    "leased_at": now, "expires_at": now, "finished_at": now})
                answers.append({**common, "assignment_id": answer_id,
                                "value": {"choice": choice}, "idempotency_key": None,
                                "duration_ms": 1000, "created_at": now})
        with env.db.write() as conn:
            conn.execute(insert(t.Item), items)
            conn.execute(insert(t.Assignment), assignments)
            conn.execute(insert(t.Answer), answers)
    if not env.db.is_sqlite:
        with env.db.write() as conn:
            for table in ("items", "assignments", "answers"):
                conn.execute(text(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT max(id) FROM {table}))"
                ))
    return manager, project


def answer_all(env: Env, project: int, workers: list[User], choice: str = "A") -> None:
    """Each worker answers every item it can get, through the real services."""
    from expertloop.services.assignments import next_assignment, submit_answer

    for worker in workers:
        while assignment := next_assignment(env.db, actor=worker, project_id=project):
            submit_answer(
                env.db, actor=worker, assignment_id=assignment.id, answer={"choice": choice}
            )


def small_project(
    env: Env, n_items: int = 4, *, answers_per_item: int = 2
) -> tuple[User, list[User], int]:
    """A pairwise project of ``n_items`` items and three workers, nothing answered yet."""
    from db_fixtures import pairwise_item

    manager = env.user(Role.MANAGER)
    workers = [env.user(Role.WORKER) for _ in range(3)]
    project = env.project(manager, members=workers, answers_per_item=answers_per_item)
    env.items(manager, project, [pairwise_item(k) for k in range(n_items)])
    return manager, workers, project
