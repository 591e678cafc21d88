"""The core promises of DESIGN.md under concurrency and time, on both databases.

2. No worker answers an item twice; answers + live leases never exceed the target.
3. Leases expire and the item returns to the pool.
4. Submissions are idempotent.
5. Workers see only what their role allows.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import text

from db_fixtures import Env, backends, clock, env, pairwise_item  # noqa: F401 (fixtures)
from expertloop.clock import FakeClock
from expertloop.domain import Role
from expertloop.errors import AlreadyAnswered, LeaseLost
from expertloop.services.assignments import next_assignment, release_assignment, submit_answer
from expertloop.services.clock import utcnow
from expertloop.services.projects import add_members
from expertloop.store import claims

# Rounds of the parallel-loop stress test; EXPERTLOOP_STRESS_REPEAT=50 for a long run.
STRESS_REPEAT = int(os.environ.get("EXPERTLOOP_STRESS_REPEAT", "3"))
# Items the stressed worker has answered already (see the stress test).
_ANSWERED = 1000


def _invariant_violations(env: Env) -> dict[str, int]:
    """Counted in the database: duplicates, over-collection, and counter drift."""
    with env.db.read() as conn:
        duplicates = conn.execute(
            text(
                "SELECT count(*) FROM (SELECT item_id, worker_id FROM answers "
                "GROUP BY item_id, worker_id HAVING count(*) > 1) d"
            )
        ).scalar_one()
        over = conn.execute(
            text(
                "SELECT count(*) FROM items i WHERE (SELECT count(*) FROM answers a "
                "WHERE a.item_id = i.id) + (SELECT count(*) FROM assignments s "
                "WHERE s.item_id = i.id AND s.status = 'leased') > i.target"
            )
        ).scalar_one()
        drift = conn.execute(
            text(
                "SELECT count(*) FROM items i WHERE i.n_answers <> (SELECT count(*) FROM answers a "
                "WHERE a.item_id = i.id) OR i.open_slots <> i.target - i.n_answers - "
                "(SELECT count(*) FROM assignments s WHERE s.item_id = i.id "
                "AND s.status = 'leased')"
            )
        ).scalar_one()
    return {"duplicates": duplicates, "over_collected": over, "counter_drift": drift}


def test_forty_concurrent_workers_never_duplicate_or_over_collect(env: Env) -> None:
    manager = env.user(Role.MANAGER)
    workers = [env.user() for _ in range(40)]
    project = env.project(manager, members=workers, answers_per_item=3)
    env.items(manager, project, [pairwise_item(n) for n in range(60)])
    url = env.url
    statuses: Counter[int] = Counter()
    lock = threading.Lock()

    def work(token: str) -> None:
        # A generous timeout: forty workers on a loaded machine can wait seconds for a core,
        # and this test is about duplicates and over-collection, not latency.
        with httpx.Client(
            base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=120
        ) as client:
            while True:
                lease = client.post(f"/api/v1/projects/{project}/assignments/next")
                with lock:
                    statuses[lease.status_code] += 1
                if lease.status_code != 200:
                    return
                body = lease.json()
                answer = client.post(
                    f"/api/v1/assignments/{body['assignment_id']}/answer",
                    json={"answer": {"choice": "A"}},
                    headers={"Idempotency-Key": f"a-{body['assignment_id']}"},
                )
                with lock:
                    statuses[answer.status_code] += 1

    tokens = [env.token_for(w) for w in workers]
    with ThreadPoolExecutor(max_workers=len(tokens)) as pool:
        list(pool.map(work, tokens))

    assert set(statuses) == {200, 201, 204}, statuses
    assert statuses[201] == 180  # every slot of every item filled exactly once
    assert _invariant_violations(env) == {"duplicates": 0, "over_collected": 0, "counter_drift": 0}


def test_one_worker_asking_in_parallel_never_gets_an_item_twice(env: Env) -> None:
    manager, worker = env.user(Role.MANAGER), env.user()
    project = env.project(manager, members=[worker], answers_per_item=5)
    env.items(manager, project, [pairwise_item(n) for n in range(10)])

    def grab_and_answer(_: int) -> None:
        lease = next_assignment(env.db, actor=worker, project_id=project)
        if lease is not None:
            # Parallel calls may get the same held lease; only one answer to it is taken.
            with contextlib.suppress(AlreadyAnswered):
                submit_answer(env.db, actor=worker, assignment_id=lease.id, answer={"choice": "B"})

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(grab_and_answer, range(40)))
    assert _invariant_violations(env)["duplicates"] == 0


@pytest.mark.slow
@pytest.mark.parametrize("round_", range(1, STRESS_REPEAT + 1))
def test_parallel_asking_answering_skipping_and_sweeping_never_deadlock(
    env: Env, round_: int
) -> None:
    """One worker asks, answers and skips in many threads at once while a sweeper expires
    every lease as soon as it is made. Every statement that locks an item row and an
    assignment row locks the item first, so none waits on another in a cycle (PostgreSQL
    would abort one with DeadlockDetected: a 500 for a client)."""
    manager, worker, other = env.user(Role.MANAGER), env.user(), env.user()
    project = env.project(manager, members=[worker, other], answers_per_item=3)
    env.items(manager, project, [pairwise_item(n) for n in range(_ANSWERED + 40)])
    # The worker answered most items already, and they still have open slots, so they come
    # first in the claim order: each claim walks past them before it finds a new item,
    # which widens the race between a claim and the worker's other requests.
    value = "CAST(:value AS jsonb)" if env.backend.name == "postgresql" else ":value"
    with env.db.write() as conn:
        conn.execute(
            text(
                "INSERT INTO assignments (project_id, item_id, worker_id, status, leased_at, "
                "expires_at, finished_at) SELECT project_id, id, :worker, 'answered', "
                "created_at, created_at, created_at FROM items WHERE project_id = :project "
                "ORDER BY id LIMIT :answered"
            ),
            {"worker": worker.id, "project": project, "answered": _ANSWERED},
        )
        conn.execute(
            text(
                "INSERT INTO answers (project_id, item_id, worker_id, assignment_id, value, "
                f"duration_ms, created_at) SELECT project_id, item_id, worker_id, id, {value}, "
                "1000, finished_at FROM assignments"
            ),
            {"value": json.dumps({"choice": "A"})},
        )
        conn.execute(
            text(
                "UPDATE items SET n_answers = 1, open_slots = open_slots - 1 "
                "WHERE id IN (SELECT item_id FROM assignments)"
            )
        )
    done = threading.Event()

    def sweep() -> int:
        # Expires every live lease, as if its time ran out: answers race with the sweeper.
        sweeps = 0
        while not done.wait(0.002):
            with env.db.write() as conn:
                claims.expire_leases(conn, now=utcnow() + timedelta(hours=1), project_id=project)
            sweeps += 1
        return sweeps

    def loop(n: int) -> str:
        actor = other if n % 16 == 0 else worker
        lease = next_assignment(env.db, actor=actor, project_id=project)
        if lease is None:
            return "none"
        try:
            if n % 13 == 0:
                release_assignment(env.db, actor=actor, assignment_id=lease.id)
                return "released"
            # Parallel calls may get the same held lease; only one answer to it is taken.
            submit_answer(env.db, actor=actor, assignment_id=lease.id, answer={"choice": "A"})
        except (AlreadyAnswered, LeaseLost):
            return "refused"
        return "answered"

    with ThreadPoolExecutor(max_workers=1) as sweeper, ThreadPoolExecutor(8) as pool:
        sweeps = sweeper.submit(sweep)
        try:
            outcomes = Counter(pool.map(loop, range(80)))
        finally:
            done.set()
        assert sweeps.result() > 0
    assert outcomes["answered"] > 0, outcomes
    assert _invariant_violations(env) == {"duplicates": 0, "over_collected": 0, "counter_drift": 0}


def test_targets_that_move_while_workers_claim_never_over_collect(env: Env) -> None:
    """Adaptive redundancy moves targets up and down after every answer, and a manager
    changes the settings (re-targeting every item) while twelve workers claim, answer at
    random and skip in parallel: answers plus live leases never exceed an item's target."""
    import random

    from expertloop.services import redundancy, worker_rules
    from expertloop.services.redundancy_jobs import retarget_project

    manager = env.user(Role.MANAGER)
    workers = [env.user() for _ in range(12)]
    project = env.project(
        manager, task_type="label", config={"labels": ["x", "y", "z"]}, members=workers,
        answers_per_item=2,
    )
    worker_rules.set_rules(env.db, actor=manager, project_id=project, rules={
        rule: {"pause": False} for rule in ("gold_accuracy", "spammer_score", "straight_lining")
    })
    env.items(manager, project, [
        {"external_id": f"i{n}", "payload": {"text": f"thing {n}"}} for n in range(25)
    ])
    redundancy.set_redundancy(
        env.db, actor=manager, project_id=project, min_answers=1, max_answers=7,
        target_confidence=0.9,
    )
    done = threading.Event()

    def manage() -> int:
        changes = 0
        settings = [(1, 7, 0.9), (3, 4, 0.8), (2, 9, 0.99), None]
        while not done.is_set():
            chosen = settings[changes % len(settings)]
            if chosen is None:
                redundancy.remove_redundancy(env.db, actor=manager, project_id=project)
            else:
                low, high, confidence = chosen
                redundancy.set_redundancy(
                    env.db, actor=manager, project_id=project, min_answers=low,
                    max_answers=high, target_confidence=confidence,
                )
            retarget_project(env.db, project)
            changes += 1
        return changes

    def work(n: int) -> Counter[str]:
        rng = random.Random(n)
        actor = workers[n]
        seen: Counter[str] = Counter()
        for _ in range(40):
            lease = next_assignment(env.db, actor=actor, project_id=project)
            if lease is None:
                seen["none"] += 1
                time.sleep(0.01)  # targets may rise again: ask later
                continue
            try:
                if rng.random() < 0.1:
                    release_assignment(env.db, actor=actor, assignment_id=lease.id)
                    seen["released"] += 1
                    continue
                submit_answer(env.db, actor=actor, assignment_id=lease.id,
                              answer={"label": rng.choice("xyz")})
                seen["answered"] += 1
            except (AlreadyAnswered, LeaseLost):
                seen["refused"] += 1
        return seen

    with ThreadPoolExecutor(max_workers=1) as boss, ThreadPoolExecutor(len(workers)) as pool:
        changes = boss.submit(manage)
        try:
            outcomes = sum(pool.map(work, range(len(workers))), Counter())
        finally:
            done.set()
        assert changes.result() > 0
    assert outcomes["answered"] > 0, outcomes
    assert _invariant_violations(env) == {"duplicates": 0, "over_collected": 0, "counter_drift": 0}


