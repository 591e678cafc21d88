"""The lookalike Dawid-Skene model: items that pull many workers to the same wrong class."""

from __future__ import annotations

import numpy as np
import pytest

from expertloop.quality import _select
from expertloop.quality import aggregation as agg
from expertloop.quality._agg_common import prepare
from expertloop.quality._lookalike import answer_probability, fit_lookalike_ds
from expertloop.quality._sim_correlated import simulate_correlated


def test_lookalike_items_recover_the_truth_where_dawid_skene_takes_shared_mistakes_for_skill() -> (
    None
):
    # Hard items with a distractor class that pulls every worker the same way (the model's own
    # generative story): without the lookalike states, Dawid-Skene reads the shared mistakes
    # as the workers' confusions and mislabels more items.
    gains = []
    for seed in range(5):
        crowd = simulate_correlated(seed=seed, n_classes=3)
        look = agg.dawid_skene(
            crowd.workers, crowd.items, crowd.labels, prior_strength="evidence", lookalike=True
        )
        assert look.method == "lookalike_dawid_skene"
        plain = agg.dawid_skene(crowd.workers, crowd.items, crowd.labels, prior_strength="evidence")
        gains.append(
            crowd.accuracy(look.item_ids, look.labels)
            - crowd.accuracy(plain.item_ids, plain.labels)
        )
    assert sum(g > 0 for g in gains) >= 4
    assert np.mean(gains) > 0.005


def test_the_answer_probabilities_of_each_item_and_worker_sum_to_one() -> None:
    crowd = simulate_correlated(seed=2, n_items=150, n_classes=3)
    obs = prepare(crowd.workers, crowd.items, crowd.labels)
    fit = fit_lookalike_ds(obs, max_iter=1000, tol=1e-6)
    i = np.repeat(np.arange(20), 3)
    w = np.tile(np.array([0, 5, 9]), 20)
    total = sum(answer_probability(fit, i, w, np.full(len(i), lab)) for lab in range(3))
    assert np.allclose(total, 1.0)
    assert np.allclose(fit.states.sum(axis=(1, 2)), 1.0)
    assert np.allclose(fit.posteriors, fit.states.sum(axis=2))
    assert np.allclose(fit.confusion.sum(axis=2), 1.0)
    assert 0.05 <= fit.pull <= 0.5


def test_without_lookalikes_the_model_labels_as_dawid_skene_does() -> None:
    crowd = simulate_correlated(seed=3, n_classes=2, hard_share=0.0)
    look = agg.dawid_skene(crowd.workers, crowd.items, crowd.labels, lookalike=True)
    plain = agg.dawid_skene(crowd.workers, crowd.items, crowd.labels)
    assert np.mean(look.labels == plain.labels) >= 0.99


def test_gold_items_keep_their_class_in_every_state() -> None:
    crowd = simulate_correlated(seed=4, n_items=100, n_classes=3)
    gold = {0: int(crowd.truth[0]), 1: int((crowd.truth[1] + 1) % 3)}
    fit = agg.dawid_skene(crowd.workers, crowd.items, crowd.labels, lookalike=True, gold=gold)
    assert fit.as_dict()[0] == gold[0]
    assert fit.as_dict()[1] == gold[1]
    assert np.allclose(fit.posteriors[:2].max(axis=1), 1.0)


def test_lookalike_does_not_take_communities() -> None:
    with pytest.raises(ValueError, match="lookalike"):
        agg.dawid_skene(
            ["a", "b"], [1, 1], ["x", "y"], prior_strength="evidence", communities=2, lookalike=True
        )


def test_the_switch_takes_the_lookalike_candidate_out_of_auto(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_select, "LOOKALIKE_CANDIDATE", False)
    assert _select.LOOKALIKE not in _select.active_fitters()
    monkeypatch.setattr(_select, "LOOKALIKE_CANDIDATE", True)
    assert _select.LOOKALIKE in _select.active_fitters()
