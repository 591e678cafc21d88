"""The rule behind ``aggregate(method="auto")``: MACE with a fitted class prior unless the
data say otherwise.

Every candidate model is scored by repeated K-fold *held-out agreement*: answers are split
into folds within each item, the model is fitted without one fold, and an answer scores 1
when it equals the label the model estimates for its item. Held-out answers are noisy labels
of the truth: if a worker gives the true class with probability ``a_w > 1/K`` and otherwise
spreads errors evenly, then ``P(answer = estimate) = (1 - a_w)/(K - 1) + (a_w - (1 - a_w)/(K -
1)) P(estimate = truth)``, an increasing affine function of the estimate's accuracy. Real
workers do not spread errors evenly, so the score also rewards estimates that lean toward the
labels workers over-use; its differences are small and noisy. Hence the rule does not simply
take the best score:

1. The folds are drawn ``n_repeats`` times and each answer's hits are averaged.
2. The best candidate's lead over another one gets a standard error, from the paired
   differences of their hits summed per item (items are the independent units).
3. The candidates within ``z`` standard errors of the best are the ones the data cannot tell
   apart from it (a "one-standard-error rule", here two). If the default model is among them,
   it is the answer. Otherwise the posteriors of the candidates in that set that scored above
   the default are averaged.

The default is MACE with a fitted class prior (``mace_fitted_prior``): each worker is right
with its own probability and otherwise answers from its own label habits, so it represents
workers whose errors lean one way (strict and lenient judges, workers who miss a rare class)
with ``K`` parameters per worker, where Dawid-Skene needs ``K (K - 1)``. It was chosen over
Dawid-Skene, and ``z`` and the candidate set were kept, by how the rule generalises, not by
its score on any one collection: on simulated crowds with known truth
(:mod:`expertloop.quality.simulation`, seven regimes) and, leave-one-dataset-out, on real
data (``bench/quality.py`` prints both). With four crowds per regime, Dawid-Skene as a fixed
choice fell below majority vote on 13 of 28 (many weak workers, few answers per item, strict
and lenient judges) and MACE with a fitted prior on 5; with Dawid-Skene as the default the
rule fell far below majority vote (7.5 points at worst) where strict and lenient workers err in
opposite directions, the pattern in which the previous rule failed on unseen data.

Folds are drawn per item, so every item keeps most of its answers in each training set.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from expertloop.quality._agg_common import FloatArray, IntArray, Observations, pick_labels
from expertloop.quality._common import ConvergenceError
from expertloop.quality._ds import fit_dawid_skene, fit_one_coin
from expertloop.quality._glad import fit_glad
from expertloop.quality._mace import fit_mace

# Below this many answers per item on average, or with one class, there is too little overlap
# between workers to estimate their reliability: the majority vote is the answer.
MIN_ANSWERS_PER_ITEM = 2.0
N_FOLDS = 5
N_REPEATS = 3
# How many standard errors behind the best score a candidate may be and still count as
# indistinguishable from it.
Z = 2.0
# name -> (public aggregator, its options); the fitters below mirror those defaults.
CANDIDATES: dict[str, tuple[str, dict[str, object]]] = {
    "dawid_skene": ("dawid_skene", {}),
    "one_coin_dawid_skene": ("one_coin_dawid_skene", {}),
    "glad": ("glad", {}),
    "mace": ("mace", {}),
    "mace_fitted_prior": ("mace", {"fit_prior": True}),
}
DEFAULT = "mace_fitted_prior"

# Each fitter returns the posteriors of the true classes, ``(n_items, n_classes)``.
Fitter = Callable[[Observations], FloatArray]


def _ds(obs: Observations) -> FloatArray:
    return fit_dawid_skene(obs, max_iter=1000, tol=1e-6).posteriors


def _one_coin(obs: Observations) -> FloatArray:
    return fit_one_coin(obs, max_iter=1000, tol=1e-6, strength=2.0, pseudo=1.0).posteriors


def _glad(obs: Observations) -> FloatArray:
    fit = fit_glad(obs, max_iter=500, tol=1e-6, alpha_prior=(1.0, 1.0), log_beta_prior=(0.0, 1.0))
    return fit.posteriors


def _mace(obs: Observations, fit_prior: bool = False) -> FloatArray:
    fit = fit_mace(
        obs,
        max_iter=1000,
        tol=1e-6,
        trust_prior=(0.5, 0.5),
        spam_prior=1.0,
        fit_prior=fit_prior,
    )
    return fit.posteriors


def _mace_fitted_prior(obs: Observations) -> FloatArray:
    return _mace(obs, fit_prior=True)


_FITTERS: dict[str, Fitter] = {
    "dawid_skene": _ds,
    "one_coin_dawid_skene": _one_coin,
    "glad": _glad,
    "mace": _mace,
    "mace_fitted_prior": _mace_fitted_prior,
}


@dataclass(frozen=True)
class Selection:
    """What the ``auto`` rule concluded.

    Attributes:
        chosen: the candidates to use: one name, or several whose posteriors are averaged.
        agreement: each candidate's mean held-out agreement (share of held-out answers equal
            to the estimated label of their item).
        standard_error: each candidate's standard error of its score's difference to the best
            (0 for the best).
    """

    chosen: tuple[str, ...]
    agreement: dict[str, float]
    standard_error: dict[str, float]


def fold_of_answers(obs: Observations, n_folds: int, rng: np.random.Generator) -> IntArray:
    """Assign answers to folds round-robin within each item, from a random offset per item.

    Answers are first put in a canonical order (item, worker, label), so the folds do not
    depend on the order of the input.
    """
    order = np.lexsort((obs.l, obs.w, obs.i))
    item_sorted = obs.i[order]
    starts = np.flatnonzero(np.r_[True, item_sorted[1:] != item_sorted[:-1]])
    sizes = np.diff(np.r_[starts, len(order)])
    rank = np.arange(len(order)) - np.repeat(starts, sizes)
    offset = rng.integers(0, n_folds, obs.n_items)
    fold = np.empty(len(order), dtype=np.intp)
    fold[order] = (rank + offset[item_sorted]) % n_folds
    return fold


def held_out_hits(
    obs: Observations, fitters: dict[str, Fitter], fold: IntArray, n_folds: int
) -> dict[str, FloatArray]:
    """Per candidate and answer: 1 if the answer equals its item's label estimated by the
    candidate fitted without the answer's fold. A candidate that fails to converge on some
    training set is left out."""
    hits = {name: np.zeros(len(obs.w)) for name in fitters}
    for f in range(n_folds):
        test = fold == f
        if not test.any():
            continue
        train = obs.subset(~test)  # its sparse matrices are built once, for every candidate
        for name in list(hits):
            try:
                posteriors = fitters[name](train)
            except ConvergenceError:
                del hits[name]
                continue
            hits[name][test] = pick_labels(posteriors)[obs.i[test]] == obs.l[test]
    return hits


def paired_standard_error(obs: Observations, a: FloatArray, b: FloatArray) -> float:
    """Standard error of ``mean(a) - mean(b)`` over answers, with items as the sampled units."""
    per_item = np.bincount(obs.i, weights=a - b, minlength=obs.n_items)
    if obs.n_items < 2:
        return 0.0
    return float(np.sqrt(obs.n_items) * per_item.std(ddof=1) / len(obs.w))


def held_out_agreement(
    obs: Observations,
    *,
    n_folds: int = N_FOLDS,
    n_repeats: int = N_REPEATS,
    seed: int | np.random.Generator = 0,
) -> dict[str, FloatArray]:
    """Per candidate and answer, its hits averaged over ``n_repeats`` draws of the folds.

    A candidate that fails to converge on some training set is left out.
    """
    rng = np.random.default_rng(seed)
    fitters = dict(_FITTERS)
    totals = {name: np.zeros(len(obs.w)) for name in fitters}
    for _ in range(n_repeats):
        fold = fold_of_answers(obs, n_folds, rng)
        repeat = held_out_hits(obs, fitters, fold, n_folds)
        fitters = {name: fitters[name] for name in repeat}
        for name, h in repeat.items():
            totals[name] += h
    return {name: totals[name] / n_repeats for name in fitters}


def select(
    obs: Observations,
    hits: dict[str, FloatArray],
    *,
    z: float = Z,
    default: str = DEFAULT,
) -> Selection:
    """Steps 2 and 3 of the rule, on the held-out hits of :func:`held_out_agreement`."""
    if not hits:
        return Selection(("majority_vote",), {}, {})
    agreement = {name: float(h.mean()) for name, h in hits.items()}
    order = list(_FITTERS)
    # Ties go to the earlier candidate in CANDIDATES order.
    best = max(agreement, key=lambda k: (agreement[k], -order.index(k)))
    se = {name: paired_standard_error(obs, hits[best], h) for name, h in hits.items()}
    close = [name for name in hits if agreement[best] - agreement[name] <= z * se[name] + 1e-12]
    if default in close:
        return Selection((default,), agreement, se)
    # Only the models that scored above the default may replace it: a model that trails it
    # can still be "close" to the best when its estimates differ a lot (a large standard
    # error), e.g. with its classes swapped.
    floor = agreement.get(default, -np.inf)
    chosen = tuple(name for name in close if agreement[name] > floor)
    return Selection(chosen, agreement, se)


def choose_models(
    obs: Observations,
    *,
    n_folds: int = N_FOLDS,
    n_repeats: int = N_REPEATS,
    z: float = Z,
    default: str = DEFAULT,
    seed: int | np.random.Generator = 0,
) -> Selection:
    """Apply the ``auto`` rule of this module's docstring to ``obs``.

    The candidate's public aggregator and options are ``CANDIDATES[name]``; a candidate whose
    fit does not converge on some training set is left out. ``("majority_vote",)`` when
    workers overlap too little, or when no candidate converged.
    """
    if obs.n_classes < 2 or len(obs.w) / obs.n_items < MIN_ANSWERS_PER_ITEM:
        return Selection(("majority_vote",), {}, {})
    hits = held_out_agreement(obs, n_folds=n_folds, n_repeats=n_repeats, seed=seed)
    return select(obs, hits, z=z, default=default)
