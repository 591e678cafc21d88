"""Dawid-Skene truth inference: the full confusion-matrix model and its one-coin variant."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from expertloop.quality._agg_common import (
    FloatArray,
    Observations,
    class_prior,
    log_likelihood_change,
    majority_posteriors,
    normalise_log_rows,
    not_converged,
)

# Default weight of the prior on each worker's confusion matrix, in pseudo-answers per cell
# (each row gets ``K`` times this). Any value in 0.5..1 gives the same mean accuracy on the
# benchmark datasets (bench/quality.py); 0.5 is Jeffreys' weight for a K-cell multinomial.
DS_PRIOR_STRENGTH = 0.5
# MACE's priors (Hovy et al. 2013) on the trust and label habits that centre that prior.
TRUST_PRIOR = (0.5, 0.5)
HABIT_PRIOR = 1.0


@dataclass(frozen=True)
class DSFit:
    posteriors: FloatArray
    prior: FloatArray
    confusion: FloatArray
    n_iter: int
    log_likelihood: float


def confusion_counts(obs: Observations, posteriors: FloatArray) -> FloatArray:
    """Expected counts ``C[w, k, l]``: answers ``l`` of worker ``w`` on items of class ``k``."""
    k = obs.n_classes
    # The transpose of the item-major matrix is a CSC view: its product walks the items in
    # order and scatters into the small (W*K, K) result, which stays in cache.
    flat = obs.item_by_worker_label.T @ posteriors  # (W*K_label, K_true)
    return np.ascontiguousarray(flat.reshape(obs.n_workers, k, k).transpose(0, 2, 1))


def trust_confusion(trust: FloatArray, habits: FloatArray) -> FloatArray:
    """MACE's confusion matrices: ``P(l | k) = trust [l = k] + (1 - trust) habits[l]``."""
    k = habits.shape[1]
    conf = np.repeat(((1 - trust)[:, None] * habits)[:, None, :], k, axis=1)
    idx = np.arange(k)
    conf[:, idx, idx] += trust[:, None]
    return conf


def trust_and_habits(
    counts: FloatArray,
    trust: FloatArray,
    habits: FloatArray,
    trust_prior: tuple[float, float] = TRUST_PRIOR,
    habit_prior: float = HABIT_PRIOR,
) -> tuple[FloatArray, FloatArray]:
    """One EM step of MACE's worker parameters, from expected confusion counts.

    An answer ``l`` is honest (not drawn from the worker's habits) with probability
    ``P(z = l) * t / (t + (1 - t) h[l])``; the factor depends only on the worker and the label,
    so summed over a worker's answers ``l`` it multiplies ``C[w, l, l]``. The answer counts
    ``n[w, l]`` are ``C[w, :, l]`` summed over the true class. Posterior means under a
    ``Beta(trust_prior)`` and a symmetric ``Dirichlet(habit_prior)``.
    """
    diag = np.einsum("wkk->wk", counts)
    answered = counts.sum(axis=1)
    share = trust[:, None] / (trust[:, None] + (1 - trust)[:, None] * habits)
    honest = share * diag
    a, b = trust_prior
    new_trust = (honest.sum(axis=1) + a) / (answered.sum(axis=1) + a + b)
    spam = np.maximum(answered - honest, 0.0) + habit_prior
    return new_trust, spam / spam.sum(axis=1, keepdims=True)


def structured_confusion(
    counts: FloatArray, trust: FloatArray, habits: FloatArray, strength: float
) -> FloatArray:
    """Posterior-mean confusion matrices, each shrunk toward its worker's MACE matrix.

    Row ``k`` of worker ``w`` gets ``strength * K`` pseudo-answers distributed like
    ``trust_w [l = k] + (1 - trust_w) habits_w[l]``: the two-parameter summary of the same
    worker (how often it is right, which labels it gives when it is not). Where a worker has
    few answers (a rare class, a new worker) the estimate falls back on that summary rather
    than on noise; where it has many, its own counts win. No probability is ever 0.
    """
    k = counts.shape[1]
    num = counts + (strength * k) * trust_confusion(trust, habits)
    return num / num.sum(axis=2, keepdims=True)


def ds_log_posteriors(obs: Observations, log_conf: FloatArray, log_prior: FloatArray) -> FloatArray:
    """Unnormalised ``log p(z_i = k | answers)`` as one sparse product."""
    k = obs.n_classes
    by_label = log_conf.transpose(0, 2, 1).reshape(obs.n_workers * k, k)
    out = np.asarray(obs.item_by_worker_label @ by_label)
    out += log_prior[None, :]
    return out


