"""The copied-labels screen catches a worker who copies another's answers, and leaves honest
workers alone, on simulated data whose truth is known."""

from __future__ import annotations

import numpy as np
import pytest

from expertloop.quality import QualityInputError
from expertloop.quality.copying import agreement_tail_bound, copied_labels_screen
from expertloop.quality.simulation import simulate_answers

COPIER = 10**6


def _with_copier(scenario: str, seed: int) -> tuple[list, list, list, int]:
    """A simulated project plus a worker who, after everyone else, copies the answers of
    the busiest worker (on every item that worker answered)."""
    s = simulate_answers(scenario, seed=seed)
    workers, items, labels = s.workers.tolist(), s.items.tolist(), s.labels.tolist()
    source = int(np.bincount(s.workers).argmax())
    rows = [k for k, w in enumerate(workers) if w == source]
    workers += [COPIER] * len(rows)
    items += [items[k] for k in rows]
    labels += [labels[k] for k in rows]
    return workers, items, labels, source


@pytest.mark.parametrize("scenario", ["symmetric", "class_biased_rare", "spammers"])
def test_a_copier_is_flagged_with_the_worker_it_copied(scenario: str) -> None:
    workers, items, labels, source = _with_copier(scenario, seed=1)
    k = int(max(labels)) + 1
    screen = copied_labels_screen(workers, items, labels, list(range(len(workers))),
                                  n_classes=max(k, 2))
    assert [(p.copier, p.source) for p in screen.pairs] == [(COPIER, source)]
    pair = screen.pairs[0]
    assert pair.agreements == pair.shared
    assert pair.expected < pair.agreements
    assert pair.p_value <= screen.alpha_each


@pytest.mark.parametrize(
    "scenario", ["symmetric", "class_biased_rare", "weak_crowd_few_experts", "item_difficulty"]
)
@pytest.mark.parametrize("seed", [0, 1])
def test_honest_workers_are_not_flagged(scenario: str, seed: int) -> None:
    s = simulate_answers(scenario, seed=seed)
    screen = copied_labels_screen(
        s.workers.tolist(), s.items.tolist(), s.labels.tolist(), list(range(len(s.workers))),
        n_classes=s.confusion.shape[1],
    )
    assert screen.n_tested > 0
    assert screen.pairs == []


def test_two_experts_who_agree_because_both_are_right_are_not_copiers() -> None:
    """Two near-perfect experts among a weak crowd agree far more than the crowd does."""
    rng = np.random.default_rng(3)
    truth = rng.integers(0, 2, 300)
    workers, items, labels = [], [], []
    for i in range(300):
        for w, accuracy in [("e1", 0.97), ("e2", 0.97), *[(f"c{j}", 0.65) for j in range(6)]]:
            workers.append(w)
            items.append(i)
            labels.append(int(truth[i]) if rng.random() < accuracy else int(1 - truth[i]))
    screen = copied_labels_screen(workers, items, labels, list(range(len(workers))),
                                  n_classes=2)
    assert screen.pairs == []


def test_the_later_worker_is_the_copier() -> None:
    workers, items, labels, source = _with_copier("symmetric", seed=2)
    # Give the copier's answers the earliest times: now the source looks like the copier.
    n_copied = workers.count(COPIER)
    order = list(range(n_copied, len(workers))) + list(range(n_copied))
    order = [o if w != COPIER else -o - 1 for o, w in zip(order, workers, strict=True)]
    screen = copied_labels_screen(workers, items, labels, order, n_classes=int(max(labels)) + 1)
    assert [(p.copier, p.source) for p in screen.pairs] == [(source, COPIER)]


def test_pairs_with_too_few_shared_items_are_not_tested() -> None:
    workers = ["a"] * 10 + ["b"] * 10
    items = list(range(10)) * 2
    labels = [0, 1] * 10
    screen = copied_labels_screen(workers, items, labels, list(range(20)), n_classes=2,
                                  min_shared=11)
    assert (screen.n_tested, screen.pairs) == (0, [])


def test_bad_input_is_refused() -> None:
    with pytest.raises(QualityInputError, match="same length"):
        copied_labels_screen(["a"], [1, 2], [0], [0], n_classes=2)
    with pytest.raises(QualityInputError, match="class codes"):
        copied_labels_screen(["a"], [1], [5], [0], n_classes=2)


def test_the_tail_bound_is_exact_when_every_trial_agrees_and_bounds_the_binomial() -> None:
    from scipy.stats import binom

    assert agreement_tail_bound([0.5] * 10, 10) == pytest.approx(0.5**10)
    assert agreement_tail_bound([0.3] * 50, 10) == 1.0  # at or below the mean
    for k in (25, 30, 40):
        exact = float(binom.sf(k - 1, 50, 0.3))
        assert exact <= agreement_tail_bound([0.3] * 50, k) < 1


def test_the_module_examples_run() -> None:
    import doctest

    from expertloop.quality import copying

    assert doctest.testmod(copying).failed == 0