def test_an_abandoned_lease_expires_and_the_item_is_offered_again(
    env: Env, clock: FakeClock
) -> None:
    manager, slow, quick = env.user(Role.MANAGER), env.user(), env.user()
    project = env.project(manager, members=[slow, quick], answers_per_item=1, lease_seconds=1)
    env.items(manager, project, [pairwise_item(1)])
    lease = next_assignment(env.db, actor=slow, project_id=project)
    assert lease is not None
    assert next_assignment(env.db, actor=quick, project_id=project) is None
    clock.advance(1.3)
    # Without waiting for the sweeper: the empty pool triggers a sweep of the project.
    again = next_assignment(env.db, actor=quick, project_id=project)
    assert again is not None
    assert again.item.id == lease.item.id
    assert _invariant_violations(env)["over_collected"] == 0


def test_the_background_sweeper_returns_expired_leases_to_the_pool(
    env: Env, clock: FakeClock
) -> None:
    manager, worker = env.user(Role.MANAGER), env.user()
    project = env.project(manager, members=[worker], answers_per_item=2, lease_seconds=1)
    env.items(manager, project, [pairwise_item(1)])
    client = env.client(worker)
    client.post(f"/api/v1/projects/{project}/assignments/next")
    admin = env.client(manager)
    assert admin.get(f"/api/v1/projects/{project}/progress").json()["active_leases"] == 1
    clock.advance(1.3)  # the test server sweeps every 0.2 s
    deadline = time.monotonic() + 30  # generous: a loaded CI machine
    while time.monotonic() < deadline:
        with env.db.read() as conn:
            statuses = conn.execute(text("SELECT status FROM assignments")).scalars().all()
        if statuses == ["expired"]:
            break
        time.sleep(0.1)
    assert statuses == ["expired"]
    assert _invariant_violations(env)["counter_drift"] == 0


