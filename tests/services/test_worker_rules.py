"""Worker rules on both databases: a spammer is paused and its leases released, the too-fast
rule acts at submit, telemetry is stored beside the answer, a manager reinstates."""

from __future__ import annotations

import random
import threading

import pytest
from sqlalchemy import select

from db_fixtures import Env, pairwise_item
from expertloop.clock import FakeClock
from expertloop.domain import Role, User
from expertloop.errors import PermissionDenied, WorkerPaused
from expertloop.services import worker_rules
from expertloop.services.assignments import next_assignment, submit_answer
from expertloop.services.audit import list_events
from expertloop.store import tables as t

LABELS = ["cat", "dog", "bird", "fish"]


def _label_project(env: Env, manager: User, workers: list[User], n: int, **rules: object) -> int:
    project = env.project(manager, task_type="label", config={"labels": LABELS},
                          members=workers, answers_per_item=len(workers))
    env.items(manager, project, [
        {"external_id": f"i{k}", "payload": {"text": f"thing {k}"},
         "gold": {"label": LABELS[k % 4]}} for k in range(n)
    ])
    worker_rules.set_rules(env.db, actor=manager, project_id=project, rules=rules)
    return project


def _answer_all(env: Env, worker: User, project: int, pick: object, limit: int) -> int:
    done = 0
    while done < limit:
        a = next_assignment(env.db, actor=worker, project_id=project)
        if a is None:
            break
        label = pick(a.item.payload)  # type: ignore[operator]
        submit_answer(env.db, actor=worker, assignment_id=a.id, answer={"label": label})
        done += 1
    return done


def _truth(payload: dict) -> str:
    return LABELS[int(payload["text"].split()[1]) % 4]


def _live_leases(env: Env, worker: User, project: int) -> int:
    with env.db.read() as conn:
        return len(conn.execute(select(t.Assignment.id).where(
            t.Assignment.worker_id == worker.id, t.Assignment.project_id == project,
            t.Assignment.status == "leased")).all())


def test_a_simulated_spammer_is_paused_its_leases_released_and_told_why(
    env: Env, clock: FakeClock
) -> None:
    manager = env.user(Role.MANAGER)
    honest = [env.user() for _ in range(2)]
    spammer = env.user()
    project = _label_project(env, manager, [*honest, spammer], 30)
    rng = random.Random(0)
    for worker in honest:
        _answer_all(env, worker, project, _truth, 30)
    _answer_all(env, spammer, project, lambda _: rng.choice(LABELS), 20)
    held = next_assignment(env.db, actor=spammer, project_id=project)
    assert held is not None
    assert _live_leases(env, spammer, project) == 1

    result = worker_rules.evaluate_project(env.db, project)

    assert result["pausing"] >= 1
    assert _live_leases(env, spammer, project) == 0
    with pytest.raises(WorkerPaused) as refused:
        next_assignment(env.db, actor=spammer, project_id=project)
    assert "gold accuracy" in refused.value.message
    assert refused.value.status == 403
    flags, pauses = worker_rules.list_worker_flags(env.db, actor=manager, project_id=project)
    assert {f.worker_id for f in flags} == {spammer.id}
    gold_flag = next(f for f in flags if f.rule == "gold_accuracy")
    assert gold_flag.paused
    assert gold_flag.details["gold_answers"] == 20
    assert spammer.id in pauses
    # Evaluating again changes nothing (idempotent): still one flag per rule.
    worker_rules.evaluate_project(env.db, project)
    again, _ = worker_rules.list_worker_flags(env.db, actor=manager, project_id=project)
    assert sorted(f.id for f in again) == sorted(f.id for f in flags)


def test_a_manager_reinstates_a_paused_worker_with_an_audit_event(
    env: Env, clock: FakeClock
) -> None:
    manager = env.user(Role.MANAGER)
    worker = env.user()
    project = _label_project(env, manager, [worker], 20)
    _answer_all(env, worker, project, lambda p: "fish" if _truth(p) != "fish" else "cat", 12)
    worker_rules.evaluate_project(env.db, project)
    with pytest.raises(WorkerPaused):
        next_assignment(env.db, actor=worker, project_id=project)
    with pytest.raises(PermissionDenied):
        worker_rules.reinstate_worker(env.db, actor=worker, project_id=project,
                                      worker_id=worker.id)

    resolved = worker_rules.reinstate_worker(env.db, actor=manager, project_id=project,
                                             worker_id=worker.id, note="talked to them")

    assert resolved
    assert next_assignment(env.db, actor=worker, project_id=project) is not None
    events = list_events(env.db, actor=None, action="worker.reinstated")
    assert events
    assert events[-1].details["worker_id"] == worker.id
    # The old answers no longer count against them: a new evaluation finds nothing.
    assert worker_rules.evaluate_project(env.db, project)["findings"] == 0


