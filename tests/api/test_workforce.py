"""The vetted workforce over HTTP: skills and credentials, required skills, qualification
exams, gold mixed into operations, gold accuracy, routing and escalation."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
from sqlalchemy import insert, select, update

from db_fixtures import Env, pairwise_item
from expertloop.clock import FakeClock
from expertloop.domain import Role, User
from expertloop.store import audit as audit_store
from expertloop.store import tables as t

API = "/api/v1"


def _audit(env: Env, action: str) -> list[audit_store.AuditEntry]:
    with env.db.read() as conn:
        return audit_store.list_events(conn, action=action)


def _next(client: httpx.Client, project: int) -> httpx.Response:
    return client.post(f"{API}/projects/{project}/assignments/next")


def _answer(client: httpx.Client, lease: dict[str, Any], *, correct: bool = True) -> None:
    """Answer a pairwise item whose gold (if any) is the canonical ``A`` (pairwise_item's
    ``response_a`` starts with ``A``, wherever it was shown)."""
    a_first = lease["item"]["payload"]["response_a"].startswith("A")
    choice = "A" if a_first == correct else "B"
    answered = client.post(
        f"{API}/assignments/{lease['assignment_id']}/answer", json={"answer": {"choice": choice}}
    )
    assert answered.status_code == 201, answered.text


def _gold_items(n: int, start: int = 100) -> list[dict[str, Any]]:
    return [pairwise_item(start + k, gold={"choice": "A"}) for k in range(n)]


# --- skills and credentials --------------------------------------------------------------


def test_a_manager_sets_a_users_skills_and_they_come_back_with_the_user(env: Env) -> None:
    manager, worker = env.user(Role.MANAGER), env.user()
    client = env.client(manager)
    put = client.put(f"{API}/users/{worker.id}/skills", json={"skills": {"medicine": 3, "law": 0}})
    assert put.status_code == 200, put.text
    got = client.get(f"{API}/users/{worker.id}").json()
    assert got["skills"] == {"law": 0, "medicine": 3}
    assert got["username"] == worker.username
    # The user reads their own profile; another worker does not find it.
    assert env.client(worker).get(f"{API}/users/{worker.id}").json()["skills"]["medicine"] == 3
    assert env.client(env.user()).get(f"{API}/users/{worker.id}").status_code == 404
    (event,) = _audit(env, "user.skills_set")
    assert event.actor_id == manager.id
    assert event.before == {"skills": {}}
    assert event.after == {"skills": {"law": 0, "medicine": 3}}


def test_bad_skills_are_refused_with_a_422_naming_the_skill(env: Env) -> None:
    manager, worker = env.user(Role.MANAGER), env.user()
    client = env.client(manager)
    for skills, field in (
        ({"medicine": 6}, "skills.medicine"),
        ({"medicine": -1}, "skills.medicine"),
        ({"medicine": "3"}, "skills.medicine"),
        ({"medicine": 2.5}, "skills.medicine"),
        ({"Medicine!": 1}, "skills.Medicine!"),
    ):
        refused = client.put(f"{API}/users/{worker.id}/skills", json={"skills": skills})
        assert refused.status_code == 422, skills
        assert field in refused.text
    assert client.put(f"{API}/users/999999/skills", json={"skills": {}}).status_code == 404


def test_only_managers_and_admins_set_skills_or_record_credentials(env: Env) -> None:
    worker, other = env.user(), env.user(Role.REVIEWER)
    client = env.client(other)
    assert client.put(
        f"{API}/users/{worker.id}/skills", json={"skills": {"law": 1}}
    ).status_code == 403
    assert client.post(
        f"{API}/users/{worker.id}/credentials", json={"kind": "degree", "title": "LLB"}
    ).status_code == 403
    admin = env.client(env.user(Role.ADMIN))
    assert admin.put(
        f"{API}/users/{worker.id}/skills", json={"skills": {"law": 1}}
    ).status_code == 200


def test_a_manager_records_a_credential_verifies_it_and_removes_it(env: Env) -> None:
    manager, worker = env.user(Role.MANAGER), env.user()
    client = env.client(manager)
    created = client.post(
        f"{API}/users/{worker.id}/credentials",
        json={"kind": "licence", "title": "Medical licence 12345", "evidence": "Registry page"},
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["verified"] is False
    assert body["verified_by"] is None
    assert body["recorded_by"] == manager.id
    verified = client.post(f"{API}/users/{worker.id}/credentials/{body['id']}/verify").json()
    assert verified["verified"] is True
    assert verified["verified_by"] == manager.id
    assert verified["verified_at"] is not None
    (listed,) = client.get(f"{API}/users/{worker.id}").json()["credentials"]
    assert listed["evidence"] == "Registry page"
    bad = client.post(f"{API}/users/{worker.id}/credentials", json={"kind": "rumour", "title": "x"})
    assert bad.status_code == 422
    assert client.delete(f"{API}/users/{worker.id}/credentials/{body['id']}").status_code == 204
    assert client.get(f"{API}/users/{worker.id}").json()["credentials"] == []
    assert client.delete(f"{API}/users/{worker.id}/credentials/{body['id']}").status_code == 404
    assert [len(_audit(env, f"user.credential_{a}")) for a in ("added", "verified", "removed")] == [
        1, 1, 1
    ]


# --- required skills ---------------------------------------------------------------------


def test_a_worker_without_the_required_skills_gets_nothing_and_one_with_them_gets_items(
    env: Env,
) -> None:
    manager = env.user(Role.MANAGER)
    novice, junior, expert = env.user(), env.user(), env.user()
    client = env.client(manager)
    created = client.post(
        f"{API}/projects",
        json={"name": "clinical", "task_type": "pairwise", "required_skills": {"medicine": 2}},
    )
    assert created.status_code == 201, created.text
    project = created.json()["id"]
    client.post(
        f"{API}/projects/{project}/members", json={"user_ids": [novice.id, junior.id, expert.id]}
    )
    env.items(manager, project, [pairwise_item(n) for n in range(3)])
    client.put(f"{API}/users/{junior.id}/skills", json={"skills": {"medicine": 1}})
    client.put(f"{API}/users/{expert.id}/skills", json={"skills": {"medicine": 4}})
    assert _next(env.client(novice), project).status_code == 204
    assert _next(env.client(junior), project).status_code == 204
    assert _next(env.client(expert), project).status_code == 200
    settings = client.get(f"{API}/projects/{project}/workforce").json()
    assert settings["required_skills"] == {"medicine": 2}
    # Lifting the requirement lets everyone in at once (the claim reads it every time).
    client.patch(f"{API}/projects/{project}/workforce", json={"required_skills": {}})
    assert _next(env.client(novice), project).status_code == 200


def test_bad_project_workforce_settings_are_422s_naming_the_field(env: Env) -> None:
    manager = env.user(Role.MANAGER)
    project = env.project(manager)
    client = env.client(manager)
    for body, field in (
        ({"required_skills": {"medicine": 0}}, "required_skills.medicine"),
        ({"gold_share": 1.5}, "gold_share"),
        ({"qualification": {"exam_project_id": project}}, "qualification.exam_project_id"),
        ({"qualification": {"exam_project_id": 99999}}, "qualification.exam_project_id"),
    ):
        refused = client.patch(f"{API}/projects/{project}/workforce", json=body)
        assert refused.status_code == 422, body
        assert field in refused.text, refused.text
    worker_client = env.client(env.user())
    assert worker_client.patch(
        f"{API}/projects/{project}/workforce", json={"gold_share": 0.1}
    ).status_code == 404


def _race(
    env: Env, project: int, workers: list[User], rounds: int = 30
) -> dict[int, list[int]]:
    """Every worker loops next -> answer in parallel until told there is nothing left;
    returns the items each one got."""
    got: dict[int, list[int]] = {w.id: [] for w in workers}
    clients = {w.id: env.client(w) for w in workers}

    def loop(worker: User) -> None:
        client = clients[worker.id]
        for _ in range(rounds):
            lease = _next(client, project)
            if lease.status_code == 204:
                return
            assert lease.status_code == 200, lease.text
            got[worker.id].append(lease.json()["item"]["id"])
            _answer(client, lease.json())

    with ThreadPoolExecutor(len(workers)) as pool:
        for future in [pool.submit(loop, w) for w in workers]:
            future.result()
    return got


def test_under_concurrency_unskilled_and_unqualified_workers_never_get_an_item(env: Env) -> None:
    manager = env.user(Role.MANAGER)
    unskilled = [env.user() for _ in range(3)]
    unqualified = [env.user() for _ in range(3)]
    able = [env.user() for _ in range(2)]
    everyone = unskilled + unqualified + able
    exam = env.project(manager, members=everyone)
    env.items(manager, exam, _gold_items(2))
    project = env.project(manager, members=everyone, answers_per_item=2)
    env.items(manager, project, [pairwise_item(n) for n in range(8)])
    client = env.client(manager)
    assert client.patch(
        f"{API}/projects/{project}/workforce",
        json={"required_skills": {"law": 2}, "qualification": {"exam_project_id": exam}},
    ).status_code == 200
    for worker in unqualified + able:
        client.put(f"{API}/users/{worker.id}/skills", json={"skills": {"law": 3}})
    with env.db.write() as conn:
        for worker in unskilled + able:  # passed the exam (the exam flow is tested below)
            conn.execute(
                insert(t.ExamResult).values(
                    exam_project_id=exam, worker_id=worker.id, attempts=1, answered=2,
                    correct=2, last_score=1.0, best_score=1.0, finished_at=env.db.clock.now(),
                )
            )
    got = _race(env, project, everyone)
    assert all(got[w.id] == [] for w in unskilled + unqualified)
    assert all(got[w.id] for w in able)
    # On PostgreSQL a claim skips an item another claim holds locked at that instant, so an
    # able worker may have been told "nothing left" early: the rest, one at a time.
    for worker in able:
        got[worker.id] += _race(env, project, [worker])[worker.id]
    with env.db.read() as conn:
        answered_by = list(
            conn.execute(select(t.Answer.worker_id).where(t.Answer.project_id == project))
            .scalars()
        )
    assert len(answered_by) == 16  # every slot of every item, by the able workers only
    assert set(answered_by) == {w.id for w in able}


# --- qualification exams -----------------------------------------------------------------


def test_an_exam_must_be_all_gold_and_refuses_items_without_gold(env: Env) -> None:
    manager = env.user(Role.MANAGER)
    client = env.client(manager)
    exam = env.project(manager)
    env.items(manager, exam, [*_gold_items(2), pairwise_item(1)])
    project = env.project(manager)
    refused = client.patch(
        f"{API}/projects/{project}/workforce", json={"qualification": {"exam_project_id": exam}}
    )
    assert refused.status_code == 422
    assert "without gold" in refused.text
    good_exam = env.project(manager)
    env.items(manager, good_exam, _gold_items(2))
    assert client.patch(
        f"{API}/projects/{project}/workforce",
        json={"qualification": {"exam_project_id": good_exam}},
    ).status_code == 200
    assert client.get(f"{API}/projects/{good_exam}/workforce").json()["is_exam"] is True
    imported = client.post(f"{API}/projects/{good_exam}/items", json=[pairwise_item(7)])
    assert imported.status_code == 422
    assert "every item needs gold" in imported.text
    # Refused settings on a new project leave no project behind.
    before = len(client.get(f"{API}/projects").json())
    created = client.post(
        f"{API}/projects",
        json={"name": "x", "task_type": "pairwise", "qualification": {"exam_project_id": exam}},
    )
    assert created.status_code == 422
    assert len(client.get(f"{API}/projects").json()) == before


def test_a_worker_who_passes_the_exam_gets_items_and_one_who_fails_waits_to_retry(
    env: Env, clock: FakeClock
) -> None:
    manager, good, bad = env.user(Role.MANAGER), env.user(), env.user()
    exam = env.project(manager, members=[good, bad])
    env.items(manager, exam, _gold_items(3))
    project = env.project(manager, members=[good, bad])
    env.items(manager, project, [pairwise_item(n) for n in range(2)])
    manager_client = env.client(manager)
    assert manager_client.patch(
        f"{API}/projects/{project}/workforce",
        json={"qualification": {"exam_project_id": exam, "pass_mark": 0.6,
                                "retry_after_seconds": 3600}},
    ).status_code == 200
    for worker, correct in ((good, True), (bad, False)):
        client = env.client(worker)
        assert _next(client, project).status_code == 204
        status = client.get(f"{API}/projects/{project}/qualification").json()
        assert status["status"] == "not_started"
        assert status["exam_items"] == 3
        for n in range(3):
            lease = _next(client, exam)
            assert lease.status_code == 200
            assert "gold" not in lease.text  # exam items are served like any item
            _answer(client, lease.json(), correct=correct or n == 0)
    good_status = env.client(good).get(f"{API}/projects/{project}/qualification").json()
    assert good_status["status"] == "passed"
    assert good_status["score"] == 1.0
    assert good_status["qualified"] is True
    assert _next(env.client(good), project).status_code == 200
    bad_client = env.client(bad)
    bad_status = bad_client.get(f"{API}/projects/{project}/qualification").json()
    assert bad_status["status"] == "failed"
    assert abs(bad_status["score"] - 1 / 3) < 1e-9
    assert bad_status["retry_at"] is not None
    assert _next(bad_client, project).status_code == 204
    assert _next(bad_client, exam).status_code == 204  # locked out of the exam
    results = manager_client.get(f"{API}/projects/{project}/qualification/results").json()
    assert {r["username"]: r["status"] for r in results} == {
        good.username: "passed", bad.username: "failed"
    }
    assert "gold" not in str(results)
    assert "choice" not in str(results)
    assert bad_client.get(f"{API}/projects/{project}/qualification/results").status_code == 403
    clock.advance(3601)
    assert bad_client.get(f"{API}/projects/{project}/qualification").json()["status"] == (
        "retry_available"
    )
    for _ in range(3):  # the failed attempt's answers were cleared: the whole exam again
        lease = _next(bad_client, exam)
        assert lease.status_code == 200
        _answer(bad_client, lease.json(), correct=True)
    retaken = bad_client.get(f"{API}/projects/{project}/qualification").json()
    assert retaken["status"] == "passed"
    assert retaken["attempts"] == 2
    assert _next(bad_client, project).status_code == 200


# --- gold in operations ------------------------------------------------------------------


def _shape(value: Any) -> Any:
    """The structure of a JSON value: keys and types, not the values."""
    if isinstance(value, dict):
        return {k: _shape(v) for k, v in sorted(value.items())}
    if isinstance(value, list):
        return [_shape(v) for v in value]
    return type(value).__name__


def test_a_gold_share_mixes_that_share_of_gold_into_each_workers_items_indistinguishably(
    env: Env,
) -> None:
    manager, worker = env.user(Role.MANAGER), env.user()
    project = env.project(manager, members=[worker], answers_per_item=1)
    env.items(manager, project, [pairwise_item(n) for n in range(30)] + _gold_items(10))
    manager_client = env.client(manager)
    assert manager_client.patch(
        f"{API}/projects/{project}/workforce", json={"gold_share": 0.3}
    ).status_code == 200
    with env.db.read() as conn:
        gold_ids = set(
            conn.execute(
                select(t.Item.id).where(t.Item.project_id == project, t.Item.gold.is_not(None))
            ).scalars()
        )
    client = env.client(worker)
    shapes: dict[bool, set[str]] = {True: set(), False: set()}
    headers: dict[bool, set[str]] = {True: set(), False: set()}
    gold = 0
    for answered in range(1, 21):
        lease = _next(client, project)
        assert lease.status_code == 200
        is_gold = lease.json()["item"]["id"] in gold_ids
        shapes[is_gold].add(repr(_shape(lease.json())))
        headers[is_gold].add(
            repr(sorted(h for h in lease.headers if h not in ("date", "content-length")))
        )
        _answer(client, lease.json())
        gold += is_gold
        # The worker's gold answers track the share of their answers, within one item.
        assert abs(gold - 0.3 * answered) <= 1.0 + 1e-9, (gold, answered)
    assert gold >= 4
    # Gold and other items come back in the same shape, with the same headers.
    assert shapes[True] == shapes[False]
    assert len(shapes[True]) == 1
    assert headers[True] == headers[False]
    mine = client.get(f"{API}/projects/{project}/gold/me").json()
    assert mine["gold_answers"] == gold
    assert mine["gold_correct"] == gold
    assert mine["answers"] == 20
    assert 0 < mine["lower"] < mine["posterior_mean"] < mine["upper"] <= 1
    theirs = manager_client.get(f"{API}/projects/{project}/workers/{worker.id}/gold").json()
    assert theirs == mine
    listed = manager_client.get(f"{API}/projects/{project}/gold").json()
    assert [r["worker_id"] for r in listed] == [worker.id]
    assert client.get(f"{API}/projects/{project}/workers/{manager.id}/gold").status_code == 403
    assert client.get(f"{API}/projects/{project}/gold").status_code == 403


def test_without_a_gold_share_set_to_zero_no_gold_is_served(env: Env) -> None:
    manager, worker = env.user(Role.MANAGER), env.user()
    project = env.project(manager, members=[worker], answers_per_item=1)
    env.items(manager, project, [pairwise_item(0), *_gold_items(3)])
    env.client(manager).patch(f"{API}/projects/{project}/workforce", json={"gold_share": 0})
    client = env.client(worker)
    lease = _next(client, project)
    assert lease.json()["item"]["payload"]["prompt"] == "Question 0?"
    _answer(client, lease.json())
    assert _next(client, project).status_code == 204


def test_a_wrong_answer_on_gold_counts_against_the_workers_gold_accuracy(env: Env) -> None:
    manager, worker = env.user(Role.MANAGER), env.user()
    project = env.project(manager, members=[worker])
    env.items(manager, project, _gold_items(4))
    env.client(manager).patch(f"{API}/projects/{project}/workforce", json={"gold_share": 1})
    client = env.client(worker)
    for n in range(4):
        _answer(client, _next(client, project).json(), correct=n < 1)
    mine = client.get(f"{API}/projects/{project}/gold/me").json()
    assert (mine["gold_answers"], mine["gold_correct"]) == (4, 1)
    assert mine["posterior_mean"] == (1 + 1) / (4 + 2)


# --- routing and escalation --------------------------------------------------------------


def test_a_reliable_worker_gets_the_disputed_item_first_and_an_unreliable_one_does_not(
    env: Env,
) -> None:
    manager = env.user(Role.MANAGER)
    first, second, unreliable, reliable = (env.user() for _ in range(4))
    everyone = [first, second, unreliable, reliable]
    project = env.project(manager, members=everyone, answers_per_item=3)
    env.items(
        manager, project, [pairwise_item(n, priority=p) for n, p in ((0, 10), (1, 5), (2, 0))]
    )
    env.client(manager).patch(
        f"{API}/projects/{project}/workforce", json={"route_min_accuracy": 0.8}
    )
    for worker, correct in ((first, True), (second, False)):  # they disagree on item 0
        client = env.client(worker)
        lease = _next(client, project).json()
        assert lease["item"]["payload"]["prompt"] == "Question 0?"
        _answer(client, lease, correct=correct)
    with env.db.write() as conn:
        disputed = conn.execute(
            select(t.Item.id).where(t.Item.project_id == project, t.Item.disputed)
        ).scalars().all()
        assert len(disputed) == 1
        # Item 0 now has more open slots than the others (as after a review's requeue), so
        # the usual order offers item 1 first.
        conn.execute(
            update(t.Item)
            .where(t.Item.id == disputed[0])
            .values(target=t.Item.target + 3, open_slots=t.Item.open_slots + 3)
        )
        for worker, right in ((reliable, 20), (unreliable, 8)):
            conn.execute(
                insert(t.WorkerStats).values(
                    project_id=project, worker_id=worker.id, answers=20, gold_answers=20,
                    gold_correct=right,
                )
            )
    assert _next(env.client(unreliable), project).json()["item"]["payload"]["prompt"] == (
        "Question 1?"
    )
    assert _next(env.client(reliable), project).json()["item"]["payload"]["prompt"] == (
        "Question 0?"
    )


def test_an_item_whose_answers_end_without_a_majority_is_escalated_to_the_reviewers(
    env: Env,
) -> None:
    manager, reviewer = env.user(Role.MANAGER), env.user(Role.REVIEWER)
    workers = [env.user() for _ in range(4)]
    project = env.project(manager, members=[*workers, reviewer], answers_per_item=2)
    env.items(manager, project, [pairwise_item(0), pairwise_item(1)])
    env.client(manager).patch(f"{API}/projects/{project}/workforce", json={"escalate": True})
    # Item 0: the two answers disagree; item 1: they agree.
    for worker, correct in zip(workers, (True, False, True, True), strict=True):
        client = env.client(worker)
        _answer(client, _next(client, project).json(), correct=correct)
    reviewer_client = env.client(reviewer)
    pending = reviewer_client.get(
        f"{API}/projects/{project}/reviews", params={"status": "pending"}
    ).json()
    assert {r["source"] for r in pending} == {"escalation"}
    assert {r["item_id"] for r in pending} == {pending[0]["item_id"]}
    assert len(pending) == 2
    held = reviewer_client.post(f"{API}/projects/{project}/reviews/next")
    assert held.status_code == 200
    assert held.json()["source"] == "escalation"
    # Each review keeps its answer's worker (the console's outcomes per worker read it).
    with env.db.read() as conn:
        rows = conn.execute(
            select(t.Review.worker_id, t.Answer.worker_id).join(
                t.Answer, t.Answer.id == t.Review.answer_id
            )
        ).all()
    assert len(rows) == 2
    assert all(kept == answered for kept, answered in rows)


def test_escalation_waits_for_the_items_last_answer_and_spares_a_majority(env: Env) -> None:
    # Three answers an item. Item 0: A, B, then A (disputed at the second answer, which is
    # not the last; a majority at the end): no review. Item 1: A, B, then a tie: escalated
    # at its last answer, all three answers.
    manager, reviewer = env.user(Role.MANAGER), env.user(Role.REVIEWER)
    workers = [env.user() for _ in range(3)]
    project = env.project(manager, members=[*workers, reviewer], answers_per_item=3)
    env.items(manager, project, [pairwise_item(0)])
    env.client(manager).patch(f"{API}/projects/{project}/workforce", json={"escalate": True})

    def pending() -> list[dict[str, Any]]:
        return env.client(reviewer).get(
            f"{API}/projects/{project}/reviews", params={"status": "pending"}
        ).json()

    clients = [env.client(w) for w in workers]
    _answer(clients[0], _next(clients[0], project).json(), correct=True)
    _answer(clients[1], _next(clients[1], project).json(), correct=False)
    assert pending() == []  # disputed, but one answer is still to come
    _answer(clients[2], _next(clients[2], project).json(), correct=True)
    assert pending() == []  # two of three agree

    env.items(manager, project, [pairwise_item(1)])
    _answer(clients[0], _next(clients[0], project).json(), correct=True)
    _answer(clients[1], _next(clients[1], project).json(), correct=False)
    tie = _next(clients[2], project).json()
    answered = clients[2].post(
        f"{API}/assignments/{tie['assignment_id']}/answer", json={"answer": {"choice": "tie"}}
    )
    assert answered.status_code == 201, answered.text
    escalated = pending()
    assert {r["source"] for r in escalated} == {"escalation"}
    assert {r["item_id"] for r in escalated} == {tie["item"]["id"]}
    assert len(escalated) == 3


def test_without_escalation_disagreeing_answers_queue_no_review(env: Env) -> None:
    manager = env.user(Role.MANAGER)
    workers = [env.user() for _ in range(2)]
    project = env.project(manager, members=workers, answers_per_item=2)
    env.items(manager, project, [pairwise_item(0)])
    env.client(manager).patch(
        f"{API}/projects/{project}/workforce", json={"route_min_accuracy": 0.9}
    )
    for worker, correct in zip(workers, (True, False), strict=True):
        client = env.client(worker)
        _answer(client, _next(client, project).json(), correct=correct)
    with env.db.read() as conn:
        assert conn.execute(select(t.Review.id)).first() is None
