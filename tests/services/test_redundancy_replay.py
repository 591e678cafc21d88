"""``services.redundancy_replay``: a project's own answers replayed at several targets, on
both databases, against :func:`expertloop.quality.redundancy.replay` called directly."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from db_fixtures import Env
from expertloop.domain import Role, User
from expertloop.errors import InputInvalid, PermissionDenied
from expertloop.quality.aggregation import aggregate
from expertloop.quality.redundancy import replay
from expertloop.services.assignments import next_assignment, submit_answer
from expertloop.services.redundancy_replay import replay_project

LABELS = ["x", "y", "z"]
# Simulated workers: each answers an item's true class with this probability, else a
# uniformly drawn other class.
ACCURACY = (0.95, 0.9, 0.8, 0.7, 0.55)


def labelled_project(
    env: Env, *, n_items: int, n_gold: int, answers: int, seed: int = 3
) -> tuple[int, User, list[User], list[tuple[int, int, int]]]:
    """A label project whose ``n_items`` items (the first ``n_gold`` with gold) each got
    ``answers`` answers from simulated workers through the services; the answers as
    ``(worker id, item id, class code)`` in the order given."""
    rng = np.random.default_rng(seed)
    manager = env.user(Role.MANAGER)
    workers = [env.user() for _ in range(answers)]
    project = env.project(manager, task_type="label", config={"labels": LABELS},
                          members=workers, answers_per_item=answers)
    truth = rng.integers(len(LABELS), size=n_items)
    env.items(manager, project, [
        {"external_id": str(k), "payload": {"text": f"item {k}"},
         **({"gold": {"label": LABELS[truth[k]]}} if k < n_gold else {})}
        for k in range(n_items)
    ])
    given: list[tuple[int, int, int]] = []
    for worker, accuracy in zip(workers, ACCURACY, strict=False):
        while (lease := next_assignment(env.db, actor=worker, project_id=project)) is not None:
            true = int(truth[int(lease.item.payload["text"].split()[-1])])
            label = true if rng.random() < accuracy else int(
                rng.choice([c for c in range(len(LABELS)) if c != true]))
            submit_answer(env.db, actor=worker, assignment_id=lease.id,
                          answer={"label": LABELS[label]})
            given.append((worker.id, lease.item.id, label))
    assert len(given) == n_items * answers
    return project, manager, workers, given


def test_the_figures_are_replays_of_the_projects_own_answers(env: Env) -> None:
    project, manager, _, given = labelled_project(env, n_items=24, n_gold=8, answers=5)
    workers, items, labels = (list(column) for column in zip(*given, strict=True))
    targets = [0.9, 0.99, 0.9999]
    report = replay_project(env.db, actor=manager, project_id=project, targets=targets,
                            min_answers=2, max_answers=5, seeds=2)
    assert (report.items, report.compared, report.answers_available) == (24, 24, 120)
    ids = np.unique(items)
    full = [aggregate(workers, items, labels, method="auto", classes=[0, 1, 2], seed=s).labels
            for s in range(2)]
    gold = _gold(env, project, ids)
    with_gold = gold >= 0
    assert report.gold_accuracy_all == pytest.approx(
        np.mean([np.mean(f[with_gold] == gold[with_gold]) for f in full]))
    used_by_seed = []
    for row, target in zip(report.targets, targets, strict=True):
        direct = [replay(workers, items, labels, min_answers=2, max_answers=5,
                         target_confidence=target, seed=s, classes=[0, 1, 2]) for s in range(2)]
        assert row.target_confidence == target
        assert row.answers_used == np.mean([r.answers_used for r in direct])
        assert row.answers_available == 120
        assert row.saving == pytest.approx(1 - row.answers_used / 120)
        assert row.changed == pytest.approx(np.mean(
            [np.mean(r.labels != f) for r, f in zip(direct, full, strict=True)]))
        # The gold delta is the accuracy at the target less the one with every answer.
        assert row.gold_accuracy == pytest.approx(
            np.mean([np.mean(r.labels[with_gold] == gold[with_gold]) for r in direct]))
        assert report.gold_accuracy_all is not None
        assert row.gold_delta_points == pytest.approx(
            100 * (row.gold_accuracy - report.gold_accuracy_all))
        used_by_seed.append([r.answers_used for r in direct])
    assert report.gold_items == 8
    # Some answers saved at the lowest target, and a higher target never uses fewer.
    assert report.targets[0].saving > 0
    for low, high in itertools.pairwise(used_by_seed):
        assert all(h >= lo for lo, h in zip(low, high, strict=True))
    used = [row.answers_used for row in report.targets]
    assert used == sorted(used)
    assert used[0] < used[-1]
    # Every item has exactly min_answers answers: nothing to save, no label changed.
    same = replay_project(env.db, actor=None, project_id=project, targets=[0.99],
                          min_answers=5, max_answers=5, seeds=1)
    assert (same.targets[0].saving, same.targets[0].answers_used) == (0.0, 120)
    assert same.targets[0].changed == 0.0
    assert same.targets[0].gold_delta_points == 0.0


def _gold(env: Env, project: int, ids: np.ndarray) -> np.ndarray:
    """Each item's gold as a class code (-1 without gold)."""
    from sqlalchemy import select

    from expertloop.store import tables as t

    with env.db.read() as conn:
        rows = dict(conn.execute(select(t.Item.id, t.Item.gold).where(
            t.Item.project_id == project)).all())
    return np.array([-1 if rows[int(i)] is None else LABELS.index(rows[int(i)]["label"])
                     for i in ids])


def test_no_gold_no_gold_figures_and_who_may_replay(env: Env) -> None:
    project, manager, workers, _ = labelled_project(env, n_items=6, n_gold=0, answers=3)
    report = replay_project(env.db, actor=manager, project_id=project, targets=[0.99],
                            min_answers=2, max_answers=3, seeds=1)
    assert (report.gold_items, report.gold_accuracy_all) == (0, None)
    assert (report.targets[0].gold_accuracy, report.targets[0].gold_delta_points) == (None, None)
    with pytest.raises(PermissionDenied):  # a worker of the project is no manager of it
        replay_project(env.db, actor=workers[0], project_id=project)
    for bad in ([1.0], [0.3], []):
        with pytest.raises(InputInvalid) as refused:
            replay_project(env.db, actor=manager, project_id=project, targets=bad)
        assert refused.value.details[0]["field"] == "targets"
    with pytest.raises(InputInvalid) as refused:
        replay_project(env.db, actor=manager, project_id=project, seeds=0)
    assert refused.value.details[0]["field"] == "seeds"
    with pytest.raises(InputInvalid) as refused:
        replay_project(env.db, actor=manager, project_id=project, min_answers=4, max_answers=2)
    assert refused.value.details[0]["field"] == "max_answers"


def test_a_project_without_classes_or_answers_is_refused(env: Env) -> None:
    manager = env.user(Role.MANAGER)
    empty = env.project(manager, task_type="label", config={"labels": LABELS})
    with pytest.raises(InputInvalid, match="no answers to replay"):
        replay_project(env.db, actor=None, project_id=empty)
    text = env.project(manager, task_type="demonstration")
    with pytest.raises(InputInvalid, match="pick a class"):
        replay_project(env.db, actor=None, project_id=text)
