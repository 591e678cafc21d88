"""LLM judges in the adaptive stopping rule: free verdicts whose reliability is fitted with
the experts' (quality/redundancy.py replay(judges=...), quality/_sim_correlated.py)."""

from __future__ import annotations

import numpy as np
import pytest

from expertloop.quality import QualityInputError, aggregate
from expertloop.quality._sim_correlated import (
    CorrelatedCrowd,
    simulate_correlated,
    simulate_judge,
)
from expertloop.quality.redundancy import WorkerModel, item_posterior, replay

K = 3
POLICY = {"min_answers": 1, "max_answers": 5, "target_confidence": 0.99}


@pytest.fixture(scope="module")
def crowd() -> CorrelatedCrowd:
    return simulate_correlated(seed=0, n_items=400, answers_per_item=5, n_classes=K,
                               hard_share=0.1)


@pytest.fixture(scope="module")
def without_judge(crowd: CorrelatedCrowd) -> tuple[int, float]:
    r = replay(crowd.workers, crowd.items, crowd.labels, **POLICY)
    return r.answers_used, crowd.accuracy(r.item_ids, r.labels)


def _with_judge(crowd: CorrelatedCrowd, **judge: object) -> tuple[int, float]:
    verdicts = simulate_judge(crowd.truth, K, seed=9, **judge)  # type: ignore[arg-type]
    r = replay(crowd.workers, crowd.items, crowd.labels, judges=verdicts.as_tuple(), **POLICY)
    return r.answers_used, crowd.accuracy(r.item_ids, r.labels)


def test_a_reliable_judge_saves_expert_answers_and_keeps_the_accuracy_of_all_answers(
    crowd: CorrelatedCrowd, without_judge: tuple[int, float]
) -> None:
    full = aggregate(crowd.workers, crowd.items, crowd.labels)
    full_accuracy = crowd.accuracy(full.item_ids, full.labels)
    used, accuracy = _with_judge(crowd, accuracy=0.95)
    assert used <= 0.85 * without_judge[0]
    assert used <= 0.5 * len(crowd.labels)
    assert accuracy >= full_accuracy - 0.01
    assert accuracy >= without_judge[1] - 0.01


def test_a_judge_no_better_than_chance_costs_no_accuracy_and_saves_nothing(
    crowd: CorrelatedCrowd, without_judge: tuple[int, float]
) -> None:
    used, accuracy = _with_judge(crowd, accuracy=1 / K)
    assert accuracy >= without_judge[1] - 0.01
    assert used >= without_judge[0]


def test_an_adversarial_judge_costs_no_accuracy(
    crowd: CorrelatedCrowd, without_judge: tuple[int, float]
) -> None:
    # Wrong 70% of the time, always toward the next class: the fitted confusion matrix
    # learns the pattern, so the verdicts may even help; they must not hurt.
    _, accuracy = _with_judge(crowd, accuracy=0.3, systematic=True)
    assert accuracy >= without_judge[1] - 0.01


def test_unsure_verdicts_carry_no_evidence(crowd: CorrelatedCrowd) -> None:
    plain = replay(crowd.workers, crowd.items, crowd.labels, **POLICY)
    unsure = simulate_judge(crowd.truth, K, accuracy=0.95, unsure=1.0, seed=9)
    r = replay(crowd.workers, crowd.items, crowd.labels, judges=unsure.as_tuple(), **POLICY)
    assert r.answers_used == plain.answers_used
    assert np.array_equal(r.labels, plain.labels)


def test_judge_verdicts_outside_the_classes_or_on_unanswered_items_are_ignored() -> None:
    workers = ["a", "b", "c", "a", "b", "c"]
    items = [1, 1, 1, 2, 2, 2]
    labels = ["x", "x", "y", "y", "y", "x"]
    kw = {"min_answers": 1, "max_answers": 3, "target_confidence": 0.9, "shuffle": False}
    plain = replay(workers, items, labels, **kw)  # type: ignore[arg-type]
    noise = (["gpt", "gpt", "gpt"], [1, 2, 99], ["inconsistent", None, "x"])
    r = replay(workers, items, labels, judges=noise, **kw)  # type: ignore[arg-type]
    assert r.answers_used_per_item.tolist() == plain.answers_used_per_item.tolist()
    assert r.labels.tolist() == plain.labels.tolist()


def test_judge_verdicts_never_count_as_answers_used() -> None:
    workers, items, labels = ["a", "b"], [1, 1], ["x", "x"]
    judges = (["j1", "j2", "j3"], [1, 1, 1], ["x", "x", "x"])
    r = replay(workers, items, labels, judges=judges, min_answers=1, max_answers=2,
               target_confidence=0.9, shuffle=False)
    assert r.answers_used == 1
    assert r.answers_available == 2


def test_judges_must_come_as_three_parallel_sequences() -> None:
    with pytest.raises(QualityInputError):
        replay(["a"], [1], ["x"], judges=(["j"], [1]))  # type: ignore[arg-type]
    with pytest.raises(QualityInputError):
        replay(["a"], [1], ["x"], judges=(["j"], [1, 1], ["x"]))


def test_a_tempered_posterior_weighs_each_answer_as_a_fraction_of_one() -> None:
    full = WorkerModel.uninformed(2, prior_accuracy=0.9)
    half = WorkerModel.uninformed(2, prior_accuracy=0.9, evidence_weight=0.5)
    two = item_posterior(full, ["a", "b"], [1, 1])
    four_halves = item_posterior(half, ["a", "b", "c", "d"], [1, 1, 1, 1])
    assert four_halves == pytest.approx(two)
    with pytest.raises(QualityInputError):
        WorkerModel.uninformed(2, evidence_weight=0.0)
