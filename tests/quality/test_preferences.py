from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from expertloop.quality import _bt
from expertloop.quality._common import ConvergenceError, QualityInputError
from expertloop.quality.preferences import bradley_terry, crowd_bt, pairwise_consensus

GOLDEN = Path(__file__).parent / "golden"


def _two(w: int, lo: int, t: int = 0) -> tuple[list[str], list[str], list[bool]]:
    winners = ["a"] * w + ["b"] * lo + ["a"] * t
    losers = ["b"] * w + ["a"] * lo + ["b"] * t
    return winners, losers, [False] * (w + lo) + [True] * t


def _simulate(
    seed: int, n: int, m: int, nu: float = 0.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    theta = rng.normal(0, 1, n)
    i = rng.integers(0, n, m)
    j = rng.integers(0, n - 1, m)
    j = j + (j >= i)
    d = theta[i] - theta[j]
    z = np.exp(d / 2) + np.exp(-d / 2) + nu
    u = rng.random(m)
    i_wins = u < np.exp(d / 2) / z
    tie = (u >= np.exp(d / 2) / z) & (u < (np.exp(d / 2) + nu) / z)
    return np.where(i_wins | tie, i, j), np.where(i_wins | tie, j, i), tie, theta


@pytest.mark.parametrize(("w", "lo"), [(3, 1), (7, 2), (1, 5)])
def test_two_entities_without_penalty_differ_by_the_log_odds_of_their_record(
    w: int, lo: int
) -> None:
    winners, losers, _ = _two(w, lo)
    r = bradley_terry(winners, losers, alpha=0)
    assert list(r.entity_ids) == ["a", "b"]
    assert r.scores[0] - r.scores[1] == pytest.approx(math.log(w / lo), abs=1e-9)
    assert r.scores.sum() == pytest.approx(0, abs=1e-12)


def test_the_penalty_is_alpha_times_the_squared_norm_like_choix() -> None:
    # One comparison a > b: theta_a = -theta_b = x solves sigmoid(-2x) = 2 alpha x.
    alpha = 0.1
    r = bradley_terry(["a"], ["b"], alpha=alpha)
    x = r.scores[0]
    assert 1 / (1 + math.exp(2 * x)) == pytest.approx(2 * alpha * x, abs=1e-10)


def test_scores_match_choix_on_a_stored_case() -> None:
    case = json.loads((GOLDEN / "bt_choix.json").read_text())
    r = bradley_terry(case["winners"], case["losers"], alpha=case["alpha"])
    assert list(r.entity_ids) == case["entities"]
    np.testing.assert_allclose(r.scores, case["scores_alpha"], atol=1e-7)
    ml = bradley_terry(case["winners"], case["losers"], alpha=0)
    np.testing.assert_allclose(ml.scores, case["scores_ml"], atol=1e-7)


def test_davidson_on_two_entities_has_the_closed_form_of_a_saturated_model() -> None:
    w, lo, t = 6, 2, 4
    r = bradley_terry(*_two(w, lo, t)[:2], ties=_two(w, lo, t)[2], alpha=0)
    assert r.tie_model == "davidson"
    assert r.scores[0] - r.scores[1] == pytest.approx(math.log(w / lo), abs=1e-8)
    assert r.tie_parameter == pytest.approx(t / math.sqrt(w * lo), abs=1e-8)


def test_rao_kupper_on_two_entities_has_the_closed_form_of_a_saturated_model() -> None:
    w, lo, t = 6, 2, 4
    n = w + lo + t
    winners, losers, ties = _two(w, lo, t)
    r = bradley_terry(winners, losers, ties=ties, alpha=0, tie_model="rao_kupper")

    def logit(p: float) -> float:
        return math.log(p / (1 - p))

    assert r.scores[0] - r.scores[1] == pytest.approx((logit(w / n) - logit(lo / n)) / 2, abs=1e-8)
    assert r.tie_parameter == pytest.approx(math.exp(-(logit(w / n) + logit(lo / n)) / 2), abs=1e-8)


def test_ties_as_half_count_half_a_win_for_each_side() -> None:
    winners, losers, ties = _two(5, 1, 4)
    r = bradley_terry(winners, losers, ties=ties, alpha=0, tie_model="half")
    assert r.scores[0] - r.scores[1] == pytest.approx(math.log(7 / 3), abs=1e-9)
    assert r.tie_parameter is None


def test_strengths_are_recovered_from_simulated_comparisons() -> None:
    winners, losers, _, theta = _simulate(0, 40, 20_000)
    r = bradley_terry(winners, losers, alpha=0)
    assert np.abs(r.scores - (theta - theta.mean())).max() < 0.3
    assert np.corrcoef(r.scores, theta)[0, 1] > 0.99


def test_davidson_recovers_strengths_and_the_tie_parameter() -> None:
    winners, losers, ties, theta = _simulate(1, 30, 30_000, nu=0.8)
    r = bradley_terry(winners, losers, ties=ties, alpha=0, tie_model="davidson")
    assert np.abs(r.scores - (theta - theta.mean())).max() < 0.15
    assert r.tie_parameter == pytest.approx(0.8, abs=0.05)


def test_the_sparse_conjugate_gradient_path_agrees_with_the_dense_path(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    winners, losers, ties, _ = _simulate(2, 600, 15_000, nu=0.5)
    for tie_model in ("davidson", "rao_kupper"):
        sparse = bradley_terry(winners, losers, ties=ties, tie_model=tie_model)
        monkeypatch.setattr(_bt, "_DENSE_MAX", 10_000)
        dense = bradley_terry(winners, losers, ties=ties, tie_model=tie_model)
        monkeypatch.setattr(_bt, "_DENSE_MAX", 400)
        np.testing.assert_allclose(sparse.scores, dense.scores, atol=1e-7)
        assert sparse.tie_parameter == pytest.approx(dense.tie_parameter, abs=1e-7)


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 10_000), st.sampled_from(["davidson", "rao_kupper", "half"]))
def test_permuting_rows_and_renaming_ids_does_not_change_scores(seed: int, tie_model: str) -> None:
    winners, losers, ties, _ = _simulate(seed, 8, 120, nu=0.5)
    base = bradley_terry(winners, losers, ties=ties, tie_model=tie_model).as_dict()
    order = np.random.default_rng(seed).permutation(len(winners))
    names = np.array([f"id-{k}" for k in range(8)])
    other = bradley_terry(
        names[winners[order]], names[losers[order]], ties=ties[order], tie_model=tie_model
    ).as_dict()
    for k, score in base.items():
        assert other[f"id-{k}"] == pytest.approx(score, abs=1e-8)