def test_a_late_answer_is_kept_while_a_slot_is_free_and_refused_once_it_is_taken(
    env: Env, clock: FakeClock
) -> None:
    manager = env.user(Role.MANAGER)
    late, other, third = env.user(), env.user(), env.user()
    project = env.project(
        manager, members=[late, other, third], answers_per_item=1, lease_seconds=1
    )
    env.items(manager, project, [pairwise_item(1), pairwise_item(2)])
    first = next_assignment(env.db, actor=late, project_id=project)
    assert first is not None
    clock.advance(1.3)
    from expertloop.services.leases import expire_leases

    expire_leases(env.db)
    # The slot reopened but nobody took it: the late answer is still welcome.
    kept = submit_answer(env.db, actor=late, assignment_id=first.id, answer={"choice": "A"})
    assert kept.created

    second = next_assignment(env.db, actor=late, project_id=project)
    assert second is not None
    clock.advance(1.3)
    expire_leases(env.db)
    taken = next_assignment(env.db, actor=other, project_id=project)
    assert taken is not None
    assert taken.item.id == second.item.id
    refused = env.client(late).post(
        f"/api/v1/assignments/{second.id}/answer", json={"answer": {"choice": "A"}}
    )
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "lease_lost"
    assert _invariant_violations(env) == {"duplicates": 0, "over_collected": 0, "counter_drift": 0}


