from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import beta, binomtest

from expertloop.quality._common import QualityInputError
from expertloop.quality.workers import (
    consensus_agreement,
    gold_accuracy,
    position_bias,
    spammer_score,
)


def test_two_right_gold_answers_do_not_make_a_worker_perfect() -> None:
    r = gold_accuracy(
        ["u", "u", "v", "v", "v", "v"],
        ["a", "b", "a", "a", "b", "b"],
        ["a", "b", "a", "b", "b", "b"],
    )
    assert list(r.worker_ids) == ["u", "v"]
    assert r.n_answers.tolist() == [2, 4]
    assert r.n_correct.tolist() == [2, 3]
    assert r.raw_accuracy.tolist() == [1.0, 0.75]
    assert r.posterior_mean[0] == pytest.approx(3 / 4)
    assert r.posterior_mean[1] == pytest.approx(4 / 6)
    assert r.lower[0] == pytest.approx(beta.ppf(0.025, 3, 1))
    assert r.upper[0] == pytest.approx(beta.ppf(0.975, 3, 1))
    assert r.upper[0] < 1.0


def test_gold_accuracy_intervals_narrow_with_more_answers_and_follow_the_prior() -> None:
    few = gold_accuracy(["u"] * 4, [1, 1, 1, 0], [1, 1, 1, 1])
    many = gold_accuracy(["u"] * 400, [1] * 300 + [0] * 100, [1] * 400)
    assert (many.upper - many.lower)[0] < (few.upper - few.lower)[0]
    strong = gold_accuracy(
        ["u"] * 4, [1, 1, 1, 0], [1, 1, 1, 1], prior=(8.0, 2.0), credible_mass=0.9
    )
    assert strong.posterior_mean[0] == pytest.approx(11 / 14)
    with pytest.raises(QualityInputError, match="prior"):
        gold_accuracy(["u"], [1], [1], prior=(0.0, 1.0))
    with pytest.raises(QualityInputError, match="empty"):
        gold_accuracy([], [], [])


def test_consensus_agreement_counts_answers_on_items_with_a_consensus() -> None:
    r = consensus_agreement(
        ["u", "u", "u", "v", "v", "w"],
        [1, 2, 3, 1, 2, 9],
        ["a", "b", "c", "b", "b", "a"],
        {1: "a", 2: "b", 3: "a"},
    )
    assert list(r.worker_ids) == ["u", "v"]  # w only answered an item without consensus
    assert r.n_answers.tolist() == [3, 2]
    assert r.n_agree.tolist() == [2, 1]
    np.testing.assert_allclose(r.share, [2 / 3, 1 / 2])
    with pytest.raises(QualityInputError, match="consensus"):
        consensus_agreement(["u"], [5], ["a"], {1: "a"})


def test_spammer_score_is_one_for_a_perfect_worker_and_zero_for_a_spammer() -> None:
    perfect = np.eye(3)
    spammer = np.tile([0.2, 0.5, 0.3], (3, 1))
    always_first = np.tile([1.0, 0.0, 0.0], (3, 1))
    scores = spammer_score(np.stack([perfect, spammer, always_first]))
    np.testing.assert_allclose(scores, [1.0, 0.0, 0.0], atol=1e-12)


@settings(max_examples=30, deadline=None)
@given(st.floats(0.0, 1.0), st.floats(0.0, 1.0))
def test_binary_spammer_score_is_the_squared_youden_index(sens: float, spec: float) -> None:
    confusion = np.array([[spec, 1 - spec], [1 - sens, sens]])
    assert spammer_score(confusion)[0] == pytest.approx((sens + spec - 1) ** 2, abs=1e-12)


def test_spammer_score_accepts_counts_and_rejects_bad_shapes() -> None:
    np.testing.assert_allclose(
        spammer_score([[9, 1], [2, 8]]), spammer_score([[0.9, 0.1], [0.2, 0.8]])
    )
    with pytest.raises(QualityInputError, match="K, K"):
        spammer_score(np.ones((2, 3)))
    with pytest.raises(QualityInputError, match="positive sum"):
        spammer_score([[1, 0], [0, 0]])


def test_position_bias_p_values_match_the_exact_binomial_test() -> None:
    rng = np.random.default_rng(0)
    workers, choices, first = [], [], []
    for k, (n, p) in enumerate([(5, 0.5), (40, 0.8), (17, 0.3), (60, 0.5)]):
        firsts = rng.choice(["A", "B"], n)
        picked_first = rng.random(n) < p
        workers += [k] * n
        first += firsts.tolist()
        choices += np.where(picked_first, firsts, np.where(firsts == "A", "B", "A")).tolist()
    r = position_bias(workers, choices, first)
    for idx in range(4):
        expected = binomtest(int(r.n_first[idx]), int(r.n_decisive[idx]), 0.5).pvalue
        assert r.p_value[idx] == pytest.approx(expected, rel=1e-9)
    assert r.n_decisive.tolist() == [5, 40, 17, 60]


def test_position_bias_leaves_out_ties() -> None:
    r = position_bias(["u", "u", "u", "v"], ["A", "tie", "B", "tie"], ["A", "A", "A", "B"])
    assert r.n_decisive.tolist() == [2, 0]
    assert r.n_first.tolist() == [1, 0]
    assert r.share_first[0] == 0.5
    assert np.isnan(r.share_first[1])
    assert r.p_value.tolist() == [1.0, 1.0]


def test_beta_interval_matches_the_gold_accuracy_posterior_for_the_same_counts() -> None:
    from expertloop.quality.workers import beta_interval

    gold = gold_accuracy(["u"] * 4 + ["v"] * 2, ["a", "a", "a", "b", "a", "b"], ["a"] * 6)
    interval = beta_interval(gold.n_correct, gold.n_answers)
    assert np.allclose(interval.mean, gold.posterior_mean)
    assert np.allclose(interval.lower, gold.lower)
    assert np.allclose(interval.upper, gold.upper)
    # 3 of 4 accepted: Beta(4, 2), mean 2/3, 95% interval about 0.28 to 0.95.
    three_of_four = beta_interval([3], [4])
    assert round(float(three_of_four.lower[0]), 2) == 0.28
    assert round(float(three_of_four.upper[0]), 2) == 0.95


def test_beta_interval_refuses_more_successes_than_trials() -> None:
    from expertloop.quality.workers import beta_interval

    with pytest.raises(QualityInputError):
        beta_interval([3], [2])
