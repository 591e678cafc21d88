"""Properties every aggregator must keep, checked on random small problems."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from expertloop.quality import aggregation as agg

MODELS = ["majority_vote", "dawid_skene", "one_coin_dawid_skene", "glad", "mace"]
SEEDS = st.integers(min_value=0, max_value=2**32 - 1)


def random_answers(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    n_items = int(rng.integers(3, 12))
    n_workers = int(rng.integers(2, 6))
    k = 3
    acc = rng.uniform(0.4, 0.95, n_workers)
    truth = rng.integers(0, k, n_items)
    per_item = [
        rng.choice(n_workers, int(rng.integers(1, n_workers + 1)), replace=False)
        for _ in range(n_items)
    ]
    workers = np.concatenate(per_item)
    items = np.repeat(np.arange(n_items), [len(p) for p in per_item])
    right = rng.random(len(workers)) < acc[workers]
    labels = np.where(right, truth[items], rng.integers(0, k, len(workers)))
    return workers, items, labels


def by_item(result: agg.AggregationResult) -> dict[object, np.ndarray]:
    return dict(zip(result.item_ids.tolist(), result.posteriors, strict=True))


@pytest.mark.parametrize("method", MODELS)
@settings(max_examples=15, deadline=None)
@given(seed=SEEDS)
def test_the_order_of_answers_does_not_change_the_result(method: str, seed: int) -> None:
    workers, items, labels = random_answers(seed)
    order = np.random.default_rng(seed + 1).permutation(len(workers))
    fn = getattr(agg, method)
    a = fn(workers, items, labels)
    b = fn(workers[order], items[order], labels[order])
    assert np.allclose(a.posteriors, b.posteriors, atol=1e-8)
    assert np.allclose(a.worker_skill, b.worker_skill, atol=1e-8)
    assert a.n_iter == b.n_iter


@pytest.mark.parametrize("method", MODELS)
@settings(max_examples=15, deadline=None)
@given(seed=SEEDS)
def test_renaming_workers_and_items_does_not_change_the_result(method: str, seed: int) -> None:
    workers, items, labels = random_answers(seed)
    fn = getattr(agg, method)
    a = fn(workers, items, labels)
    # Names whose sorted order differs from the original codes.
    b = fn([f"w{99 - w}" for w in workers], [f"i{50 - i:02d}" for i in items], labels)
    pa, pb = by_item(a), {int(k[1:]): v for k, v in by_item(b).items()}
    for item, post in pa.items():
        assert np.allclose(post, pb[50 - item], atol=1e-8)


@pytest.mark.parametrize("method", ["dawid_skene", "mace", "glad", "one_coin_dawid_skene"])
@settings(max_examples=15, deadline=None)
@given(seed=SEEDS)
def test_relabelling_the_classes_permutes_the_posteriors(method: str, seed: int) -> None:
    workers, items, labels = random_answers(seed)
    fn = getattr(agg, method)
    a = fn(workers, items, labels, classes=[0, 1, 2])
    names = np.array(["zebra", "apple", "mango"])  # sorted: apple(1), mango(2), zebra(0)
    b = fn(workers, items, names[labels], classes=names.tolist())
    assert b.classes.tolist() == ["apple", "mango", "zebra"]
    assert np.allclose(a.posteriors[:, [1, 2, 0]], b.posteriors, atol=1e-8)
    confident = a.posteriors.max(axis=1) > a.posteriors.min(axis=1) + 1e-6
    sorted_max = np.sort(a.posteriors, axis=1)
    clear = confident & (sorted_max[:, -1] - sorted_max[:, -2] > 1e-6)
    assert np.array_equal(names[a.labels.astype(int)][clear], b.labels[clear])


@pytest.mark.parametrize("method", MODELS)
@settings(max_examples=15, deadline=None)
@given(seed=SEEDS)
def test_posteriors_are_probabilities(method: str, seed: int) -> None:
    workers, items, labels = random_answers(seed)
    result = getattr(agg, method)(workers, items, labels, classes=[0, 1, 2, 3])
    assert np.all(np.isfinite(result.posteriors))
    assert np.all(result.posteriors >= 0)
    assert np.allclose(result.posteriors.sum(axis=1), 1.0)
    picked = result.posteriors[np.arange(len(result.labels)), result.labels.astype(int)]
    assert np.allclose(picked, result.posteriors.max(axis=1), atol=1e-8)