def test_concurrent_retries_of_one_submission_store_one_answer(env: Env) -> None:
    manager, worker = env.user(Role.MANAGER), env.user()
    project = env.project(manager, members=[worker])
    env.items(manager, project, [pairwise_item(1)])
    lease = next_assignment(env.db, actor=worker, project_id=project)
    assert lease is not None
    token = env.token_for(worker)

    def submit(_: int) -> tuple[int, int]:
        response = httpx.post(
            f"{env.url}/api/v1/assignments/{lease.id}/answer",
            json={"answer": {"choice": "A"}},
            headers={"Authorization": f"Bearer {token}", "Idempotency-Key": "once"},
        )
        return response.status_code, response.json()["answer_id"]

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(submit, range(8)))
    assert sorted(code for code, _ in results) == [200] * 7 + [201]
    assert len({answer_id for _, answer_id in results}) == 1


def test_workers_never_see_gold_or_other_workers_answers(env: Env) -> None:
    manager = env.user(Role.MANAGER)
    worker, reviewer = env.user(), env.user(Role.REVIEWER)
    project = env.project(manager, members=[worker, reviewer])
    env.items(manager, project, [pairwise_item(1, gold={"choice": "B"})])
    client = env.client(worker)
    lease = client.post(f"/api/v1/projects/{project}/assignments/next")
    assert "gold" not in lease.text
    assert "gold" not in lease.json()["item"]["payload"]
    client.post(
        f"/api/v1/assignments/{lease.json()['assignment_id']}/answer",
        json={"answer": {"choice": "A"}},
    )
    assert client.get(f"/api/v1/projects/{project}/answers").status_code == 403
    assert env.client(reviewer).get(f"/api/v1/projects/{project}/answers").status_code == 200


def test_non_members_cannot_take_items_or_read_answers(env: Env) -> None:
    manager, stranger = env.user(Role.MANAGER), env.user()
    project = env.project(manager)
    env.items(manager, project, [pairwise_item(1)])
    client = env.client(stranger)
    assert client.post(f"/api/v1/projects/{project}/assignments/next").status_code == 404
    assert client.get(f"/api/v1/projects/{project}/answers").status_code == 404
    admin = env.user(Role.ADMIN)
    # Admins see every project, but work only where they are members.
    assert env.client(admin).post(f"/api/v1/projects/{project}/assignments/next").status_code == 403
    add_members(env.db, actor=manager, project_id=project, user_ids=[admin.id])
    assert env.client(admin).post(f"/api/v1/projects/{project}/assignments/next").status_code == 200


def test_an_import_larger_than_the_limit_gets_413_and_stores_nothing(
    env: Env, tmp_path: object
) -> None:
    from db_fixtures import ServerThread
    from expertloop.app import create_app
    from expertloop.settings import Settings

    manager = env.user(Role.MANAGER)
    project = env.project(manager)
    settings = Settings(database_url=env.backend.url, max_import_bytes=1000)
    server = ServerThread(create_app(settings, database=env.db))
    server.start()
    try:
        body = "\n".join(json.dumps(pairwise_item(n)) for n in range(50))
        response = httpx.post(
            f"{server.url}/api/v1/projects/{project}/items",
            content=body,
            headers={
                "Authorization": f"Bearer {env.token_for(manager)}",
                "Content-Type": "application/x-ndjson",
            },
        )
    finally:
        server.stop()
    assert response.status_code == 413
    assert "EXPERTLOOP_MAX_IMPORT_BYTES" in response.json()["error"]["message"]
    with env.db.read() as conn:
        assert conn.execute(text("SELECT count(*) FROM items")).scalar_one() == 0
