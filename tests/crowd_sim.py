"""Simulated crowds for the quality tests: answers drawn from known confusion matrices."""

from __future__ import annotations

import numpy as np


def simulate(
    confusions: np.ndarray, n_items: int, per_item: int, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Answers drawn from workers with the given confusion matrices (workers x K x K)."""
    rng = np.random.default_rng(seed)
    n_workers, k, _ = confusions.shape
    truth = rng.integers(0, k, n_items)
    workers = np.concatenate([rng.choice(n_workers, per_item, replace=False) for _ in truth])
    items = np.repeat(np.arange(n_items), per_item)
    cdf = confusions[workers, truth[items]].cumsum(axis=1)
    labels = (rng.random(len(items))[:, None] > cdf).sum(axis=1).clip(0, k - 1)
    return workers, items, labels, truth
