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
    flat = obs.worker_label_by_item @ posteriors  # (W*K_label, K_true)
    return np.ascontiguousarray(flat.reshape(obs.n_workers, k, k).transpose(0, 2, 1))


def shrunk_confusion(counts: FloatArray, strength: float, pseudo: float) -> FloatArray:
    """Posterior-mean confusion matrices under a hierarchical Dirichlet prior.

    The population matrix pools every worker's counts (plus ``pseudo`` per cell); each worker's
    row ``k`` then gets ``strength`` pseudo-answers distributed like the population's row ``k``.
    A worker with a handful of answers thus inherits the population's behaviour instead of a
    noisy (or degenerate, all-zero) matrix of its own.
    """
    pop = counts.sum(axis=0) + pseudo
    pop /= pop.sum(axis=1, keepdims=True)
    num = counts + strength * pop[None, :, :]
    return num / num.sum(axis=2, keepdims=True)


def ds_log_posteriors(obs: Observations, log_conf: FloatArray, log_prior: FloatArray) -> FloatArray:
    """Unnormalised ``log p(z_i = k | answers)`` as one sparse product."""
    k = obs.n_classes
    by_label = log_conf.transpose(0, 2, 1).reshape(obs.n_workers * k, k)
    return np.asarray(obs.item_by_worker_label @ by_label) + log_prior[None, :]


def fit_dawid_skene(
    obs: Observations,
    *,
    max_iter: int,
    tol: float,
    strength: float,
    pseudo: float,
    init: FloatArray | None = None,
) -> DSFit:
    post = majority_posteriors(obs) if init is None else init
    delta = np.inf
    log_lik = -np.inf
    for it in range(1, max_iter + 1):
        conf = shrunk_confusion(confusion_counts(obs, post), strength, pseudo)
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
    """Beta-smoothed accuracy per worker, shrunk toward the population's accuracy."""
    hit = np.bincount(obs.w, weights=posteriors[obs.i, obs.l], minlength=obs.n_workers)
    n = obs.answers_per_worker
    pop = (hit.sum() + pseudo) / (n.sum() + 2 * pseudo)
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
