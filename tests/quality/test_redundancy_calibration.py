"""The calibrated stopping confidence of adaptive redundancy: answers whose errors correlate
within an item weigh as Kish's effective number of independent ones, with the correlation
estimated from the project's own answers (quality/_redundancy_model.py ``calibrate``)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from expertloop.quality import QualityInputError, aggregate, simulate_answers
from expertloop.quality._sim_correlated import simulate_correlated
from expertloop.quality.redundancy import WorkerModel, fit_worker_model, item_posterior, replay


def test_correlated_answers_weigh_as_their_effective_number_and_agreement_saturates() -> None:
    plain = WorkerModel.uninformed(2, prior_accuracy=0.8)
    correlated = WorkerModel(2, plain.class_prior, plain.default_confusion, correlation=0.25)
    # n answers with correlation rho count as n / (1 + (n - 1) rho) independent ones.
    assert correlated.weight_of(1) == 1.0
    assert correlated.weight_of(5) == pytest.approx(1 / (1 + 4 * 0.25))

    def log_odds(model: WorkerModel, n: int) -> float:
        p = item_posterior(model, [f"w{j}" for j in range(n)], [1] * n)[1]
        return math.log(p / (1 - p))

    one = math.log(0.8 / 0.2)
    assert log_odds(plain, 20) == pytest.approx(20 * one)
    assert log_odds(correlated, 20) == pytest.approx(20 / (1 + 19 * 0.25) * one)
    # However many agree, never more than 1 / rho answers' worth of evidence.
    assert log_odds(correlated, 200) < one / 0.25
    with pytest.raises(QualityInputError):
        WorkerModel(2, plain.class_prior, plain.default_confusion, correlation=1.0)


def _calibrated(workers: np.ndarray, items: np.ndarray, labels: np.ndarray) -> WorkerModel:
    fit = aggregate(workers, items, labels, method="one_coin_dawid_skene")
    return fit_worker_model(
        workers, items, labels, fit.posteriors, unit_ids=fit.item_ids, calibrate=True
    )


def test_the_correlation_is_small_for_independent_answers_and_not_for_hard_items() -> None:
    for seed in (3, 4):
        independent = simulate_correlated(
            seed=seed, n_items=400, answers_per_item=6, hard_share=0.0
        )
        assert (
            _calibrated(independent.workers, independent.items, independent.labels).correlation
            <= 0.05
        )
    # Items that mislead most workers toward the same wrong class (simulate_answers draws
    # an easiness per item and a distractor class).
    for scenario in ("symmetric", "item_difficulty"):
        sim = simulate_answers(scenario, seed=7 if scenario == "symmetric" else 3)
        assert _calibrated(sim.workers, sim.items, sim.labels).correlation >= 0.1
    # Without calibrate, answers are taken as independent.
    sim = simulate_answers("symmetric", seed=7)
    fit = aggregate(sim.workers, sim.items, sim.labels, method="one_coin_dawid_skene")
    plain = fit_worker_model(
        sim.workers, sim.items, sim.labels, fit.posteriors, unit_ids=fit.item_ids, calibrate=False
    )
    assert plain.correlation == 0.0


def _stopped_right(calibrate: bool, target: float) -> tuple[float, float]:
    sim = simulate_answers("symmetric", seed=7)
    r = replay(
        sim.workers,
        sim.items,
        sim.labels,
        min_answers=2,
        max_answers=10,
        target_confidence=target,
        calibrate=calibrate,
    )
    assert r.stop_labels is not None
    ids = r.item_ids.astype(int)
    stopped = r.confidence >= target
    right = r.stop_labels.astype(int)[stopped] == sim.truth[ids][stopped]
    return float(right.mean()), r.saving


def test_on_misleading_items_only_the_calibrated_confidence_means_the_target() -> None:
    # Items stopped at 0.99 should be right 99% of the time. Taking agreeing answers on a
    # misleading item as independent stops too early (about 98%); the calibrated rule keeps
    # its word, at the price of more answers.
    calibrated, calibrated_saving = _stopped_right(True, 0.99)
    plain, plain_saving = _stopped_right(False, 0.99)
    assert calibrated >= 0.99
    assert plain < 0.985
    assert 0.2 < calibrated_saving < plain_saving


def test_the_calibrated_rule_saves_answers_at_the_accuracy_of_all_of_them() -> None:
    sim = simulate_answers("class_biased_rare", seed=1)
    full = aggregate(sim.workers, sim.items, sim.labels)
    r = replay(sim.workers, sim.items, sim.labels, calibrate=True, target_confidence=0.995)
    assert r.saving >= 0.15
    assert sim.accuracy(r.item_ids, r.labels) >= sim.accuracy(full.item_ids, full.labels) - 0.002


def test_with_strict_and_lenient_workers_a_class_conditional_refit_stops_on_the_truth() -> None:
    # Workers whose errors favour one class: the one-coin fit takes them for reliable in
    # both directions, and the rule stops on their habit; full Dawid-Skene sees the habit.
    sim = simulate_answers("strict_and_lenient", seed=4)
    kw = {"min_answers": 2, "max_answers": 10, "target_confidence": 0.99}
    right = {}
    for refit in ("one_coin_dawid_skene", "dawid_skene"):
        r = replay(sim.workers, sim.items, sim.labels, refit=refit, **kw)  # type: ignore[arg-type]
        assert r.stop_labels is not None
        right[refit] = sim.accuracy(r.item_ids, r.stop_labels.astype(int))
    assert right["dawid_skene"] >= right["one_coin_dawid_skene"] + 0.03
    with pytest.raises(QualityInputError):
        replay(sim.workers, sim.items, sim.labels, refit="glad")