def test_swapping_the_sides_of_a_tie_does_not_change_scores() -> None:
    winners, losers, ties, _ = _simulate(5, 10, 500, nu=1.0)
    swapped_w = np.where(ties, losers, winners)
    swapped_l = np.where(ties, winners, losers)
    a = bradley_terry(winners, losers, ties=ties)
    b = bradley_terry(swapped_w, swapped_l, ties=ties)
    np.testing.assert_allclose(a.scores, b.scores, atol=1e-10)


def test_a_single_comparison_gives_finite_scores_with_the_winner_ahead() -> None:
    r = bradley_terry([1], [2])
    assert np.all(np.isfinite(r.scores))
    assert r.scores[0] > r.scores[1]


def test_without_penalty_an_entity_that_never_loses_raises_convergence_error() -> None:
    with pytest.raises(ConvergenceError, match="alpha > 0"):
        bradley_terry(["a", "a", "b"], ["b", "c", "c"], alpha=0)


def test_a_disconnected_graph_is_fitted_with_each_piece_centred() -> None:
    r = bradley_terry(["a", "a", "b", "x", "y", "y"], ["b", "b", "a", "y", "x", "x"])
    s = r.as_dict()
    assert s["a"] + s["b"] == pytest.approx(0, abs=1e-9)
    assert s["x"] + s["y"] == pytest.approx(0, abs=1e-9)
    assert s["a"] > s["b"]
    assert s["y"] > s["x"]


