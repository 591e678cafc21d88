"""The recommended stopping rule of adaptive redundancy on simulated crowds with known truth
(quality/redundancy.py, "How the defaults were chosen"): a hierarchical Dawid-Skene refit
behind the stopping model, and room past 20 answers for the items a weak crowd leaves
uncertain. Each test fails when that part of the default is removed."""

from __future__ import annotations

from typing import Any

import numpy as np

from expertloop.quality import aggregate, simulate_answers
from expertloop.quality.redundancy import (
    DEFAULT_POLICY,
    DEFAULT_REFIT,
    REFITS,
    fit_stopping_model,
    fit_worker_model,
    replay,
)


def _gap(sim: Any, **options: Any) -> tuple[float, float, float]:
    """(saving, points of the final label and of the stopping rule's own label against
    ``auto`` on every answer) of a replay."""
    full = aggregate(sim.workers, sim.items, sim.labels)
    base = sim.accuracy(full.item_ids, full.labels)
    r = replay(sim.workers, sim.items, sim.labels, **options)
    assert r.stop_labels is not None
    return (
        r.saving,
        100 * (sim.accuracy(r.item_ids, r.labels) - base),
        100 * (sim.accuracy(r.item_ids, r.stop_labels.astype(int)) - base),
    )


def test_where_workers_lean_one_way_the_default_stops_on_the_truth() -> None:
    # Strict and lenient workers (a yes/no judgement, errors in opposite directions): the
    # one-coin stopping model takes their habits for agreement and stops early on them.
    sim = simulate_answers("strict_and_lenient", seed=1, answers_per_item=20)
    saving, final, stop = _gap(sim)
    one_coin = _gap(sim, refit="one_coin_dawid_skene")
    assert DEFAULT_REFIT == "hierarchical_dawid_skene"
    assert saving >= 0.4
    assert final >= -1.0, final
    assert stop >= -1.0, stop
    assert one_coin[1] <= -3.0, one_coin
    assert one_coin[2] <= -3.0, one_coin


def test_a_weak_crowd_keeps_asking_past_twenty_answers_where_items_stay_uncertain() -> None:
    # Most workers a little better than chance: an item can need more than 20 answers, and
    # the old cap of 20 stopped them on a wrong consensus.
    sim = simulate_answers("weak_crowd_few_experts", seed=2, answers_per_item=40)
    assert DEFAULT_POLICY.max_answers >= 40
    saving, final, _ = _gap(sim)
    capped = _gap(sim, max_answers=20)
    assert saving >= 0.25
    assert final >= -1.0, final
    assert capped[1] <= final - 3.0, (capped, final)


def test_the_stopping_model_is_the_refit_then_the_worker_model_of_its_posteriors() -> None:
    sim = simulate_answers("strict_and_lenient", seed=2)
    k = sim.n_classes
    model = fit_stopping_model(sim.workers, sim.items, sim.labels, classes=k)
    fit = REFITS[DEFAULT_REFIT](sim.workers, sim.items, sim.labels, classes=list(range(k)))
    same = fit_worker_model(
        sim.workers, sim.items, sim.labels, fit.posteriors, unit_ids=fit.item_ids
    )
    assert model.class_prior == same.class_prior
    assert model.confusion == same.confusion
    one_coin = fit_stopping_model(
        sim.workers, sim.items, sim.labels, classes=k, refit="one_coin_dawid_skene"
    )
    assert not np.allclose(
        np.asarray(list(one_coin.confusion.values())), np.asarray(list(model.confusion.values()))
    )
