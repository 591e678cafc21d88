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
from expertloop.quality.redundancy import (
    WorkerModel,
    fit_worker_model,
    item_confidence,
    item_posterior,
    replay,
)

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
    assert used <= 0.8 * without_judge[0]
    assert used <= 0.7 * len(crowd.labels)
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


# The final label of these replays, and of all the answers, comes from one fixed model (the
# crowd's own, workers right with one accuracy each): these tests are about where the
# stopping rule stops, and ``auto`` may choose another model on a subset of the answers than
# on all of them (tests/quality/test_auto_selection.py tests that choice).
FINAL = "one_coin_dawid_skene"


def _replay_scores(
    crowd: CorrelatedCrowd, target: float, *, weight: float = 1.0,
    items: np.ndarray | None = None,
) -> tuple[float, float, float]:
    """(accuracy of the items stopped at the target, among ``items``; final accuracy;
    saving)."""
    r = replay(crowd.workers, crowd.items, crowd.labels, min_answers=2, max_answers=10,
               target_confidence=target, evidence_weight=weight, final=FINAL)
    ids = r.item_ids.astype(int)
    assert r.stop_labels is not None
    right = r.stop_labels.astype(int) == crowd.truth[ids]
    stopped = r.confidence >= target
    if items is not None:
        stopped &= np.isin(ids, items)
    return float(right[stopped].mean()), crowd.accuracy(r.item_ids, r.labels), r.saving


def _all_answers_accuracy(crowd: CorrelatedCrowd) -> float:
    full = aggregate(crowd.workers, crowd.items, crowd.labels, method=FINAL)
    return crowd.accuracy(full.item_ids, full.labels)


def test_with_independent_errors_items_stopped_at_the_target_are_right_that_often() -> None:
    crowd = simulate_correlated(seed=1, n_items=400, hard_share=0.0)
    for target in (0.9, 0.95):
        stopped, _, _ = _replay_scores(crowd, target)
        assert stopped >= target - 0.01


def test_with_correlated_errors_tempering_the_evidence_trades_answers_for_accuracy() -> None:
    # On a hard item most workers give the same wrong class: agreeing answers are not
    # independent evidence, and an untempered posterior stops on them too early. The target
    # still holds on the other items; a weight of 0.5 per answer asks for more answers
    # and keeps the accuracy of all the answers.
    crowd = simulate_correlated(seed=2, n_items=400, hard_share=0.15, pull=0.6)
    easy = np.flatnonzero(~crowd.hard)
    full = _all_answers_accuracy(crowd)
    stopped_easy, plain, plain_saving = _replay_scores(crowd, 0.95, items=easy)
    assert stopped_easy >= 0.95 - 0.01
    _, tempered, tempered_saving = _replay_scores(crowd, 0.95, weight=0.5)
    assert tempered_saving < plain_saving
    assert tempered >= plain
    assert tempered >= full - 0.005


def test_a_judge_that_breaks_a_tie_between_two_experts_decides_the_label() -> None:
    workers, items, labels = ["a", "b", "c", "d"] * 3, [1] * 4 + [2] * 4 + [3] * 4, (
        ["x", "x", "y", "y"] * 3)
    judges = (["j"] * 3, [1, 2, 3], ["y", "y", "y"])
    r = replay(workers, items, labels, judges=judges, min_answers=4, max_answers=4,
               shuffle=False, final="majority_vote", judges_in_final=True)
    assert r.labels.tolist() == ["y", "y", "y"]


def test_answers_alone_on_their_item_say_nothing_about_their_worker() -> None:
    # One answer per item: each agrees with the posterior it made, which is no evidence.
    workers, units, labels = ["a", "a", "b", "b"], [0, 1, 2, 3], [0, 1, 0, 1]
    posteriors = np.eye(2)[labels]
    model = fit_worker_model(workers, units, labels, posteriors, unit_ids=[0, 1, 2, 3])
    assert model.accuracy_of("a") == pytest.approx(WorkerModel.uninformed(2).accuracy_of("x"))


def test_leave_one_out_scores_each_answer_against_the_others_only() -> None:
    crowd = simulate_correlated(seed=3, n_items=300, answers_per_item=3, hard_share=0.0)
    fit = aggregate(crowd.workers, crowd.items, crowd.labels, method="one_coin_dawid_skene")
    args = (crowd.workers, crowd.items, crowd.labels, fit.posteriors)
    plain = fit_worker_model(*args, unit_ids=fit.item_ids)
    loo = fit_worker_model(*args, unit_ids=fit.item_ids, leave_one_out=True)
    workers = np.unique(crowd.workers).tolist()
    assert np.mean([loo.accuracy_of(w) for w in workers]) < np.mean(
        [plain.accuracy_of(w) for w in workers])


def test_an_item_stops_on_the_experts_class_never_on_a_judge_that_sides_against_them() -> None:
    # A fixed model: the judge is right 99% of the time, the expert 60%. After one expert's
    # "x" and the judge's "y" the posterior is sure of "y", but the exported label is the
    # experts' ("x"), so the item asks for a second expert; where the judge agrees, it stops.
    judge = ((0.99, 0.01), (0.01, 0.99))
    model = WorkerModel(2, (0.5, 0.5), ((0.6, 0.4), (0.4, 0.6)), {"j": judge})
    assert max(item_posterior(model, ["j", "a"], [1, 0])) >= 0.95
    assert item_confidence(model, ["a"], [0], ["j"], [1]) == pytest.approx(
        (item_posterior(model, ["j", "a"], [1, 0])[0], 0)
    )
    workers, items, labels = ["a", "b", "a", "b"], [0, 0, 1, 1], [0, 1, 1, 1]
    r = replay(workers, items, labels, judges=(["j", "j"], [0, 1], [1, 1]), min_answers=1,
               max_answers=3, target_confidence=0.95, shuffle=False, model=model)
    assert r.answers_used_per_item.tolist() == [2, 1]
