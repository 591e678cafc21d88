"""Extending a lease: another lease time from now, up to the project's limit, never reviving
an expired lease, and never more answers plus live leases than an item's target (promise 2),
even with workers extending, claiming and a sweeper running at once."""

from __future__ import annotations

import threading

from sqlalchemy import text

from db_fixtures import Env, pairwise_item
from expertloop.clock import FakeClock
from expertloop.domain import Role
from expertloop.services import assignments
from expertloop.services.leases import expire_leases


def test_an_extension_gives_another_lease_time_from_now_up_to_the_projects_limit(
    env: Env, clock: FakeClock
) -> None:
    manager, worker = env.user(Role.MANAGER), env.user()
    project = env.project(
        manager, members=[worker], lease_seconds=300, max_lease_extensions=2
    )
    env.items(manager, project, [pairwise_item(1)])
    client = env.client(worker)
    lease = client.post(f"/api/v1/projects/{project}/assignments/next").json()
    url = f"/api/v1/assignments/{lease['assignment_id']}/extend"
    clock.advance(250)
    first = client.post(url)
    assert first.status_code == 200, first.text
    assert first.json()["extensions"] == 1
    assert first.json()["max_extensions"] == 2
    clock.advance(250)  # past the first expiry, within the extended one
    assert client.post(url).json()["extensions"] == 2
    refused = client.post(url)
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "extension_limit"
    # The extended lease still takes the answer after its original time.
    answered = client.post(
        f"/api/v1/assignments/{lease['assignment_id']}/answer", json={"answer": {"choice": "A"}}
    )
    assert answered.status_code == 201, answered.text


def test_an_expired_lease_is_not_revived_by_an_extension(env: Env, clock: FakeClock) -> None:
    manager, worker = env.user(Role.MANAGER), env.user()
    project = env.project(manager, members=[worker], lease_seconds=60)
    env.items(manager, project, [pairwise_item(1)])
    client = env.client(worker)
    lease = client.post(f"/api/v1/projects/{project}/assignments/next").json()
    clock.advance(61)  # past its time, not yet swept
    refused = client.post(f"/api/v1/assignments/{lease['assignment_id']}/extend")
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "lease_lost"


def test_the_project_limit_is_a_setting_shown_with_the_project(env: Env) -> None:
    manager = env.user(Role.MANAGER)
    boss = env.client(manager)
    made = boss.post(
        "/api/v1/projects",
        json={"name": "x", "task_type": "pairwise", "max_lease_extensions": 5},
    )
    assert made.status_code == 201, made.text
    assert made.json()["max_lease_extensions"] == 5
    bad = boss.post(
        "/api/v1/projects",
        json={"name": "x", "task_type": "pairwise", "max_lease_extensions": 101},
    )
    assert bad.status_code == 422
    assert bad.json()["error"]["details"][0]["field"] == "max_lease_extensions"


def test_someone_elses_lease_cannot_be_extended(env: Env) -> None:
    manager, worker, other = env.user(Role.MANAGER), env.user(), env.user()
    project = env.project(manager, members=[worker, other])
    env.items(manager, project, [pairwise_item(1)])
    lease = env.client(worker).post(f"/api/v1/projects/{project}/assignments/next").json()
    assert env.client(other).post(
        f"/api/v1/assignments/{lease['assignment_id']}/extend"
    ).status_code == 404


def _over_target(env: Env) -> list:
    with env.db.read() as conn:
        return conn.execute(
            text(
                "SELECT i.id FROM items i WHERE i.n_answers + (SELECT count(*) FROM assignments a "
                "WHERE a.item_id = i.id AND a.status = 'leased') > i.target "
                "OR i.open_slots <> i.target - i.n_answers - (SELECT count(*) FROM assignments a "
                "WHERE a.item_id = i.id AND a.status = 'leased')"
            )
        ).all()


def test_extensions_racing_claims_answers_and_the_sweeper_keep_every_item_within_its_target(
    env: Env, clock: FakeClock
) -> None:
    manager = env.user(Role.MANAGER)
    workers = [env.user() for _ in range(6)]
    project = env.project(
        manager, members=workers, answers_per_item=2, lease_seconds=30, max_lease_extensions=3
    )
    env.items(manager, project, [pairwise_item(n) for n in range(1, 5)])
    errors: list[BaseException] = []

    def work(worker) -> None:
        try:
            for round_ in range(6):
                lease = assignments.next_assignment(env.db, actor=worker, project_id=project)
                if lease is None:
                    return
                for _ in range(2):
                    try:
                        assignments.extend_assignment(
                            env.db, actor=worker, assignment_id=lease.id
                        )
                    except Exception as exc:  # 409s are expected in the race
                        if getattr(exc, "status", None) != 409:
                            raise
                if round_ % 2:
                    try:
                        assignments.submit_answer(
                            env.db, actor=worker, assignment_id=lease.id,
                            answer={"choice": "A"},
                        )
                    except Exception as exc:
                        if getattr(exc, "status", None) != 409:
                            raise
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    def sweep() -> None:
        try:
            for _ in range(20):
                clock.advance(7)
                expire_leases(env.db)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(w,)) for w in workers]
    threads.append(threading.Thread(target=sweep))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert _over_target(env) == []
    with env.db.read() as conn:
        answers = conn.execute(text("SELECT count(*) FROM answers")).scalar_one()
    assert 0 < answers <= 8
