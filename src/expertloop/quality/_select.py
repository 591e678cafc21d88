"""The rule behind ``aggregate(method="auto")``: the model that best predicts held-out answers.

Each candidate model is fitted ``n_folds`` times, each time without one fold of the answers,
and scored by the share of held-out answers that equal its estimated label of the item
(the argmax of ``p(z_i | training answers)``). Held-out answers are noisy labels of the
truth: if a worker gives the true class with probability ``a_w > 1/K`` and otherwise spreads
errors evenly, then ``P(answer = estimate) = (1 - a_w)/(K - 1) + (a_w - (1 - a_w)/(K - 1))
P(estimate = truth)``, an increasing affine function of the estimate's accuracy. So the
held-out agreement ranks candidates by their (unknown) accuracy without gold, whatever the
candidates' worker models are; unlike the held-out likelihood of the answers, it does not
reward a model for describing the workers' label habits (their answer marginals), which
says nothing about how well it recovers the truth.
Folds are drawn per item, so every item keeps most of its answers in each training set.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from expertloop.quality._agg_common import FloatArray, IntArray, Observations, pick_labels
from expertloop.quality._common import ConvergenceError
from expertloop.quality._ds import fit_dawid_skene, fit_one_coin
from expertloop.quality._glad import fit_glad
from expertloop.quality._mace import fit_mace

# Below this many answers per item on average, or with one class, there is too little overlap
# between workers to estimate their reliability: the majority vote is the answer.
MIN_ANSWERS_PER_ITEM = 2.0
# name -> (public aggregator, its options); the fitters below mirror those defaults.
CANDIDATES: dict[str, tuple[str, dict[str, object]]] = {
    "dawid_skene": ("dawid_skene", {}),
    "mace": ("mace", {}),
    "mace_fitted_prior": ("mace", {"fit_prior": True}),
    "one_coin_dawid_skene": ("one_coin_dawid_skene", {}),
    "glad": ("glad", {}),
}

# Each fitter returns the posteriors of the true classes, ``(n_items, n_classes)``.
Fitter = Callable[[Observations], FloatArray]


def _ds(obs: Observations) -> FloatArray:
    return fit_dawid_skene(obs, max_iter=1000, tol=1e-6, strength=0.3, pseudo=1.0).posteriors


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
    "mace": _mace,
    "mace_fitted_prior": _mace_fitted_prior,
    "one_coin_dawid_skene": _one_coin,
    "glad": _glad,
}


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


def held_out_agreement(obs: Observations, fitter: Fitter, fold: IntArray, n_folds: int) -> float:
    """Share of answers equal to the item's label estimated by the model fitted without them."""
    hits = 0
    for f in range(n_folds):
        test = fold == f
        if not test.any():
            continue
        posteriors = fitter(obs.subset(~test))
        hits += int(np.count_nonzero(pick_labels(posteriors)[obs.i[test]] == obs.l[test]))
    return hits / len(obs.w)


def choose_method(
    obs: Observations, *, n_folds: int = 5, seed: int | np.random.Generator = 0
) -> tuple[str, dict[str, float]]:
    """Return the chosen candidate and the held-out agreement of each candidate.

    The candidate's public aggregator and options are ``CANDIDATES[name]``.
    """
    if obs.n_classes < 2 or len(obs.w) / obs.n_items < MIN_ANSWERS_PER_ITEM:
        return "majority_vote", {}
    rng = np.random.default_rng(seed)
    fold = fold_of_answers(obs, n_folds, rng)
    scores: dict[str, float] = {}
    for name in CANDIDATES:
        try:
            scores[name] = held_out_agreement(obs, _FITTERS[name], fold, n_folds)
        except ConvergenceError:
            continue
    if not scores:
        return "majority_vote", scores
    # Ties go to the earlier candidate in CANDIDATES order.
    order = list(CANDIDATES)
    best = max(scores, key=lambda k: (scores[k], -order.index(k)))
    return best, scores
