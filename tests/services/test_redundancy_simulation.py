"""Adaptive redundancy in the live loop saves answers at equal accuracy, on both databases.

Simulated workers of known accuracy (:func:`expertloop.quality.simulation.simulate_answers`'s
generative model: each worker's confusion matrix, each item's easiness and true class) work
through two projects with the same items through the services, as people would: one with a
fixed number of answers per item, one adaptive. The worker model is refitted as the
periodic job would, every few dozen answers. The consensus of each project (one-coin
Dawid-Skene on all its answers, as an export computes it) is scored against the truth.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import select

from db_fixtures import Env
from expertloop.domain import Role, User
from expertloop.quality.aggregation import one_coin_dawid_skene
from expertloop.quality.simulation import SimulatedAnswers, simulate_answers
from expertloop.services import redundancy
from expertloop.services.assignments import next_assignment, submit_answer
from expertloop.services.redundancy_jobs import fit_model
from expertloop.store import tables as t

N_ITEMS = 60
N_WORKERS = 12
FIXED = 5
REFIT_EVERY = 40
SEEDS = (1, 2, 3)


@dataclass
class Outcome:
    answers: int
    accuracy: float


def _run(
    env: Env, manager: User, workers: list[User], sim: SimulatedAnswers, *, adaptive: bool,
    seed: int,
) -> Outcome:
    k = sim.n_classes
    labels = [f"c{c}" for c in range(k)]
    project = env.project(
        manager, task_type="label", config={"labels": labels}, members=workers,
        answers_per_item=FIXED,
    )
    if adaptive:
        redundancy.set_redundancy(
            env.db, actor=manager, project_id=project, min_answers=2, max_answers=9,
            target_confidence=0.95,
        )
    env.items(manager, project, [
        {"external_id": str(i), "payload": {"text": f"item {i}"}} for i in range(N_ITEMS)
    ])
    rng = np.random.default_rng(seed)
    given = 0
    active = list(range(len(workers)))
    while active:
        still = []
        for w in active:
            lease = next_assignment(env.db, actor=workers[w], project_id=project)
            if lease is None:
                continue
            still.append(w)
            i = int(lease.item.payload["text"].split()[-1])
            truth = int(sim.truth[i])
            if rng.random() < sim.easiness[i]:
                label = int(rng.choice(k, p=sim.confusion[w, truth]))
            else:  # the item misleads this worker
                label = int(rng.integers(k))
            submit_answer(
                env.db, actor=workers[w], assignment_id=lease.id,
                answer={"label": labels[label]},
            )
            given += 1
            if adaptive and given % REFIT_EVERY == 0:
                fit_model(env.db, project)  # what the periodic redundancy.fit job does
        active = still
    with env.db.read() as conn:
        rows = conn.execute(
            select(t.Answer.worker_id, t.Item.external_id, t.Answer.value)
            .join(t.Item, t.Item.id == t.Answer.item_id)
            .where(t.Answer.project_id == project)
        ).all()
    consensus = one_coin_dawid_skene(
        [r[0] for r in rows], [int(r[1]) for r in rows],
        [labels.index(r[2]["label"]) for r in rows], classes=list(range(k)),
    )
    right = consensus.labels == sim.truth[consensus.item_ids.astype(int)]
    assert len(consensus.item_ids) == N_ITEMS
    return Outcome(len(rows), float(np.mean(right)))


def _simulated(seed: int) -> Any:
    sim = simulate_answers("symmetric", seed=seed)
    return SimulatedAnswers(
        sim.workers, sim.items, sim.labels, sim.truth[:N_ITEMS],
        sim.confusion[:N_WORKERS], sim.easiness[:N_ITEMS], sim.scenario,
    )


def test_adaptive_redundancy_saves_answers_at_the_accuracy_of_a_fixed_count(env: Env) -> None:
    manager = env.user(Role.MANAGER)
    workers = [env.user() for _ in range(N_WORKERS)]
    fixed, adaptive = [], []
    for seed in SEEDS:  # three simulated crowds, pooled
        sim = _simulated(seed)
        fixed.append(_run(env, manager, workers, sim, adaptive=False, seed=seed))
        adaptive.append(_run(env, manager, workers, sim, adaptive=True, seed=seed))
        print(f"crowd {seed}: {sim.n_classes} classes; fixed {fixed[-1]}, "
              f"adaptive {adaptive[-1]}")
    assert all(f.answers == N_ITEMS * FIXED for f in fixed)
    used = sum(a.answers for a in adaptive) / sum(f.answers for f in fixed)
    right_fixed = np.mean([f.accuracy for f in fixed])
    right_adaptive = np.mean([a.accuracy for a in adaptive])
    assert used < 0.85, used  # at least 15% of the answers saved
    # Equal accuracy: within two items of the 180.
    assert right_adaptive >= right_fixed - 2 / (N_ITEMS * len(SEEDS)), (right_fixed, adaptive)
