"""Helpers for job tests: a large answered pairwise project, written straight to the tables."""

from __future__ import annotations

import random
from datetime import datetime
from typing import Any

from sqlalchemy import insert, update

from conftest import Env
from expertloop.domain import Role, User
from expertloop.store import tables as t

CHUNK = 20_000


def answered_project(env: Env, n_items: int, *, n_workers: int = 12) -> tuple[User, int]:
    """A pairwise project of ``n_items`` items with three answers each (seeded, so two runs
    build the same data), and its manager."""
    rng = random.Random(5)
    manager = env.user(Role.MANAGER)
    workers = [env.user(Role.WORKER) for _ in range(n_workers)]
    project = env.project(manager, members=workers, answers_per_item=3)
    now = datetime(2025, 1, 1)
    for start in range(0, n_items, CHUNK):
        keys = range(start, min(start + CHUNK, n_items))
        items = [
            {
                "project_id": project, "external_id": f"q{k}",
                "payload": {"prompt": f"Q{k}?", "response_a": f"a{k}", "response_b": f"b{k}"},
                "gold": None, "priority": 0, "target": 3, "n_answers": 3, "open_slots": 0,
                "created_at": now,
            }
            for k in keys
        ]
        with env.db.write() as conn:
            item_ids = conn.execute(
                insert(t.Item).returning(t.Item.id, sort_by_parameter_order=True), items
            ).scalars().all()
            assignments: list[dict[str, Any]] = []
            answers: list[dict[str, Any]] = []
            for k, item_id in zip(keys, item_ids, strict=True):
                truth = "A" if k % 2 else "B"
                for w in rng.sample(range(n_workers), 3):
                    choice = truth if rng.random() < 0.8 else rng.choice(["A", "B", "tie"])
                    common = {"project_id": project, "item_id": item_id,
                              "worker_id": workers[w].id}
                    assignments.append({**common, "status": "answered", "presentation": None,
                                        "leased_at": now, "expires_at": now, "finished_at": now})
                    answers.append({**common, "value": {"choice": choice},
                                    "idempotency_key": None, "duration_ms": 1000,
                                    "created_at": now})
            ids = conn.execute(
                insert(t.Assignment).returning(t.Assignment.id, sort_by_parameter_order=True),
                assignments,
            ).scalars().all()
            for row, assignment_id in zip(answers, ids, strict=True):
                row["assignment_id"] = assignment_id
            conn.execute(insert(t.Answer), answers)
    with env.db.write() as conn:
        conn.execute(update(t.Project).where(t.Project.id == project).values(lease_seconds=600))
    return manager, project


def answer_all(env: Env, project: int, workers: list[User], choice: str = "A") -> None:
    """Each worker answers every item it can get, through the real services."""
    from expertloop.services.assignments import next_assignment, submit_answer

    for worker in workers:
        while assignment := next_assignment(env.db, actor=worker, project_id=project):
            submit_answer(
                env.db, actor=worker, assignment_id=assignment.id, answer={"choice": choice}
            )


def small_project(env: Env, n_items: int = 4) -> tuple[User, list[User], int]:
    """A pairwise project of ``n_items`` items, two answers each wanted, nothing answered."""
    from conftest import pairwise_item

    manager = env.user(Role.MANAGER)
    workers = [env.user(Role.WORKER) for _ in range(3)]
    project = env.project(manager, members=workers, answers_per_item=2)
    env.items(manager, project, [pairwise_item(k) for k in range(n_items)])
    return manager, workers, project
