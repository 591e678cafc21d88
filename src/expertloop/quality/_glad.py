"""GLAD (Whitehill et al. 2009): worker expertise times item easiness."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import expit

from expertloop.quality._agg_common import (
    FloatArray,
    Observations,
    class_prior,
    log_likelihood_change,
    majority_posteriors,
    normalise_log_rows,
    not_converged,
)

# Newton rounds per M-step, and the largest step of one parameter in one round.
_M_STEP_ROUNDS = 2
_MAX_STEP = 1.0


@dataclass(frozen=True)
class GladFit:
    posteriors: FloatArray
    prior: FloatArray
    alpha: FloatArray
    beta: FloatArray
    n_iter: int
    log_likelihood: float


def _log_right_wrong(obs: Observations, x: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Per answer, ``log P(answer | it is right)`` and ``log P(answer | it is a given wrong)``."""
    log_right = -np.logaddexp(0.0, -x)
    log_wrong = -np.logaddexp(0.0, x) - np.log(obs.n_classes - 1)
    return log_right, log_wrong


def glad_log_posteriors(
    obs: Observations, alpha: FloatArray, beta: FloatArray, log_prior: FloatArray
) -> FloatArray:
    k = obs.n_classes
    log_right, log_wrong = _log_right_wrong(obs, alpha[obs.w] * beta[obs.i])
    base = np.bincount(obs.i, weights=log_wrong, minlength=obs.n_items)
    bonus = np.bincount(
        obs.i * k + obs.l, weights=log_right - log_wrong, minlength=obs.n_items * k
    ).reshape(obs.n_items, k)
    return bonus + base[:, None] + log_prior[None, :]


def _m_step(
    obs: Observations,
    right: FloatArray,
    alpha: FloatArray,
    log_beta: FloatArray,
    alpha_prior: tuple[float, float],
    log_beta_prior: tuple[float, float],
) -> tuple[FloatArray, FloatArray]:
    """Raise the expected complete log-likelihood over ``alpha`` and ``log beta``.

    The objective ``sum right * log sigmoid(x) + (1 - right) * log sigmoid(-x)``, with
    ``x = alpha_w beta_i``, plus the Gaussian log-priors, separates by worker once ``beta`` is
    fixed and by item once ``alpha`` is fixed. So each round takes one Newton step for every
    ``alpha_w`` at once (the objective is concave in ``alpha``) and one Fisher-scoring step for
    every ``log beta_i`` (the expected Hessian is negative, unlike the observed one), each a
    handful of ``np.bincount`` calls. Steps are capped so that a worker or item with little
    data cannot jump far. EM only needs the objective to go up, not its maximum
    (a generalised EM), and each M-step starts where the previous one stopped.
    """
    a_mean, a_var = alpha_prior
    b_mean, b_var = log_beta_prior
    n_w, n_i = obs.n_workers, obs.n_items
    for _ in range(_M_STEP_ROUNDS):
        b = np.exp(log_beta)[obs.i]
        p = expit(alpha[obs.w] * b)
        grad = np.bincount(obs.w, weights=(right - p) * b, minlength=n_w) - (alpha - a_mean) / a_var
        curv = np.bincount(obs.w, weights=p * (1 - p) * b * b, minlength=n_w) + 1.0 / a_var
        alpha = alpha + np.clip(grad / curv, -_MAX_STEP, _MAX_STEP)
        x = alpha[obs.w] * b
        p = expit(x)
        grad = (
            np.bincount(obs.i, weights=(right - p) * x, minlength=n_i) - (log_beta - b_mean) / b_var
        )
        curv = np.bincount(obs.i, weights=p * (1 - p) * x * x, minlength=n_i) + 1.0 / b_var
        log_beta = log_beta + np.clip(grad / curv, -_MAX_STEP, _MAX_STEP)
    return alpha, log_beta


def fit_glad(
    obs: Observations,
    *,
    max_iter: int,
    tol: float,
    alpha_prior: tuple[float, float],
    log_beta_prior: tuple[float, float],
) -> GladFit:
    post = majority_posteriors(obs)
    alpha = np.full(obs.n_workers, float(alpha_prior[0]))
    log_beta = np.full(obs.n_items, float(log_beta_prior[0]))
    delta = np.inf
    log_lik = -np.inf
    for it in range(1, max_iter + 1):
        right = post[obs.i, obs.l]
        alpha, log_beta = _m_step(obs, right, alpha, log_beta, alpha_prior, log_beta_prior)
        prior = class_prior(post)
        log_post = glad_log_posteriors(obs, alpha, np.exp(log_beta), np.log(prior))
        new, log_norm = normalise_log_rows(log_post)
        previous, log_lik = log_lik, float(log_norm.sum())
        obs.clamp_gold(new)
        delta = log_likelihood_change(previous, log_lik, len(obs.w))
        post = new
        if delta < tol:
            return GladFit(post, prior, alpha, np.exp(log_beta), it, log_lik)
    raise not_converged("glad", max_iter, delta, tol)
