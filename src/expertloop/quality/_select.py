"""The rule behind ``aggregate(method="auto")``: pick the model that best predicts held-out answers.

Each candidate model is fitted ``n_folds`` times, each time without one fold of the answers,
and scored by the mean log-probability it gives to the answers it did not see,
``log sum_k p(z_i = k | other answers) P(l | z = k, worker)``. This is a cross-validated
estimate of the model's predictive likelihood; it needs no gold, and it penalises both a
model too rigid for the workers (one accuracy per worker when workers are biased) and one too
flexible for the amount of data (full confusion matrices from a handful of answers).
Folds are drawn per item, so every item keeps most of its answers in each training set.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from expertloop.quality._agg_common import FloatArray, IntArray, Observations
from expertloop.quality._common import ConvergenceError
from expertloop.quality._ds import fit_dawid_skene, fit_one_coin, one_coin_confusion
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
}

Fitter = Callable[[Observations], tuple[FloatArray, FloatArray]]


def _ds(obs: Observations) -> tuple[FloatArray, FloatArray]:
    fit = fit_dawid_skene(obs, max_iter=1000, tol=1e-6, strength=0.3, pseudo=1.0)
    return fit.posteriors, fit.confusion


def _one_coin(obs: Observations) -> tuple[FloatArray, FloatArray]:
    fit = fit_one_coin(obs, max_iter=1000, tol=1e-6, strength=2.0, pseudo=1.0)
    return fit.posteriors, one_coin_confusion(fit.accuracy, obs.n_classes)


def _mace(obs: Observations, fit_prior: bool = False) -> tuple[FloatArray, FloatArray]:
    fit = fit_mace(
        obs,
        max_iter=1000,
        tol=1e-6,
        trust_prior=(0.5, 0.5),
        spam_prior=1.0,
        fit_prior=fit_prior,
    )
    return fit.posteriors, fit.confusion


def _mace_fitted_prior(obs: Observations) -> tuple[FloatArray, FloatArray]:
    return _mace(obs, fit_prior=True)


_FITTERS: dict[str, Fitter] = {
    "dawid_skene": _ds,
    "mace": _mace,
    "mace_fitted_prior": _mace_fitted_prior,
    "one_coin_dawid_skene": _one_coin,
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


def held_out_log_likelihood(
    obs: Observations, fitter: Fitter, fold: IntArray, n_folds: int
) -> float:
    """Mean log-probability of each answer under the model fitted without its fold."""
    total = 0.0
    for f in range(n_folds):
        test = fold == f
        if not test.any():
            continue
        posteriors, confusion = fitter(obs.subset(~test))
        w, i, label = obs.w[test], obs.i[test], obs.l[test]
        p = np.einsum("nk,nk->n", posteriors[i], confusion[w, :, label])
        total += float(np.log(np.maximum(p, 1e-300)).sum())
    return total / len(obs.w)


def choose_method(
    obs: Observations, *, n_folds: int = 5, seed: int | np.random.Generator = 0
) -> tuple[str, dict[str, float]]:
    """Return the chosen candidate and the held-out log-likelihood of each candidate.

    The candidate's public aggregator and options are ``CANDIDATES[name]``.
    """
    if obs.n_classes < 2 or len(obs.w) / obs.n_items < MIN_ANSWERS_PER_ITEM:
        return "majority_vote", {}
    rng = np.random.default_rng(seed)
    fold = fold_of_answers(obs, n_folds, rng)
    scores: dict[str, float] = {}
    for name in CANDIDATES:
        try:
            scores[name] = held_out_log_likelihood(obs, _FITTERS[name], fold, n_folds)
        except ConvergenceError:
            continue
    if not scores:
        return "majority_vote", scores
    # Ties go to the earlier candidate in CANDIDATES order.
    order = list(CANDIDATES)
    best = max(scores, key=lambda k: (scores[k], -order.index(k)))
    return best, scores
