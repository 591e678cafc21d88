"""Adaptive redundancy in the live loop, on both databases: an item stops collecting once
its consensus is confident, asks for more while its answers disagree, and the settings are
checked, audited and applied to the items a project has."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from sqlalchemy import select

from db_fixtures import Env
from expertloop.domain import Role, User
from expertloop.errors import InputInvalid, PermissionDenied
from expertloop.quality.redundancy import fit_stopping_model
from expertloop.services import redundancy
from expertloop.services.assignments import next_assignment, submit_answer
from expertloop.services.audit import list_events
from expertloop.services.redundancy_jobs import fit_model, queue_stale_fits, retarget_project
from expertloop.services.workforce import settings as workforce_settings
from expertloop.store import tables as t

LABELS = ["x", "y"]


def _project(env: Env, manager: User, workers: list[User], n: int, **options: object) -> int:
    project = env.project(
        manager, task_type="label", config={"labels": LABELS}, members=workers, **options
    )
    if n:
        env.items(manager, project, [
            {"external_id": f"i{k}", "payload": {"text": f"thing {k}"}} for k in range(n)
        ])
    return project


def _item(env: Env, project: int, external_id: str = "i0") -> Any:
    with env.db.read() as conn:
        return conn.execute(
            select(t.Item.__table__).where(
                t.Item.project_id == project, t.Item.external_id == external_id
            )
        ).one()


def _answer(env: Env, worker: User, project: int, label: str) -> int:
    lease = next_assignment(env.db, actor=worker, project_id=project)
    assert lease is not None
    submit_answer(env.db, actor=worker, assignment_id=lease.id, answer={"label": label})
    return lease.item.id


def test_an_item_stops_once_confident_and_asks_for_more_while_its_answers_disagree(
    env: Env,
) -> None:
    manager = env.user(Role.MANAGER)
    workers = [env.user() for _ in range(6)]
    project = _project(env, manager, workers, 1)
    redundancy.set_redundancy(
        env.db, actor=manager, project_id=project, min_answers=3, max_answers=5,
        target_confidence=0.9,
    )
    retarget_project(env.db, project)
    assert _item(env, project).target == 3
    # Before any fit every worker is right with probability 0.7: each net agreeing answer
    # multiplies the odds by 7/3. x, y, x leaves one net vote (0.7): one more answer.
    for worker, label in zip(workers, ["x", "y", "x"], strict=False):
        _answer(env, worker, project, label)
    item = _item(env, project)
    assert (item.n_answers, item.target, item.open_slots) == (3, 4, 1)
    assert item.confidence == pytest.approx(0.7)
    assert item.uncertainty == pytest.approx(0.3)
    _answer(env, workers[3], project, "x")  # two net votes: 0.845, still below 0.9
    assert (_item(env, project).target, _item(env, project).open_slots) == (5, 1)
    _answer(env, workers[4], project, "x")  # three: 0.927, and max_answers anyway
    item = _item(env, project)
    assert (item.n_answers, item.target, item.open_slots) == (5, 5, 0)
    assert item.confidence == pytest.approx(0.927, abs=1e-3)
    assert next_assignment(env.db, actor=workers[5], project_id=project) is None


def test_unanimous_answers_stop_an_item_at_min_answers(env: Env) -> None:
    manager = env.user(Role.MANAGER)
    workers = [env.user() for _ in range(4)]
    project = _project(env, manager, [], 0)
    redundancy.set_redundancy(
        env.db, actor=manager, project_id=project, min_answers=3, max_answers=9,
        target_confidence=0.9,
    )
    from expertloop.services.projects import add_members

    add_members(env.db, actor=manager, project_id=project, user_ids=[w.id for w in workers])
    env.items(manager, project, [{"external_id": "i0", "payload": {"text": "new"}}])
    assert _item(env, project).target == 3  # a new item starts at min_answers
    for worker in workers[:3]:
        _answer(env, worker, project, "y")
    item = _item(env, project)
    assert (item.n_answers, item.target, item.open_slots) == (3, 3, 0)
    assert next_assignment(env.db, actor=workers[3], project_id=project) is None


def test_a_fitted_model_trusts_the_reliable_worker_more(env: Env) -> None:
    manager = env.user(Role.MANAGER)
    good, bad, *others = [env.user() for _ in range(5)]
    project = _project(env, manager, [good, bad, *others], 30, answers_per_item=5)
    # The truth is "x" on even items, "y" on odd ones: the good worker and the others are
    # right, the bad worker always wrong.
    for worker in (good, bad, *others):
        while (lease := next_assignment(env.db, actor=worker, project_id=project)) is not None:
            k = int(lease.item.payload["text"].split()[-1])
            truth = LABELS[k % 2]
            label = LABELS[1 - k % 2] if worker is bad else truth
            submit_answer(env.db, actor=worker, assignment_id=lease.id, answer={"label": label})
    redundancy.set_redundancy(env.db, actor=manager, project_id=project)
    assert queue_stale_fits(env.db)["queued"] == 1
    result = fit_model(env.db, project)
    assert result["fitted"]
    assert result["answers"] == 150
    assert result["workers"] == 5
    with env.db.read() as conn:
        accuracy = dict(
            conn.execute(
                select(t.WorkerReliability.worker_id, t.WorkerReliability.accuracy).where(
                    t.WorkerReliability.project_id == project
                )
            ).all()
        )
    assert accuracy[good.id] > 0.9 > 0.3 > accuracy[bad.id]  # shrunk toward the crowd
    assert queue_stale_fits(env.db)["queued"] == 0  # the model has every answer


def test_settings_are_checked_and_audited_and_only_managers_change_them(env: Env) -> None:
    manager, worker = env.user(Role.MANAGER), env.user()
    project = _project(env, manager, [worker], 2)
    bad = [
        ({"min_answers": 4, "max_answers": 3}, "max_answers"),
        ({"min_answers": 0}, "min_answers"),
        ({"target_confidence": 1.0}, "target_confidence"),
        ({"target_confidence": "high"}, "target_confidence"),
        ({"max_answers": 5000}, "max_answers"),
        ({"audit_share": 1.5}, "audit_share"),
        ({"audit_share": -0.1}, "audit_share"),
        ({"audit_share": "a tenth"}, "audit_share"),
        ({"audit_share": float("nan")}, "audit_share"),
    ]
    for given, field in bad:
        with pytest.raises(InputInvalid) as caught:
            redundancy.set_redundancy(env.db, actor=manager, project_id=project, **given)
        assert caught.value.details[0]["field"] == field, (given, caught.value.details)
    with pytest.raises(PermissionDenied):
        redundancy.set_redundancy(env.db, actor=worker, project_id=project)
    assert redundancy.get_redundancy(env.db, actor=worker, project_id=project) is None
    redundancy.set_redundancy(
        env.db, actor=manager, project_id=project, min_answers=2, max_answers=6,
        target_confidence=0.95,
    )
    got = redundancy.get_redundancy(env.db, actor=worker, project_id=project)
    assert got is not None
    assert got.as_dict() == {
        "min_answers": 2, "max_answers": 6, "target_confidence": 0.95, "audit_share": 0.0,
    }
    retarget_project(env.db, project)
    assert _item(env, project).target == 2
    redundancy.remove_redundancy(env.db, actor=manager, project_id=project)
    retarget_project(env.db, project)
    assert _item(env, project).target == 3  # the project's answers_per_item again
    actions = [e.action for e in list_events(env.db, actor=None, project_id=project)]
    assert "project.redundancy_updated" in actions
    assert "project.redundancy_removed" in actions
    # Free text has no class to be confident about.
    free = env.project(manager, task_type="demonstration")
    with pytest.raises(InputInvalid):
        redundancy.set_redundancy(env.db, actor=manager, project_id=free)


def test_gold_open_to_every_worker_keeps_a_bounded_target(env: Env) -> None:
    manager = env.user(Role.MANAGER)
    workers = [env.user() for _ in range(3)]
    project = env.project(
        manager, task_type="label", config={"labels": LABELS}, members=workers
    )
    workforce_settings.update_settings(env.db, actor=manager, project_id=project, gold_share=1.0)
    env.items(manager, project, [
        {"external_id": "i0", "payload": {"text": "gold"}, "gold": {"label": "x"}},
    ])
    slots = workforce_settings.GOLD_OPEN_SLOTS
    assert (_item(env, project).target, _item(env, project).open_slots) == (slots, slots)
    for worker in workers:
        _answer(env, worker, project, "x")
    item = _item(env, project)
    # Every answer opened the slot it took again: the target grows with the answers only.
    assert (item.n_answers, item.target, item.open_slots) == (3, slots + 3, slots)


def test_the_live_fit_builds_the_stopping_model_replay_builds(env: Env) -> None:
    # redundancy.fit and replay's refits call the same function with the same defaults, so
    # the live system stops where a replay of its answers would.
    manager = env.user(Role.MANAGER)
    strict, lenient, *others = [env.user() for _ in range(5)]
    project = _project(env, manager, [strict, lenient, *others], 40, answers_per_item=5)
    for worker in (strict, lenient, *others):
        while (lease := next_assignment(env.db, actor=worker, project_id=project)) is not None:
            k = int(lease.item.payload["text"].split()[-1])
            truth = LABELS[int(k % 3 == 0)]  # "y" on a third of the items
            label = "x" if worker is strict else "y" if worker is lenient and k % 2 else truth
            submit_answer(env.db, actor=worker, assignment_id=lease.id, answer={"label": label})
    redundancy.set_redundancy(env.db, actor=manager, project_id=project)
    assert fit_model(env.db, project)["fitted"]
    with env.db.read() as conn:
        votes = conn.execute(
            select(t.Answer.worker_id, t.Answer.item_id, t.Answer.value).where(
                t.Answer.project_id == project
            )
        ).all()
        stored = dict(
            conn.execute(
                select(t.WorkerReliability.worker_id, t.WorkerReliability.confusion).where(
                    t.WorkerReliability.project_id == project
                )
            ).all()
        )
    expected = fit_stopping_model(
        [v[0] for v in votes], [v[1] for v in votes],
        [LABELS.index(v[2]["label"]) for v in votes], classes=len(LABELS),
    )
    assert set(stored) == set(expected.confusion)
    for worker, matrix in expected.confusion.items():
        assert np.allclose(stored[worker], matrix)
    # The refit is the class-conditional one: the strict worker's "x" on a "y" item is
    # likely, its "y" on an "x" item is not.
    assert stored[strict.id][1][0] > 0.5 > stored[strict.id][0][1]
