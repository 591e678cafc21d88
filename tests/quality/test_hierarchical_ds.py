"""Hierarchical Dawid-Skene: each worker's confusion shrunk toward its own MACE summary, with
a strength learned from the data (``dawid_skene(prior_strength="evidence")``)."""

from __future__ import annotations

import numpy as np
import pytest

from crowd_sim import simulate
from expertloop.quality import aggregation as agg
from expertloop.quality._agg_common import prepare
from expertloop.quality._common import QualityInputError
from expertloop.quality._ds import trust_confusion
from expertloop.quality._hds import STRENGTH_GRID, evidence_strength, fit_hierarchical_ds


def mace_like(n_workers: int, k: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return trust_confusion(rng.uniform(0.4, 0.9, n_workers), rng.dirichlet(np.ones(k), n_workers))


def test_the_evidence_picks_a_strong_prior_when_counts_follow_the_centre() -> None:
    rng = np.random.default_rng(0)
    centre = mace_like(30, 3, seed=1)
    # 200 answers per row drawn from the centre itself, versus rows far from it.
    near = np.stack([[rng.multinomial(200, row) for row in m] for m in centre]).astype(float)
    far = np.stack([[rng.multinomial(200, rng.dirichlet(np.ones(3) * 0.3)) for _ in m]
                    for m in centre]).astype(float)
    strong = evidence_strength(near, centre, STRENGTH_GRID)
    weak = evidence_strength(far, centre, STRENGTH_GRID)
    assert np.all(strong >= 256)
    assert np.all(weak <= 8)


def test_hierarchical_dawid_skene_recovers_class_biased_workers() -> None:
    # Workers whose errors on class 2 all go to class 1, and on class 1 to class 0: a full
    # confusion their MACE summary cannot describe, so the learned prior is weak.
    biased = np.array([[0.85, 0.1, 0.05], [0.45, 0.5, 0.05], [0.02, 0.48, 0.5]])
    honest = np.eye(3) * 0.6 + 0.4 / 3
    conf = np.stack([biased] * 8 + [honest] * 4)
    workers, items, labels, truth = simulate(conf, n_items=900, per_item=5, seed=3)
    obs = prepare(workers, items, labels)
    fit = fit_hierarchical_ds(obs, max_iter=1000, tol=1e-6)
    hds = (fit.posteriors.argmax(axis=1) == truth).mean()
    mv = (agg.majority_vote(workers, items, labels).labels == truth).mean()
    mace = (agg.mace(workers, items, labels, fit_prior=True).labels == truth).mean()
    assert hds > mv + 0.05
    assert hds >= mace - 0.01
    assert fit.strength.min() < 64


def test_hierarchical_dawid_skene_behaves_like_mace_on_mace_workers() -> None:
    conf = mace_like(15, 3, seed=4)
    workers, items, labels, _ = simulate(conf, n_items=600, per_item=4, seed=5)
    result = agg.dawid_skene(workers, items, labels, prior_strength="evidence")
    mace = agg.mace(workers, items, labels, fit_prior=True)
    assert result.method == "hierarchical_dawid_skene"
    assert (result.labels == mace.labels).mean() > 0.98
    assert result.worker_confusion is not None
    assert np.allclose(result.worker_confusion.sum(axis=2), 1.0)


def test_dawid_skene_names_the_learned_prior_evidence_and_nothing_else() -> None:
    with pytest.raises(QualityInputError, match="'evidence'"):
        agg.dawid_skene(["a"], [1], ["x"], prior_strength="learned")
    result = agg.dawid_skene(["a", "b", "a", "b"], [1, 1, 2, 2], ["x", "x", "y", "y"],
                             prior_strength="evidence", gold={1: "x"}, seed=9)
    assert result.labels.tolist() == ["x", "y"]
    assert result.posteriors[0].tolist() == [1.0, 0.0]
