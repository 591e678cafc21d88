"""GLAD (Whitehill et al. 2009): worker expertise times item easiness."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize
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

# L-BFGS steps per M-step: EM only needs the expected log-likelihood to go up, and warm starts
# carry the optimisation over from one M-step to the next.
_M_STEP_ITERATIONS = 25


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
    """Maximise the expected complete log-likelihood over ``alpha`` and ``log beta``."""
    n_w = obs.n_workers
    a_mean, a_var = alpha_prior
    b_mean, b_var = log_beta_prior

    def negative_objective(theta: FloatArray) -> tuple[float, FloatArray]:
        a, lb = theta[:n_w], theta[n_w:]
        b = np.exp(lb)
        x = a[obs.w] * b[obs.i]
        # right * log sigmoid(x) + (1 - right) * log sigmoid(-x)
        value = -(right * np.logaddexp(0.0, -x) + (1 - right) * np.logaddexp(0.0, x)).sum()
        value -= ((a - a_mean) ** 2).sum() / (2 * a_var) + ((lb - b_mean) ** 2).sum() / (2 * b_var)
        resid = right - expit(x)
        grad_a = np.bincount(obs.w, weights=resid * b[obs.i], minlength=n_w) - (a - a_mean) / a_var
        grad_lb = (
            np.bincount(obs.i, weights=resid * x, minlength=obs.n_items) - (lb - b_mean) / b_var
        )
        return -float(value), -np.concatenate([grad_a, grad_lb])

    res = minimize(
        negative_objective,
        np.concatenate([alpha, log_beta]),
        jac=True,
        method="L-BFGS-B",
        options={"maxiter": _M_STEP_ITERATIONS},
    )
    theta = np.asarray(res.x, dtype=np.float64)
    return theta[:n_w], theta[n_w:]


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