def fit_dawid_skene(
    obs: Observations,
    *,
    max_iter: int,
    tol: float,
    strength: float = DS_PRIOR_STRENGTH,
    pseudo: float = 1.0,
    init: FloatArray | None = None,
) -> DSFit:
    """EM for Dawid-Skene with each worker's matrix shrunk toward its MACE summary.

    Each iteration: expected counts from the posteriors; one MACE step for every worker's
    trust and habits (the centre of its prior); the posterior-mean confusion matrices and
    class prior; then the posteriors (E-step, log space).
    """
    post = majority_posteriors(obs) if init is None else init
    k = obs.n_classes
    trust = np.full(obs.n_workers, 0.5)
    habits = np.full((obs.n_workers, k), 1.0 / k)
    delta = np.inf
    log_lik = -np.inf
    for it in range(1, max_iter + 1):
        counts = confusion_counts(obs, post)
        trust, habits = trust_and_habits(counts, trust, habits)
        conf = structured_confusion(counts, trust, habits, strength)
        prior = class_prior(post, pseudo)
        log_post = ds_log_posteriors(obs, np.log(conf), np.log(prior))
        new, log_norm = normalise_log_rows(log_post)
        previous, log_lik = log_lik, float(log_norm.sum())
        obs.clamp_gold(new)
        delta = log_likelihood_change(previous, log_lik, len(obs.w))
        post = new
        if delta < tol:
            return DSFit(post, prior, conf, it, log_lik)
    raise not_converged("dawid_skene", max_iter, delta, tol)


@dataclass(frozen=True)
class OneCoinFit:
    posteriors: FloatArray
    prior: FloatArray
    accuracy: FloatArray
    n_iter: int
    log_likelihood: float


def one_coin_log_posteriors(
    obs: Observations, accuracy: FloatArray, log_prior: FloatArray
) -> FloatArray:
    k = obs.n_classes
    log_right = np.log(accuracy)
    log_wrong = np.log1p(-accuracy) - np.log(k - 1)
    base = np.bincount(obs.i, weights=log_wrong[obs.w], minlength=obs.n_items)
    bonus = np.bincount(
        obs.i * k + obs.l, weights=(log_right - log_wrong)[obs.w], minlength=obs.n_items * k
    ).reshape(obs.n_items, k)
    return bonus + base[:, None] + log_prior[None, :]


def one_coin_accuracy(
    obs: Observations, posteriors: FloatArray, strength: float, pseudo: float
) -> FloatArray:
    """Beta-smoothed accuracy per worker, shrunk toward the population's accuracy (an
    infinite ``strength``: every worker has the population's accuracy)."""
    hit = np.bincount(obs.w, weights=posteriors[obs.i, obs.l], minlength=obs.n_workers)
    n = obs.answers_per_worker
    pop = (hit.sum() + pseudo) / (n.sum() + 2 * pseudo)
    if np.isinf(strength):
        return np.full(obs.n_workers, np.clip(pop, 1e-6, 1 - 1e-6))
    acc = (hit + strength * pop) / (n + strength)
    # Keep away from 0 and 1 so that the logs stay finite.
    return np.clip(acc, 1e-6, 1 - 1e-6)


def fit_one_coin(
    obs: Observations, *, max_iter: int, tol: float, strength: float, pseudo: float
) -> OneCoinFit:
    post = majority_posteriors(obs)
    delta = np.inf
    log_lik = -np.inf
    for it in range(1, max_iter + 1):
        acc = one_coin_accuracy(obs, post, strength, pseudo)
        prior = class_prior(post, pseudo)
        log_post = one_coin_log_posteriors(obs, acc, np.log(prior))
        new, log_norm = normalise_log_rows(log_post)
        previous, log_lik = log_lik, float(log_norm.sum())
        obs.clamp_gold(new)
        delta = log_likelihood_change(previous, log_lik, len(obs.w))
        post = new
        if delta < tol:
            return OneCoinFit(post, prior, acc, it, log_lik)
    raise not_converged("one_coin_dawid_skene", max_iter, delta, tol)


def one_coin_confusion(accuracy: FloatArray, k: int) -> FloatArray:
    off = (1 - accuracy) / (k - 1)
    conf = np.broadcast_to(off[:, None, None], (len(accuracy), k, k)).copy()
    idx = np.arange(k)
    conf[:, idx, idx] = accuracy[:, None]
    return conf
