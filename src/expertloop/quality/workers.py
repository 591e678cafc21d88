"""Worker quality: gold accuracy, agreement with consensus, spammer score, position bias.

All per-worker results list workers sorted, with numpy arrays in that order.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

# scipy.special, not scipy.stats: the same functions (beta.ppf is betaincinv, binom.cdf and
# .sf are bdtr and bdtrc) without the ~35 MB that importing scipy.stats adds to a process.
from scipy.special import bdtr, bdtrc, betaincinv

from expertloop.quality._common import QualityInputError, as_1d, check_same_length, encode

__all__ = [
    "BetaInterval",
    "ConsensusAgreement",
    "GoldAccuracy",
    "PositionBias",
    "beta_interval",
    "consensus_agreement",
    "gold_accuracy",
    "position_bias",
    "spammer_score",
]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.intp]


@dataclass(frozen=True, eq=False)
class GoldAccuracy:
    """Per-worker accuracy on gold questions, shrunk by a Beta prior.

    Attributes:
        worker_ids: the distinct workers, sorted.
        n_answers, n_correct: gold answers and correct ones per worker.
        raw_accuracy: ``n_correct / n_answers``.
        posterior_mean: ``(n_correct + a) / (n_answers + a + b)``.
        lower, upper: equal-tailed credible interval of the Beta posterior.
    """

    worker_ids: NDArray[Any]
    n_answers: IntArray
    n_correct: IntArray
    raw_accuracy: FloatArray
    posterior_mean: FloatArray
    lower: FloatArray
    upper: FloatArray


@dataclass(frozen=True, eq=False)
class ConsensusAgreement:
    """Per-worker agreement with a consensus.

    Attributes:
        worker_ids: workers with at least one answer on an item that has a consensus.
        n_answers: such answers per worker.
        n_agree: those equal to the consensus.
        share: ``n_agree / n_answers``.
    """

    worker_ids: NDArray[Any]
    n_answers: IntArray
    n_agree: IntArray
    share: FloatArray


@dataclass(frozen=True, eq=False)
class PositionBias:
    """Per-worker preference for the side shown first.

    Attributes:
        worker_ids: the distinct workers, sorted.
        n_decisive: answers that picked a side (ties are left out).
        n_first: of those, answers that picked the side shown first.
        share_first: ``n_first / n_decisive`` (NaN without decisive answers).
        p_value: two-sided exact binomial test of ``share_first = 0.5`` (1.0 without
            decisive answers).
    """

    worker_ids: NDArray[Any]
    n_decisive: IntArray
    n_first: IntArray
    share_first: FloatArray
    p_value: FloatArray


def gold_accuracy(
    workers: Iterable[Any],
    answers: Iterable[Any],
    truths: Iterable[Any],
    *,
    prior: tuple[float, float] = (1.0, 1.0),
    credible_mass: float = 0.95,
) -> GoldAccuracy:
    """Accuracy on gold questions with Bayesian shrinkage.

    Model: worker ``k`` is right with probability ``q_k`` on each gold question, with prior
    ``q_k ~ Beta(a, b)`` (``prior``); the posterior is ``Beta(a + correct, b + wrong)``
    (the Beta-binomial model, e.g. Gelman et al., "Bayesian Data Analysis", ch. 2). A worker
    with 2 of 2 right gets posterior mean 0.75 under the uniform prior, not 1.0, and a wide
    interval. ``answers[k]`` and ``truths[k]`` are one gold answer and its true label.

    Example:
        >>> r = gold_accuracy(["u", "u"], ["a", "b"], ["a", "b"])
        >>> float(r.posterior_mean[0])
        0.75
    """
    _check_prior(prior, credible_mass)
    wk = as_1d(workers, "workers")
    an = as_1d(answers, "answers")
    tr = as_1d(truths, "truths")
    check_same_length(workers=wk, answers=an, truths=tr)
    codes, ids = encode(wk)
    correct = np.asarray(an == tr, dtype=float).reshape(-1)
    n = np.bincount(codes, minlength=len(ids))
    k = np.bincount(codes, correct, len(ids)).round().astype(np.intp)
    interval = beta_interval(k, n, prior=prior, credible_mass=credible_mass)
    return GoldAccuracy(
        worker_ids=ids,
        n_answers=n.astype(np.intp),
        n_correct=k,
        raw_accuracy=k / n,
        posterior_mean=interval.mean,
        lower=interval.lower,
        upper=interval.upper,
    )


def _check_prior(prior: tuple[float, float], credible_mass: float) -> None:
    a, b = prior
    if not (a > 0 and b > 0):
        raise QualityInputError("prior must be two positive numbers (Beta a, b)")
    if not 0 < credible_mass < 1:
        raise QualityInputError("credible_mass must be in (0, 1)")


@dataclass(frozen=True, eq=False)
class BetaInterval:
    """The Beta posterior of a rate from counts: its mean and equal-tailed credible
    interval, one entry per count."""

    mean: FloatArray
    lower: FloatArray
    upper: FloatArray


def beta_interval(
    successes: ArrayLike,
    trials: ArrayLike,
    *,
    prior: tuple[float, float] = (1.0, 1.0),
    credible_mass: float = 0.95,
) -> BetaInterval:
    """A rate's posterior from ``successes`` out of ``trials`` (arrays of counts): the
    Beta-binomial model of :func:`gold_accuracy`, ``Beta(a + k, b + n - k)``, for any rate
    counted elsewhere (answers a reviewer accepted, gold answers right).

    Example:
        >>> r = beta_interval([2], [2])
        >>> float(r.mean[0])
        0.75
    """
    _check_prior(prior, credible_mass)
    k = np.asarray(successes, dtype=float).reshape(-1)
    n = np.asarray(trials, dtype=float).reshape(-1)
    if k.shape != n.shape:
        raise QualityInputError("successes and trials must have the same length")
    if np.any(k < 0) or np.any(k > n):
        raise QualityInputError("successes must be between 0 and trials")
    a, b = prior
    tail = (1 - credible_mass) / 2
    post_a, post_b = a + k, b + n - k
    return BetaInterval(
        mean=post_a / (post_a + post_b),
        lower=np.asarray(betaincinv(post_a, post_b, tail), dtype=float),
        upper=np.asarray(betaincinv(post_a, post_b, 1 - tail), dtype=float),
    )


def consensus_agreement(
    workers: Iterable[Any],
    items: Iterable[Any],
    answers: Iterable[Any],
    consensus: Mapping[Hashable, Hashable],
) -> ConsensusAgreement:
    """Per worker, the share of answers equal to the consensus of their item.

    ``consensus`` maps an item to its consensus label (e.g. built from an aggregation
    result as ``dict(zip(result.item_ids, result.labels))``). Answers on items without a
    consensus are ignored. The worker's own answer is part of the consensus it is compared
    with, which flatters workers on items with few answers; use a leave-one-out consensus
    when that matters.

    Example:
        >>> r = consensus_agreement(["u", "u", "v"], [1, 2, 1], ["a", "b", "b"], {1: "a", 2: "b"})
        >>> r.share.tolist()
        [1.0, 0.0]
    """
    wk = as_1d(workers, "workers")
    it = as_1d(items, "items")
    an = as_1d(answers, "answers")
    check_same_length(workers=wk, items=it, answers=an)
    missing = object()
    expected = [consensus.get(i, missing) for i in it.tolist()]
    has = np.fromiter((e is not missing for e in expected), dtype=bool, count=len(expected))
    if not has.any():
        raise QualityInputError("no answer is on an item that has a consensus")
    agree = np.fromiter(
        (e is not missing and e == x for e, x in zip(expected, an.tolist(), strict=True)),
        dtype=bool,
        count=len(expected),
    )
    codes, ids = encode(wk[has])
    n = np.bincount(codes, minlength=len(ids)).astype(np.intp)
    k = np.bincount(codes, agree[has].astype(float), len(ids)).round().astype(np.intp)
    return ConsensusAgreement(worker_ids=ids, n_answers=n, n_agree=k, share=k / n)


def spammer_score(confusion: ArrayLike) -> FloatArray:
    """Raykar & Yu's spammer score of each worker's confusion matrix.

    Raykar & Yu (2011), "Ranking annotators for crowdsourcing labeling tasks" (NIPS). A
    spammer answers independently of the truth, so all rows of its confusion matrix ``A``
    (rows = true class, each row a distribution over given labels) are equal: ``A`` has rank
    one. The score is the mean squared distance between rows,
    ``S = sum_{c < c'} ||A_c - A_c'||^2 / (K (K - 1))``: 0 for a spammer (whatever its
    labels), 1 for a perfect worker, and ``(sensitivity + specificity - 1)^2`` for two
    classes. An adversarial worker who always gives the wrong class also scores high, since
    its answers are informative. Takes ``(n_workers, K, K)`` (e.g.
    ``AggregationResult.worker_confusion``) or one ``(K, K)`` matrix; rows are normalised
    to sum to 1, so counts work too.

    Example:
        >>> spammer_score([[[0.9, 0.1], [0.2, 0.8]], [[0.5, 0.5], [0.5, 0.5]]]).round(2)
        array([0.49, 0.  ])
    """
    arr = np.asarray(confusion, dtype=float)
    single = arr.ndim == 2
    if single:
        arr = arr[None]
    if arr.ndim != 3 or arr.shape[1] != arr.shape[2] or arr.shape[1] < 2:
        raise QualityInputError(
            f"confusion must be (K, K) or (n_workers, K, K) with K >= 2, got {arr.shape}"
        )
    if np.any(arr < 0) or not np.all(np.isfinite(arr)):
        raise QualityInputError("confusion matrices must hold finite non-negative numbers")
    sums = arr.sum(axis=2, keepdims=True)
    if np.any(sums <= 0):
        raise QualityInputError("every row of a confusion matrix needs a positive sum")
    rows = arr / sums
    k = arr.shape[1]
    # sum_{c<c'} ||A_c - A_c'||^2 = K sum_c ||A_c||^2 - ||sum_c A_c||^2
    total = k * (rows**2).sum(axis=(1, 2)) - (rows.sum(axis=1) ** 2).sum(axis=1)
    return np.asarray(np.clip(total / (k * (k - 1)), 0.0, 1.0), dtype=np.float64)


def position_bias(
    workers: Iterable[Any],
    choices: Iterable[Any],
    first_shown: Iterable[Any],
    *,
    tie: Hashable = "tie",
) -> PositionBias:
    """Does a worker favour the side shown first? Share of first-side picks and a test.

    For pairwise work where the two sides (e.g. "A" and "B") are shown in a random order,
    ``choices[k]`` is the side picked (or ``tie``) and ``first_shown[k]`` the side shown
    first. For an unbiased worker the number of first-side picks among ``n`` decisive
    answers is ``Binomial(n, 1/2)``; the p-value is the exact two-sided binomial test
    (twice the smaller tail, capped at 1). Ties are left out. With many workers, correct
    the p-values for multiple testing before flagging anyone.

    Example:
        >>> r = position_bias(["u"] * 4, ["A", "B", "A", "tie"], ["A", "B", "A", "B"])
        >>> int(r.n_first[0]), float(r.p_value[0])
        (3, 0.25)
    """
    wk = as_1d(workers, "workers")
    ch = as_1d(choices, "choices")
    fs = as_1d(first_shown, "first_shown")
    check_same_length(workers=wk, choices=ch, first_shown=fs)
    codes, ids = encode(wk)
    is_tie = np.asarray(ch == tie, dtype=bool).reshape(-1)
    picked_first = np.asarray(ch == fs, dtype=bool).reshape(-1) & ~is_tie
    n = np.bincount(codes, (~is_tie).astype(float), len(ids)).round().astype(np.intp)
    k = np.bincount(codes, picked_first.astype(float), len(ids)).round().astype(np.intp)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(n > 0, k / np.maximum(n, 1), np.nan)
    lower = bdtr(k, n, 0.5)  # P(K <= k)
    upper = bdtrc(k - 1, n, 0.5)  # P(K >= k)
    p = np.where(n > 0, np.minimum(1.0, 2.0 * np.minimum(lower, upper)), 1.0)
    return PositionBias(
        worker_ids=ids, n_decisive=n, n_first=k, share_first=share, p_value=np.asarray(p, float)
    )
