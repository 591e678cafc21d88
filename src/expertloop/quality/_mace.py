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
from expertloop.quality._ds import (
    confusion_counts,
    ds_log_posteriors,
    trust_and_habits,
    trust_confusion,
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
        return trust_confusion(self.theta, self.spam)


def fit_mace(
    obs: Observations,
    *,
    max_iter: int,
    tol: float,
    trust_prior: tuple[float, float],
    spam_prior: float,
    fit_prior: bool = True,
) -> MaceFit:
    """EM for MACE.

    MACE is Dawid-Skene with each confusion matrix constrained to
    ``theta [l = k] + (1 - theta) xi[l]``, so both steps reuse Dawid-Skene's sparse products:
    the expected confusion counts give the M-step (:func:`trust_and_habits`), the log of the
    constrained matrices gives the E-step.
    """
    k = obs.n_classes
    post = majority_posteriors(obs)
    theta = np.full(obs.n_workers, 0.5)
    spam = np.full((obs.n_workers, k), 1.0 / k)
    delta = np.inf
    log_lik = -np.inf
    for it in range(1, max_iter + 1):
        counts = confusion_counts(obs, post)
        theta, spam = trust_and_habits(counts, theta, spam, trust_prior, spam_prior)
        prior = class_prior(post) if fit_prior else np.full(k, 1.0 / k)
        log_post = ds_log_posteriors(obs, np.log(trust_confusion(theta, spam)), np.log(prior))
        new, log_norm = normalise_log_rows(log_post)
        previous, log_lik = log_lik, float(log_norm.sum())
        obs.clamp_gold(new)
        delta = log_likelihood_change(previous, log_lik, len(obs.w))
        post = new
        if delta < tol:
            return MaceFit(post, prior, theta, spam, it, log_lik)
    raise not_converged("mace", max_iter, delta, tol)
