"""Simulated crowds with known truth, and what ``auto`` recovers from them."""

from __future__ import annotations

import numpy as np
import pytest

from expertloop.quality import _select
from expertloop.quality import aggregation as agg
from expertloop.quality._agg_common import prepare
from expertloop.quality.simulation import SCENARIOS, simulate_answers


def test_a_simulation_is_reproducible_from_its_seed() -> None:
    a = simulate_answers("spammers", seed=4)
    b = simulate_answers("spammers", seed=4)
    c = simulate_answers("spammers", seed=5)
    assert np.array_equal(a.labels, b.labels)
    assert np.array_equal(a.workers, b.workers)
    assert not (len(a.labels) == len(c.labels) and np.array_equal(a.labels, c.labels))


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_every_item_gets_its_answers_from_distinct_workers(scenario: str) -> None:
    sim = simulate_answers(scenario, seed=1)
    per_item = np.bincount(sim.items, minlength=sim.n_items)
    assert per_item.min() == per_item.max() >= 2
    pairs = sim.items.astype(np.int64) * (sim.workers.max() + 1) + sim.workers
    assert len(np.unique(pairs)) == len(pairs)
    assert sim.labels.min() >= 0
    assert sim.labels.max() < sim.n_classes
    assert np.allclose(sim.confusion.sum(axis=2), 1.0)


def test_unknown_scenarios_are_refused_with_the_known_ones_named() -> None:
    with pytest.raises(ValueError, match="strict_and_lenient"):
        simulate_answers("nope")


def test_the_rare_class_is_rare_and_often_missed() -> None:
    sim = simulate_answers("class_biased_rare", seed=2)
    share = np.bincount(sim.truth, minlength=sim.n_classes) / sim.n_items
    rare = int(np.argmin(share))
    assert share[rare] < 0.25
    recall = np.einsum("wkk->wk", sim.confusion)
    assert recall[:, rare].mean() < recall.mean(axis=1).mean()


def test_strict_and_lenient_workers_err_in_opposite_directions() -> None:
    sim = simulate_answers("strict_and_lenient", seed=3)
    assert sim.n_classes == 2
    false_yes = sim.confusion[:, 0, 1]
    missed_yes = sim.confusion[:, 1, 0]
    strict = missed_yes > 0.3
    lenient = false_yes > 0.25
    assert strict.any()
    assert lenient.any()
    assert np.all(false_yes[strict] < 0.06)
    assert np.all(missed_yes[lenient] < 0.11)


def test_misleading_items_are_simulated_only_where_asked_for() -> None:
    assert simulate_answers("symmetric", seed=0).easiness.min() >= 0.9
    hard = simulate_answers("item_difficulty", seed=0).easiness
    assert (hard < 0.5).mean() > 0.1


def test_models_that_represent_class_bias_beat_those_that_cannot_on_strict_and_lenient() -> None:
    # The regime where a symmetric worker model (one coin, GLAD) is misspecified.
    sim = simulate_answers("strict_and_lenient", seed=7)
    args = (sim.workers, sim.items, sim.labels)
    ds = agg.dawid_skene(*args)
    one_coin = agg.one_coin_dawid_skene(*args)
    assert sim.accuracy(ds.item_ids, ds.labels) > sim.accuracy(one_coin.item_ids, one_coin.labels)


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_auto_is_never_below_majority_vote_by_more_than_noise(scenario: str) -> None:
    sim = simulate_answers(scenario, seed=100)
    args = (sim.workers, sim.items, sim.labels)
    auto = agg.aggregate(*args)
    mv = agg.majority_vote(*args)
    auto_acc = sim.accuracy(auto.item_ids, auto.labels)
    mv_acc = sim.accuracy(mv.item_ids, mv.labels)
    # 1.5 points: about two binomial standard errors of an accuracy near 0.9 on ~600 items.
    assert auto_acc >= mv_acc - 0.015, (scenario, auto.method, auto_acc, mv_acc)


def test_auto_recovers_the_truth_from_a_crowd_of_weak_workers_with_a_few_experts() -> None:
    sim = simulate_answers("weak_crowd_few_experts", seed=100)
    args = (sim.workers, sim.items, sim.labels)
    auto = agg.aggregate(*args)
    mv = agg.majority_vote(*args)
    assert sim.accuracy(auto.item_ids, auto.labels) > sim.accuracy(mv.item_ids, mv.labels) + 0.1


def test_every_aggregator_accepts_a_seed_like_aggregate() -> None:
    sim = simulate_answers("symmetric", seed=6)
    args = (sim.workers, sim.items, sim.labels)
    for method in ("majority_vote", "dawid_skene", "one_coin_dawid_skene", "glad", "mace"):
        direct = getattr(agg, method)(*args, seed=3)
        via_aggregate = agg.aggregate(*args, method=method, seed=np.random.default_rng(3))
        assert np.array_equal(direct.labels, via_aggregate.labels), method


def test_auto_picks_a_model_that_represents_class_bias_where_judges_are_strict_or_lenient() -> None:
    # One-coin models and GLAD cannot represent a worker who says "no" too readily; the
    # held-out log-likelihood must see that (the previous rule, by agreement, did not).
    sim = simulate_answers("strict_and_lenient", seed=7)
    obs = prepare(sim.workers, sim.items, sim.labels)
    selection = _select.choose_models(obs, n_repeats=1)
    class_bias = {"dawid_skene", "hierarchical_dawid_skene", "mace", "mace_fitted_prior"}
    # The community model's rows are per worker, shrunk toward its community's: class bias.
    assert selection.chosen[0] in class_bias | {"community_dawid_skene"}
    ll = selection.log_likelihood
    assert min(ll[m] for m in class_bias - {"dawid_skene"}) > max(
        ll["one_coin_dawid_skene"], ll["glad"], ll["majority_vote"]
    )


def test_lookalike_items_are_negatives_that_mislead_workers_toward_yes() -> None:
    sim = simulate_answers("lookalike_negatives", seed=2)
    hard = sim.easiness < 0.6
    assert hard.any()
    assert np.all(sim.truth[hard] == 0)
    assert np.all(sim.easiness[sim.truth == 1] == 1.0)
    on_hard = hard[sim.items]
    yes_on_hard = sim.labels[on_hard & (sim.truth[sim.items] == 0)].mean()
    yes_on_easy = sim.labels[~on_hard & (sim.truth[sim.items] == 0)].mean()
    assert yes_on_hard > yes_on_easy + 0.3


@pytest.mark.parametrize(
    "scenario", ["symmetric", "class_biased_rare", "strict_and_lenient", "spammers"]
)
def test_auto_recovers_the_accuracy_of_the_generating_model(scenario: str) -> None:
    # Where workers answer independently (items easy), the best any estimator can do is the
    # posterior under the true confusion matrices and class shares: auto must come close.
    sim = simulate_answers(scenario, seed=7)
    k = sim.n_classes
    prior = np.bincount(sim.truth, minlength=k) / sim.n_items
    log_post = np.tile(np.log(prior), (sim.n_items, 1))
    np.add.at(log_post, sim.items, np.log(sim.confusion[sim.workers, :, sim.labels]))
    oracle = float(np.mean(log_post.argmax(axis=1) == sim.truth))
    auto = agg.aggregate(sim.workers, sim.items, sim.labels)
    # 1.5 points: about two standard errors of the paired difference on ~900 items.
    assert sim.accuracy(auto.item_ids, auto.labels) >= oracle - 0.015, (scenario, auto.method)
