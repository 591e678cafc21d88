"""Truth inference: golden cases, recovery of simulated workers, edge cases."""

from __future__ import annotations

import doctest
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from expertloop.quality import _select
from expertloop.quality import aggregation as agg
from expertloop.quality._common import ConvergenceError, QualityInputError

GOLDEN = Path(__file__).parent / "golden"
MODELS = ["majority_vote", "dawid_skene", "one_coin_dawid_skene", "glad", "mace"]
ITERATIVE = ["dawid_skene", "one_coin_dawid_skene", "glad", "mace"]


def simulate(
    confusions: np.ndarray, n_items: int, per_item: int, seed: int, prior: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Answers drawn from workers with the given confusion matrices (workers x K x K)."""
    rng = np.random.default_rng(seed)
    n_workers, k, _ = confusions.shape
    truth = rng.choice(k, size=n_items, p=prior)
    workers = np.concatenate([rng.choice(n_workers, per_item, replace=False) for _ in truth])
    items = np.repeat(np.arange(n_items), per_item)
    cdf = confusions[workers, truth[items]].cumsum(axis=1)
    labels = (rng.random(len(items))[:, None] > cdf).sum(axis=1).clip(0, k - 1)
    return workers, items, labels, truth


def accuracy(result: agg.AggregationResult, truth: np.ndarray) -> float:
    return float((result.labels == truth[result.item_ids]).mean())


def load_golden(name: str) -> dict[str, Any]:
    return json.loads((GOLDEN / name).read_text())


def test_public_surface_lists_every_aggregator() -> None:
    assert set(agg.__all__) == {
        "AggregationResult",
        "aggregate",
        "dawid_skene",
        "glad",
        "mace",
        "majority_vote",
        "one_coin_dawid_skene",
        "weighted_majority_vote",
    }
    for name in agg.__all__:
        assert getattr(agg, name).__doc__


def test_docstring_examples_run() -> None:
    assert doctest.testmod(agg).failed == 0


@pytest.mark.parametrize(
    ("case", "method"),
    [
        ("aggregation_spammers.json", "majority_vote"),
        ("aggregation_spammers.json", "dawid_skene"),
        ("aggregation_spammers.json", "mace"),
        ("aggregation_ties_and_gold.json", "majority_vote"),
    ],
)
def test_golden_cases_give_the_known_answers(case: str, method: str) -> None:
    data = load_golden(case)
    result = getattr(agg, method)(
        data["workers"], data["items"], data["labels"], gold=data.get("gold")
    )
    got = {str(k): v for k, v in result.as_dict().items()}
    assert got == data["expected"][method]


def test_dawid_skene_sees_through_spammers_that_fool_majority_vote() -> None:
    data = load_golden("aggregation_spammers.json")
    result = agg.dawid_skene(data["workers"], data["items"], data["labels"])
    skill = dict(zip(result.worker_ids.tolist(), result.worker_skill.tolist(), strict=True))
    assert min(skill["w1"], skill["w2"], skill["w3"]) > max(
        skill["spam1"], skill["spam2"], skill["spam3"]
    )


def test_dawid_skene_recovers_known_confusion_matrices() -> None:
    true_conf = np.array(
        [
            [[0.9, 0.05, 0.05], [0.1, 0.8, 0.1], [0.05, 0.05, 0.9]],
            [[0.7, 0.3, 0.0], [0.0, 0.7, 0.3], [0.3, 0.0, 0.7]],
            [[0.6, 0.2, 0.2], [0.2, 0.6, 0.2], [0.2, 0.2, 0.6]],
            [[0.95, 0.05, 0.0], [0.3, 0.7, 0.0], [0.0, 0.1, 0.9]],
        ]
        * 2
    )
    workers, items, labels, truth = simulate(true_conf, n_items=1500, per_item=5, seed=1)
    result = agg.dawid_skene(workers, items, labels)
    assert result.worker_confusion is not None
    assert np.abs(result.worker_confusion - true_conf).max() < 0.08
    assert accuracy(result, truth) > accuracy(agg.majority_vote(workers, items, labels), truth)
    assert accuracy(result, truth) > 0.95


def test_one_coin_dawid_skene_recovers_worker_accuracies() -> None:
    acc = np.array([0.95, 0.85, 0.75, 0.65, 0.55, 0.9])
    k = 4
    conf = np.empty((len(acc), k, k))
    conf[:] = ((1 - acc) / (k - 1))[:, None, None]
    conf[:, np.arange(k), np.arange(k)] = acc[:, None]
    workers, items, labels, truth = simulate(conf, n_items=1500, per_item=4, seed=2)
    result = agg.one_coin_dawid_skene(workers, items, labels)
    assert np.abs(result.worker_skill - acc).max() < 0.05
    assert accuracy(result, truth) > 0.9


def test_glad_gives_experts_a_higher_skill_than_novices() -> None:
    acc = np.array([0.95, 0.9, 0.65, 0.6, 0.55])
    conf = np.empty((len(acc), 2, 2))
    conf[:, 0] = np.stack([acc, 1 - acc], axis=1)
    conf[:, 1] = np.stack([1 - acc, acc], axis=1)
    workers, items, labels, truth = simulate(conf, n_items=600, per_item=3, seed=3)
    result = agg.glad(workers, items, labels)
    assert result.worker_skill[:2].min() > result.worker_skill[2:].max()
    assert accuracy(result, truth) >= accuracy(agg.majority_vote(workers, items, labels), truth)


def test_mace_gives_spammers_a_low_trust() -> None:
    k = 3
    honest = np.eye(k) * 0.9 + 0.1 / k
    spammer = np.tile([0.8, 0.1, 0.1], (k, 1))
    conf = np.stack([honest, honest, honest, spammer, spammer])
    workers, items, labels, truth = simulate(conf, n_items=800, per_item=4, seed=4)
    result = agg.mace(workers, items, labels)
    assert result.worker_skill[:3].min() > 0.7
    assert result.worker_skill[3:].max() < 0.2
    assert accuracy(result, truth) > 0.9


@pytest.mark.parametrize("method", MODELS)
def test_sparse_awkward_data_gives_probabilities_without_nans(method: str) -> None:
    # A worker with one answer, an item with one answer, a class nobody used.
    workers = ["a", "a", "b", "b", "c", "a", "b", "d"]
    items = [1, 2, 1, 2, 2, 3, 3, 4]
    labels = ["x", "y", "x", "y", "y", "x", "x", "y"]
    result = getattr(agg, method)(workers, items, labels, classes=["x", "y", "z"])
    assert result.classes.tolist() == ["x", "y", "z"]
    assert result.posteriors.shape == (4, 3)
    assert np.all(np.isfinite(result.posteriors))
    assert np.allclose(result.posteriors.sum(axis=1), 1.0)
    assert np.all(np.isfinite(result.worker_skill))
    assert result.labels.tolist()[:3] == ["x", "y", "x"]
    if result.worker_confusion is not None:
        assert result.worker_confusion.shape == (4, 3, 3)
        assert np.allclose(result.worker_confusion.sum(axis=2), 1.0)


@pytest.mark.parametrize("method", MODELS)
def test_one_worker_one_item_gives_its_answer(method: str) -> None:
    result = getattr(agg, method)(["w"], ["i"], ["yes"])
    assert result.labels.tolist() == ["yes"]
    assert result.posteriors.tolist() == [[1.0]]


@pytest.mark.parametrize("method", MODELS)
def test_unanimous_workers_are_followed(method: str) -> None:
    workers = ["a", "b", "c"] * 4
    items = np.repeat([10, 20, 30, 40], 3)
    labels = np.repeat(["p", "q", "p", "r"], 3)
    result = getattr(agg, method)(workers, items, labels)
    assert result.labels.tolist() == ["p", "q", "p", "r"]
    assert result.item_ids.tolist() == [10, 20, 30, 40]


@pytest.mark.parametrize("method", MODELS)
def test_gold_items_are_clamped_to_their_known_label(method: str) -> None:
    workers = ["a", "b", "c", "a", "b", "c"]
    items = ["i1", "i1", "i1", "i2", "i2", "i2"]
    labels = [0, 0, 0, 1, 1, 0]
    result = getattr(agg, method)(workers, items, labels, gold={"i1": 1, "elsewhere": 0})
    assert result.as_dict()["i1"] == 1
    assert result.posteriors[0].tolist() == [0.0, 1.0]


def test_gold_anchors_the_worker_parameters() -> None:
    # Two workers who disagree everywhere: gold on one item says which one to trust.
    workers = ["good", "bad"] * 6
    items = np.repeat(np.arange(6), 2)
    labels = [0, 1, 1, 0] * 3
    result = agg.dawid_skene(workers, items, labels, gold={0: 0, 1: 1})
    assert result.labels.tolist() == [0, 1, 0, 1, 0, 1]


def test_string_and_integer_ids_give_the_same_consensus() -> None:
    conf = np.array([np.eye(3) * 0.7 + 0.1] * 6)
    workers, items, labels, _ = simulate(conf, n_items=50, per_item=3, seed=5)
    by_int = agg.dawid_skene(workers, items, labels)
    by_str = agg.dawid_skene(
        [f"w{w}" for w in workers], [f"item-{i:03d}" for i in items], [str(c) for c in labels]
    )
    assert by_str.labels.tolist() == [str(c) for c in by_int.labels.tolist()]
    assert np.allclose(by_str.posteriors, by_int.posteriors)


@pytest.mark.parametrize("method", [*MODELS, "aggregate"])
def test_empty_input_raises_a_clear_quality_input_error(method: str) -> None:
    with pytest.raises(QualityInputError, match="empty"):
        getattr(agg, method)([], [], [])


def test_inputs_of_unequal_length_are_rejected() -> None:
    with pytest.raises(QualityInputError, match="equal lengths"):
        agg.dawid_skene(["a", "b"], [1], ["x", "y"])


def test_labels_outside_the_given_classes_are_rejected() -> None:
    with pytest.raises(QualityInputError, match="missing from `classes`"):
        agg.majority_vote(["a"], [1], ["x"], classes=["y"])


@pytest.mark.parametrize("method", ITERATIVE)
def test_iteration_that_cannot_converge_raises_convergence_error(method: str) -> None:
    conf = np.array([np.eye(3) * 0.5 + 0.5 / 3] * 5)
    workers, items, labels, _ = simulate(conf, n_items=60, per_item=3, seed=6)
    with pytest.raises(ConvergenceError) as info:
        getattr(agg, method)(workers, items, labels, max_iter=1, tol=1e-12)
    assert info.value.n_iter == 1
    assert info.value.delta > 1e-12


@pytest.mark.parametrize("method", ITERATIVE)
def test_bad_iteration_options_are_rejected(method: str) -> None:
    with pytest.raises(QualityInputError):
        getattr(agg, method)(["a"], [1], ["x"], max_iter=0)
    with pytest.raises(QualityInputError):
        getattr(agg, method)(["a"], [1], ["x"], tol=0.0)


def test_weighted_majority_vote_follows_the_heavier_workers() -> None:
    workers = ["a", "b", "c", "a", "b", "c"]
    items = [1, 1, 1, 2, 2, 2]
    labels = ["x", "x", "y", "y", "y", "x"]
    by_map = agg.weighted_majority_vote(workers, items, labels, weights={"c": 5.0, "a": 1.0})
    assert by_map.labels.tolist() == ["y", "x"]
    assert by_map.worker_skill.tolist() == [1.0, 0.0, 5.0]
    by_array = agg.weighted_majority_vote(workers, items, labels, weights=[1.0, 1.0, 0.0])
    assert by_array.labels.tolist() == ["x", "y"]


def test_weighted_majority_vote_rejects_negative_or_misaligned_weights() -> None:
    with pytest.raises(QualityInputError, match="non-negative"):
        agg.weighted_majority_vote(["a"], [1], ["x"], weights={"a": -1.0})
    with pytest.raises(QualityInputError, match="one entry per distinct worker"):
        agg.weighted_majority_vote(["a"], [1], ["x"], weights=[1.0, 2.0])


def test_majority_vote_skill_is_agreement_with_the_consensus() -> None:
    result = agg.majority_vote(["a", "b", "c"] * 2, [1, 1, 1, 2, 2, 2], list("xxyyyx"))
    skill = dict(zip(result.worker_ids.tolist(), result.worker_skill.tolist(), strict=True))
    assert skill["a"] == skill["b"] > skill["c"]


def test_auto_uses_majority_vote_when_items_have_single_answers() -> None:
    result = agg.aggregate(["a", "b", "c"], [1, 2, 3], ["x", "y", "x"])
    assert result.method == "majority_vote"


def test_auto_chooses_a_model_deterministically_and_matches_it() -> None:
    true_conf = np.array([[[0.9, 0.1], [0.4, 0.6]], [[0.8, 0.2], [0.3, 0.7]]] * 4)
    workers, items, labels, truth = simulate(true_conf, n_items=300, per_item=5, seed=7)
    first = agg.aggregate(workers, items, labels, seed=3)
    again = agg.aggregate(workers, items, labels, seed=3)
    assert first.method in {*_select.CANDIDATES, "stacking"}
    assert np.array_equal(first.posteriors, again.posteriors)
    assert accuracy(first, truth) >= accuracy(agg.majority_vote(workers, items, labels), truth)


def test_aggregate_runs_a_named_method_with_its_options() -> None:
    result = agg.aggregate(
        ["a", "b"], [1, 1], ["x", "y"], method="weighted_majority_vote", weights={"b": 2.0}
    )
    assert result.labels.tolist() == ["y"]
    with pytest.raises(QualityInputError, match="unknown method"):
        agg.aggregate(["a"], [1], ["x"], method="telepathy")


def test_results_are_read_only() -> None:
    result = agg.dawid_skene(["a", "b"], [1, 1], ["x", "x"])
    with pytest.raises(ValueError, match="read-only"):
        result.posteriors[0, 0] = 0.5
