"""For the quality tests: simulated crowds (answers drawn from known confusion matrices) and
a stand-in candidate model for ``auto``'s choice."""

from __future__ import annotations

import numpy as np

from expertloop.quality import _select
from expertloop.quality._agg_common import Observations


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


def fake_fitter(posteriors_of: str, confidence: float = 0.9) -> _select.Fitter:
    """A candidate fitter that predicts answers from the majority vote's posteriors, with
    workers giving the estimated label with probability ``confidence``; its own posteriors
    (its labels) are the majority's or their mirror image ("wrong")."""

    def fit(obs: Observations) -> _select.CandidateFit:
        shares = obs.item_class_counts + 1e-3
        post = shares / shares.sum(axis=1, keepdims=True)
        k = obs.n_classes
        conf = np.full((k, k), (1 - confidence) / (k - 1))
        np.fill_diagonal(conf, confidence)
        predict = _select._by_confusion(post, np.broadcast_to(conf, (obs.n_workers, k, k)))
        if posteriors_of == "wrong":
            return _select.CandidateFit(post[:, ::-1].copy(), predict.answer_probability)
        return predict

    return fit