def test_entities_without_comparisons_get_a_score_of_zero() -> None:
    r = bradley_terry(["a"], ["b"], entities=["a", "b", "c"])
    assert r.as_dict()["c"] == pytest.approx(0, abs=1e-12)


@pytest.mark.parametrize("tie_model", ["davidson", "rao_kupper", "half"])
def test_all_ties_give_equal_scores(tie_model: str) -> None:
    r = bradley_terry(["a", "b", "c"], ["b", "c", "a"], ties=[True] * 3, tie_model=tie_model)
    np.testing.assert_allclose(r.scores, 0, atol=1e-9)


def test_tie_models_without_any_tie_fall_back_to_plain_bradley_terry() -> None:
    winners, losers, _ = _two(3, 1)
    r = bradley_terry(winners, losers, ties=[False] * 4, alpha=0, tie_model="davidson")
    assert r.tie_parameter == 0.0
    assert r.scores[0] - r.scores[1] == pytest.approx(math.log(3), abs=1e-9)


def test_bad_inputs_raise_quality_input_errors_with_clear_messages() -> None:
    with pytest.raises(QualityInputError, match="empty"):
        bradley_terry([], [])
    with pytest.raises(QualityInputError, match="equal lengths"):
        bradley_terry(["a"], ["b", "c"])
    with pytest.raises(QualityInputError, match="itself"):
        bradley_terry(["a"], ["a"])
    with pytest.raises(QualityInputError, match="boolean"):
        bradley_terry(["a"], ["b"], ties=[1])
    with pytest.raises(QualityInputError, match="tie_model"):
        bradley_terry(["a"], ["b"], ties=[True], tie_model="glenn")
    with pytest.raises(QualityInputError, match="alpha"):
        bradley_terry(["a"], ["b"], alpha=-1)


def test_crowd_bt_finds_the_reliable_workers_and_the_strengths() -> None:
    rng = np.random.default_rng(4)
    n, m = 25, 6_000
    theta = rng.normal(0, 1.2, n)
    eta = np.array([0.95] * 6 + [0.5] * 3 + [0.1])
    workers = rng.integers(0, len(eta), m)
    i = rng.integers(0, n, m)
    j = rng.integers(0, n - 1, m)
    j = j + (j >= i)
    truthful = rng.random(m) < eta[workers]
    i_better = rng.random(m) < 1 / (1 + np.exp(-(theta[i] - theta[j])))
    i_said = i_better == truthful
    r = crowd_bt(workers, np.where(i_said, i, j), np.where(i_said, j, i))
    assert r.worker_reliability[:6].min() > 0.85
    assert np.abs(r.worker_reliability[6:9] - 0.5).max() < 0.1
    assert r.worker_reliability[9] < 0.2
    assert np.corrcoef(r.scores, theta)[0, 1] > 0.97
    plain = bradley_terry(np.where(i_said, i, j), np.where(i_said, j, i))
    err_crowd = np.abs(r.scores - (theta - theta.mean())).mean()
    err_plain = np.abs(plain.scores - (theta - theta.mean())).mean()
    assert err_crowd < err_plain


def test_crowd_bt_with_ties_and_string_ids_runs_and_is_row_order_invariant() -> None:
    winners, losers, ties, _ = _simulate(6, 12, 800, nu=0.5)
    workers = np.array([f"w{k % 7}" for k in range(len(winners))])
    a = crowd_bt(workers, winners, losers, ties=ties)
    order = np.random.default_rng(0).permutation(len(winners))
    b = crowd_bt(workers[order], winners[order], losers[order], ties=ties[order])
    np.testing.assert_allclose(a.scores, b.scores, atol=1e-5)
    np.testing.assert_allclose(a.worker_reliability, b.worker_reliability, atol=1e-5)
    assert list(a.worker_ids) == [f"w{k}" for k in range(7)]


