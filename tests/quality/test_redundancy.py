"""Adaptive redundancy's rule, model and offline replay (quality/redundancy.py)."""

from __future__ import annotations

import numpy as np
import pytest

from expertloop.quality import QualityInputError, aggregate, simulate_answers
from expertloop.quality.redundancy import (
    DEFAULT_POLICY,
    RedundancyPolicy,
    WorkerModel,
    fit_worker_model,
    item_posterior,
    next_target,
    replay,
)


def test_an_item_below_min_answers_always_asks_for_the_minimum_however_confident() -> None:
    policy = RedundancyPolicy(min_answers=3, max_answers=6, target_confidence=0.9)
    assert next_target(0, 0.0, policy) == 3
    assert next_target(2, 0.9999, policy) == 3


def test_an_item_stops_once_confident_and_extends_by_one_while_uncertain_up_to_max() -> None:
    policy = RedundancyPolicy(min_answers=2, max_answers=4, target_confidence=0.9)
    assert next_target(2, 0.9, policy) == 2  # reached: stop
    assert next_target(2, 0.89, policy) == 3  # one more
    assert next_target(3, 0.5, policy) == 4
    assert next_target(4, 0.5, policy) == 4  # max_answers: stop however uncertain


@pytest.mark.parametrize(
    ("low", "high", "target"), [(0, 3, 0.9), (4, 3, 0.9), (1, 3, 0.4), (1, 3, 1.0)]
)
def test_a_policy_refuses_settings_that_make_no_policy(low: int, high: int, target: float) -> None:
    with pytest.raises(QualityInputError):
        RedundancyPolicy(low, high, target)


def test_the_item_posterior_is_bayes_rule_under_the_workers_confusion_matrices() -> None:
    rng = np.random.default_rng(3)
    k = 3
    matrices = {w: rng.dirichlet(np.ones(k) * 2, size=k) for w in "abc"}
    prior = rng.dirichlet(np.ones(k))
    model = WorkerModel(
        k,
        tuple(prior.tolist()),
        tuple(tuple(r) for r in np.full((k, k), 1 / k).tolist()),
        {w: tuple(tuple(r) for r in m.tolist()) for w, m in matrices.items()},
    )
    workers, labels = ["a", "b", "c", "zz"], [0, 2, 2, 1]
    expected = prior.copy()
    for w, lab in zip(workers, labels, strict=True):
        column = matrices[w][:, lab] if w in matrices else np.full(k, 1 / k)
        expected = expected * column
    expected /= expected.sum()
    assert item_posterior(model, workers, labels) == pytest.approx(expected.tolist())


def test_an_unseen_worker_counts_as_the_crowd_and_two_agreeing_experts_settle_more() -> None:
    model = WorkerModel.uninformed(2, prior_accuracy=0.7)
    one = max(item_posterior(model, ["a"], [1]))
    two = max(item_posterior(model, ["a", "b"], [1, 1]))
    split = max(item_posterior(model, ["a", "b"], [1, 0]))
    assert one == pytest.approx(0.7)
    assert two > one > split == pytest.approx(0.5)


def test_the_fitted_model_recovers_each_workers_confusion_from_the_fitted_posteriors() -> None:
    rng = np.random.default_rng(0)
    k, n_items = 2, 3000
    truth = rng.integers(0, k, n_items)
    true_conf = {1: np.array([[0.9, 0.1], [0.3, 0.7]]), 2: np.array([[0.6, 0.4], [0.05, 0.95]])}
    workers, units, labels = [], [], []
    for i, z in enumerate(truth):
        for w, m in true_conf.items():
            workers.append(w)
            units.append(i)
            labels.append(int(rng.choice(k, p=m[z])))
    posteriors = np.eye(k)[truth]  # a fit that found the truth
    model = fit_worker_model(workers, units, labels, posteriors, unit_ids=np.arange(n_items))
    for w, m in true_conf.items():
        assert np.allclose(model.confusion[w], m, atol=0.04)
    assert model.class_prior == pytest.approx([0.5, 0.5], abs=0.03)


def test_replay_keeps_every_item_between_min_and_max_and_stops_where_the_rule_says() -> None:
    sim = simulate_answers("symmetric", seed=7)
    model = WorkerModel.uninformed(sim.n_classes, prior_accuracy=0.8)
    policy = RedundancyPolicy(min_answers=2, max_answers=6, target_confidence=0.95)
    r = replay(
        sim.workers, sim.items, sim.labels, min_answers=2, max_answers=6,
        target_confidence=0.95, model=model, shuffle=False,
        classes=list(range(sim.n_classes)),
    )
    used = r.answers_used_per_item
    assert np.all(used >= np.minimum(2, r.answers_available_per_item))
    assert np.all(used <= 6)
    assert used.sum() == r.used.sum() == r.answers_used
    # Recompute the rule answer by answer: each item stopped at the first point it allowed.
    order = np.argsort(sim.items, kind="stable")
    for item in range(0, sim.n_items, 37):
        mine = order[sim.items[order] == item]
        stop = None
        for n in range(1, len(mine) + 1):
            conf = max(item_posterior(model, sim.workers[mine[:n]].tolist(),
                                      sim.labels[mine[:n]].tolist()))
            if next_target(n, conf, policy) <= n:
                stop = n
                break
        assert used[item] == (stop if stop is not None else len(mine))
        assert r.used[mine[: used[item]]].all()
        assert not r.used[mine[used[item] :]].any()


def test_replay_draws_each_items_answer_order_from_the_seed() -> None:
    sim = simulate_answers("symmetric", seed=1)
    a = replay(sim.workers, sim.items, sim.labels, seed=1)
    b = replay(sim.workers, sim.items, sim.labels, seed=1)
    c = replay(sim.workers, sim.items, sim.labels, seed=2)
    assert np.array_equal(a.used, b.used)
    assert not np.array_equal(a.used, c.used)


@pytest.mark.parametrize(("scenario", "seed"), [("symmetric", 7), ("class_biased_rare", 1)])
def test_replay_saves_answers_at_equal_accuracy_on_simulated_crowds(
    scenario: str, seed: int
) -> None:
    sim = simulate_answers(scenario, seed=seed)
    full = aggregate(sim.workers, sim.items, sim.labels)
    r = replay(sim.workers, sim.items, sim.labels, seed=0)
    assert r.saving >= 0.2
    assert sim.accuracy(r.item_ids, r.labels) >= sim.accuracy(full.item_ids, full.labels) - 0.005


def test_the_recommended_policy_is_the_default_of_replay() -> None:
    r = replay(["a", "b", "c", "d"], [1, 1, 1, 1], ["x", "x", "x", "x"], shuffle=False)
    assert r.policy == DEFAULT_POLICY
    assert r.labels.tolist() == ["x"]
    # Before any fit a worker counts as right 70% of the time: four agreeing answers give
    # 0.994, below the default target of 0.999, so all four are used.
    assert r.answers_used == r.answers_available == 4