def test_answers_under_the_minimum_time_flag_then_pause_at_submit(
    env: Env, clock: FakeClock
) -> None:
    manager = env.user(Role.MANAGER)
    worker = env.user()
    project = env.project(manager, members=[worker])
    env.items(manager, project, [pairwise_item(n) for n in range(6)])
    worker_rules.set_rules(env.db, actor=manager, project_id=project,
                           rules={"too_fast": {"min_seconds": 5, "pause": True,
                                               "pause_after": 3}})
    for n in range(3):
        a = next_assignment(env.db, actor=worker, project_id=project)
        assert a is not None
        clock.advance(1 if n < 2 else 10)  # the third is slow enough
        submit_answer(env.db, actor=worker, assignment_id=a.id, answer={"choice": "A"})
    flags, _ = worker_rules.list_worker_flags(env.db, actor=manager, project_id=project)
    assert [(f.rule, f.n_events, f.paused) for f in flags] == [("too_fast", 2, False)]
    a = next_assignment(env.db, actor=worker, project_id=project)
    assert a is not None
    submit_answer(env.db, actor=worker, assignment_id=a.id, answer={"choice": "B"})
    flags, pauses = worker_rules.list_worker_flags(env.db, actor=manager, project_id=project)
    assert [(f.rule, f.n_events, f.paused) for f in flags] == [("too_fast", 3, True)]
    assert "3 answers faster than the project's minimum of 5 s" in flags[0].message
    assert worker.id in pauses
    with pytest.raises(WorkerPaused):
        next_assignment(env.db, actor=worker, project_id=project)


def test_telemetry_is_stored_beside_the_answer_never_in_it(env: Env) -> None:
    manager = env.user(Role.MANAGER)
    worker = env.user()
    project = env.project(manager, members=[worker])
    env.items(manager, project, [pairwise_item(0)])
    a = next_assignment(env.db, actor=worker, project_id=project)
    assert a is not None
    stored = submit_answer(
        env.db, actor=worker, assignment_id=a.id, answer={"choice": "A", "rationale": "x" * 50},
        telemetry=worker_rules.Telemetry(typed_chars=5, pasted_chars=45, typing_ms=900),
    )
    with env.db.read() as conn:
        row = conn.execute(select(t.AnswerTelemetry)).one()
        value = conn.execute(select(t.Answer.value)).scalar_one()
    assert (row.answer_id, row.typed_chars, row.pasted_chars, row.typing_ms) == (
        stored.answer_id, 5, 45, 900)
    assert "telemetry" not in value
    assert "typed_chars" not in str(value)


def test_pausing_under_concurrency_never_leaves_the_paused_worker_an_item(env: Env) -> None:
    manager = env.user(Role.MANAGER)
    worker = env.user()
    project = env.project(manager, members=[worker], answers_per_item=1)
    env.items(manager, project, [pairwise_item(n) for n in range(200)])
    finding = worker_rules.Finding(worker.id, worker_rules.WorkerRule.GOLD_ACCURACY,
                                   {"accuracy": 0.1}, "gold accuracy 0.10", True)
    stop = threading.Event()
    errors: list[BaseException] = []

    def claim_and_skip() -> None:
        from expertloop.services.assignments import release_assignment
        while not stop.is_set():
            try:
                a = next_assignment(env.db, actor=worker, project_id=project)
                if a is not None:
                    release_assignment(env.db, actor=worker, assignment_id=a.id)
            except WorkerPaused:
                return
            except Exception as exc:  # a lease released by the pause under our feet
                if type(exc).__name__ != "LeaseLost":
                    errors.append(exc)
                    return

    threads = [threading.Thread(target=claim_and_skip) for _ in range(4)]
    for thread in threads:
        thread.start()
    try:
        worker_rules.pause_worker(env.db, project_id=project, worker_id=worker.id,
                                  finding=finding)
        # Whatever the claims in flight did, none holds a lease once the pause returned,
        # and none gets one after.
        assert _live_leases(env, worker, project) == 0
        for _ in range(5):
            with pytest.raises(WorkerPaused):
                next_assignment(env.db, actor=worker, project_id=project)
    finally:
        stop.set()
        for thread in threads:
            thread.join(10)
    assert not errors
    assert _live_leases(env, worker, project) == 0


def test_the_watch_queues_an_evaluation_only_for_projects_with_new_answers(
    env: Env, clock: FakeClock
) -> None:
    manager = env.user(Role.MANAGER)
    worker = env.user()
    project = _label_project(env, manager, [worker], 3)
    quiet = env.project(manager, members=[worker])
    _answer_all(env, worker, project, _truth, 2)
    assert worker_rules.queue_stale_evaluations(env.db)["queued"] == 1
    worker_rules.evaluate_project(env.db, project)
    assert worker_rules.queue_stale_evaluations(env.db)["queued"] == 0
    _answer_all(env, worker, project, _truth, 1)
    assert worker_rules.queue_stale_evaluations(env.db)["queued"] == 1
    assert quiet != project
