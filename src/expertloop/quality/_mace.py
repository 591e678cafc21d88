"""MACE (Hovy et al. 2013): workers are right or spam from their own label distribution."""

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
class MaceFit:
    posteriors: FloatArray
    prior: FloatArray
    theta: FloatArray
    spam: FloatArray
    n_iter: int
    log_likelihood: float

    @property
    def confusion(self) -> FloatArray:
        """``P(l | z = k) = theta [l = k] + (1 - theta) xi[l]`` per worker."""
        k = self.spam.shape[1]
        conf = ((1 - self.theta)[:, None] * self.spam)[:, None, :].repeat(k, axis=1)
        idx = np.arange(k)
        conf[:, idx, idx] += self.theta[:, None]
        return conf


def mace_log_posteriors(
    obs: Observations, theta: FloatArray, spam: FloatArray, log_prior: FloatArray
) -> FloatArray:
    k = obs.n_classes
    spam_mass = (1 - theta[obs.w]) * spam[obs.w, obs.l]
    log_wrong = np.log(spam_mass)
    log_right = np.log(theta[obs.w] + spam_mass)
    base = np.bincount(obs.i, weights=log_wrong, minlength=obs.n_items)
    bonus = np.bincount(
        obs.i * k + obs.l, weights=log_right - log_wrong, minlength=obs.n_items * k
    ).reshape(obs.n_items, k)
    return bonus + base[:, None] + log_prior[None, :]


def _m_step(
    obs: Observations,
    post: FloatArray,
    theta: FloatArray,
    spam: FloatArray,
    trust_prior: tuple[float, float],
    spam_prior: float,
) -> tuple[FloatArray, FloatArray]:
    k = obs.n_classes
    th = theta[obs.w]
    spam_mass = (1 - th) * spam[obs.w, obs.l]
    # P(answer is the truth, not spam | data) = P(z = l) * theta / (theta + (1-theta) xi[l]).
    honest = post[obs.i, obs.l] * th / (th + spam_mass)
    n = obs.answers_per_worker
    a, b = trust_prior
    honest_w = np.bincount(obs.w, weights=honest, minlength=obs.n_workers)
    new_theta = (honest_w + a) / (n + a + b)
    spam_counts = (
        np.bincount(obs.w * k + obs.l, weights=1 - honest, minlength=obs.n_workers * k)
        .reshape(obs.n_workers, k)
        .astype(np.float64)
    )
    spam_counts += spam_prior
    return new_theta, spam_counts / spam_counts.sum(axis=1, keepdims=True)


def fit_mace(
    obs: Observations,
    *,
    max_iter: int,
    tol: float,
    trust_prior: tuple[float, float],
    spam_prior: float,
    fit_prior: bool = True,
) -> MaceFit:
    k = obs.n_classes
    post = majority_posteriors(obs)
    theta = np.full(obs.n_workers, 0.5)
    spam = np.full((obs.n_workers, k), 1.0 / k)
    delta = np.inf
    log_lik = -np.inf
    for it in range(1, max_iter + 1):
        theta, spam = _m_step(obs, post, theta, spam, trust_prior, spam_prior)
        prior = class_prior(post) if fit_prior else np.full(k, 1.0 / k)
        log_post = mace_log_posteriors(obs, theta, spam, np.log(prior))
        new, log_norm = normalise_log_rows(log_post)
        previous, log_lik = log_lik, float(log_norm.sum())
        obs.clamp_gold(new)
        delta = log_likelihood_change(previous, log_lik, len(obs.w))
        post = new
        if delta < tol:
            return MaceFit(post, prior, theta, spam, it, log_lik)
    raise not_converged("mace", max_iter, delta, tol)