def test_crowd_bt_raises_on_an_improper_prior() -> None:
    with pytest.raises(QualityInputError, match="reliability_prior"):
        crowd_bt(["u"], ["a"], ["b"], reliability_prior=(0.5, 1.0))


def _consensus_data(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = np.array(["A", "tie", "B"])
    truth = rng.choice(3, 300, p=[0.45, 0.2, 0.35])
    acc = np.array([0.9, 0.85, 0.8, 0.75, 0.4, 0.34])
    items = np.repeat(np.arange(300), 5)
    workers = np.concatenate([rng.choice(6, 5, replace=False) for _ in range(300)])
    right = rng.random(len(items)) < acc[workers]
    wrong = (truth[items] + rng.integers(1, 3, len(items))) % 3
    answers = np.where(right, truth[items], wrong)
    return workers, items, labels[answers], labels[truth]


def test_pairwise_consensus_recovers_the_true_answers_better_than_majority() -> None:
    workers, items, choices, truth = _consensus_data(0)
    r = pairwise_consensus(workers, items, choices)
    accuracy = float(np.mean(r.choice == truth))
    assert accuracy > 0.9
    np.testing.assert_allclose(r.p_a_better + r.p_tie + r.p_b_better, 1.0)
    assert np.all(r.n_answers == 5)
    assert r.worker_confusion.shape == (6, 3, 3)
    # The two near-random workers get the least diagonal mass.
    diag = np.trace(r.worker_confusion, axis1=1, axis2=2)
    assert set(np.argsort(diag)[:2]) == {4, 5}


def test_pairwise_consensus_with_given_reliabilities_is_a_weighted_vote() -> None:
    r = pairwise_consensus(
        ["good", "bad", "bad2"],
        [1, 1, 1],
        ["A", "B", "B"],
        worker_reliability={"good": 0.99, "bad": 0.4, "bad2": 0.4},
    )
    assert r.choice[0] == "A"
    assert r.n_iter == 0
    assert r.p_a_better[0] > 0.9


def test_pairwise_consensus_is_row_order_invariant() -> None:
    workers, items, choices, _ = _consensus_data(1)
    order = np.random.default_rng(2).permutation(len(items))
    a = pairwise_consensus(workers, items, choices)
    b = pairwise_consensus(workers[order], items[order], choices[order])
    np.testing.assert_allclose(a.p_a_better, b.p_a_better, atol=1e-6)
    np.testing.assert_allclose(a.p_tie, b.p_tie, atol=1e-6)


def _reference_ab_posteriors(
    workers: np.ndarray, items: np.ndarray, answers: np.ndarray, n_steps: int
) -> np.ndarray:
    """Plain EM for the model as its docstring states it, one answer at a time: no sparse
    matrices, no acceleration, a fixed number of steps."""
    n_workers, n_items = workers.max() + 1, items.max() + 1
    pseudo = 4.0 * np.where(np.eye(3) == 1, 0.7, 0.15)
    votes = np.zeros((n_items, 3))
    np.add.at(votes, (items, answers), 1.0)
    post = (votes + 0.1) / (votes + 0.1).sum(axis=1, keepdims=True)
    for _ in range(n_steps):
        prior = (post.sum(axis=0) + 1.0) / (n_items + 3.0)
        counts = np.zeros((n_workers, 3, 3))
        for z in range(3):
            np.add.at(counts[:, z, :], (workers, answers), post[items, z])
        conf = (counts + pseudo) / (counts + pseudo).sum(axis=2, keepdims=True)
        log_post = np.tile(np.log(prior), (n_items, 1))
        np.add.at(log_post, items, np.log(conf[workers, :, answers]))
        post = np.exp(log_post - log_post.max(axis=1, keepdims=True))
        post /= post.sum(axis=1, keepdims=True)
    return post


def test_accelerated_pairwise_consensus_reaches_the_plain_em_fixed_point() -> None:
    workers, items, choices, _ = _consensus_data(4)
    answers = np.searchsorted(np.array(["A", "B", "tie"]), choices)
    answers = np.array([0, 2, 1])[answers]  # A, tie, B
    reference = _reference_ab_posteriors(workers, items, answers, n_steps=1000)
    r = pairwise_consensus(workers, items, choices, tol=1e-15, max_iter=3000)
    np.testing.assert_allclose(r.p_a_better, reference[:, 0], atol=1e-6)
    np.testing.assert_allclose(r.p_tie, reference[:, 1], atol=1e-6)
    np.testing.assert_allclose(r.p_b_better, reference[:, 2], atol=1e-6)
    assert r.n_iter < 100  # the extrapolation needs a few dozen EM steps, not thousands


def _export_like_data(
    seed: int, n_items: int, n_workers: int = 30
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Answers like bench/export.py's: the truth is A or B, three workers per item, each
    right with its own accuracy and otherwise saying the other side or a tie."""
    rng = np.random.default_rng(seed)
    accuracy = rng.uniform(0.6, 0.95, n_workers)
    truth = np.where(np.arange(n_items) % 2, 0, 2)
    items = np.repeat(np.arange(n_items), 3)
    workers = np.argsort(rng.random((n_items, n_workers)), axis=1)[:, :3].ravel()
    right = rng.random(len(items)) < accuracy[workers]
    wrong = np.where(rng.random(len(items)) < 0.5, 2 - truth[items], 1)
    return workers, items, np.where(right, truth[items], wrong), truth, accuracy


def test_pairwise_consensus_converges_on_a_large_problem_and_beats_the_vote() -> None:
    workers, items, answers, truth, accuracy = _export_like_data(0, 40_000)
    r = pairwise_consensus(workers, items, answers, labels=(0, 1, 2))  # default max_iter
    vote = pairwise_consensus(workers, items, answers, labels=(0, 1, 2), worker_reliability={})
    assert 1 <= r.n_iter < 200
    fitted = float(np.mean(r.choice.astype(int) == truth))
    voted = float(np.mean(vote.choice.astype(int) == truth))
    assert fitted > 0.92
    assert fitted > voted + 0.03
    # The workers' accuracies (on A and B items) are recovered.
    estimated = (r.worker_confusion[:, 0, 0] + r.worker_confusion[:, 2, 2]) / 2
    assert np.corrcoef(estimated, accuracy)[0, 1] > 0.95
    assert np.abs(estimated - accuracy).max() < 0.05


def test_pairwise_consensus_is_deterministic() -> None:
    workers, items, answers, _, _ = _export_like_data(1, 5_000)
    a = pairwise_consensus(workers, items, answers, labels=(0, 1, 2))
    b = pairwise_consensus(workers, items, answers, labels=(0, 1, 2))
    assert a.n_iter == b.n_iter
    assert np.array_equal(a.p_a_better, b.p_a_better)
    assert np.array_equal(a.worker_confusion, b.worker_confusion)


def test_pairwise_consensus_rejects_unknown_choices_and_empty_input() -> None:
    with pytest.raises(QualityInputError, match="choices"):
        pairwise_consensus(["u"], [1], ["C"])
    with pytest.raises(QualityInputError, match="empty"):
        pairwise_consensus([], [], [])


def test_iterative_fits_that_run_out_of_iterations_raise_convergence_error() -> None:
    winners, losers, ties, _ = _simulate(8, 10, 300, nu=0.5)
    workers = np.arange(len(winners)) % 4
    with pytest.raises(ConvergenceError) as info:
        crowd_bt(workers, winners, losers, ties=ties, max_iter=1)
    assert info.value.n_iter == 1
    with pytest.raises(ConvergenceError):
        bradley_terry(winners, losers, ties=ties, max_iter=1)
    w, items, choices, _ = _consensus_data(3)
    with pytest.raises(ConvergenceError):
        pairwise_consensus(w, items, choices, max_iter=1)
