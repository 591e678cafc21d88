"""Hierarchical Dawid-Skene: confusion rows shrunk toward a centre with a strength learned
by empirical Bayes.

Model: item ``i`` has a hidden class ``z_i ~ Categorical(p)``; worker ``w`` answers from row
``z_i`` of its confusion matrix ``pi_w``; and each row is itself drawn from a Dirichlet
centred on a simpler description of the same worker,
``pi_w[k, :] ~ Dirichlet(s_k * c_w[k, :])``, whose centre ``c_w`` is the worker's MACE
summary ``t_w [l = k] + (1 - t_w) h_w[l]`` (how often it gives the true class, which labels it
gives otherwise; Hovy et al. 2013). As ``s -> inf`` the model is MACE; as ``s -> 0`` it is
the unregularised Dawid-Skene. MACE with uniform habits is the one-coin model, so one model
spans the one-coin, the class-biased (habits) and the full-confusion cases, and the data
decide where between them a crowd lies.

A centre shared by the whole crowd (the pooled confusion, as in Bayesian classifier
combination, Kim & Ghahramani 2012) was tried and dropped: with many spammers or weak
workers the pooled confusion is itself uninformative, the learned strength is large, and
the fit lost up to 28 points to majority vote on simulated crowds (bench/quality.py).

The strength ``s_k`` of row ``k`` (in pseudo-answers per row) is chosen by type-II maximum
likelihood: it maximises the Dirichlet-multinomial evidence of the workers' expected counts
``C[w, k, :]`` (from the current posteriors) over a log-spaced grid. A crowd whose workers
really differ from their summaries gets a weak prior; one whose workers match them gets a
strong one. The strengths are re-estimated at every M-step until the fit is nearly converged,
then frozen, so EM converges on a fixed objective.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import gammaln

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

# Candidate strengths, in pseudo-answers per confusion row: from "the worker's own counts"
# to "the centre, whatever the counts say".
STRENGTH_GRID = np.geomspace(0.25, 4096.0, 29)
# Below this change of log-likelihood per answer, the strengths stop moving.
_FREEZE = 1e-4


@dataclass(frozen=True)
class HDSFit:
    posteriors: FloatArray
    prior: FloatArray
    confusion: FloatArray
    strength: FloatArray  # per true class, pseudo-answers per row
    n_iter: int
    log_likelihood: float


def evidence_strength(counts: FloatArray, centre: FloatArray, grid: FloatArray) -> FloatArray:
    """Per true class ``k``, the grid strength maximising the Dirichlet-multinomial evidence
    ``sum_w log DirMult(C[w, k, :] | s * centre[w, k, :])`` (fractional counts allowed).

    Rows without answers carry no evidence and are skipped.
    """
    n = counts.sum(axis=2)  # (W, K)
    best = np.empty(counts.shape[1])
    for k in range(counts.shape[1]):
        seen = n[:, k] > 1e-9
        c, m, nk = counts[seen, k, :], centre[seen, k, :], n[seen, k]
        if not len(nk):
            best[k] = grid[len(grid) // 2]
            continue
        s = grid[:, None, None]  # (G, 1, 1)
        alpha = s * m[None, :, :]
        per_row = gammaln(s[:, :, 0]) - gammaln(nk[None, :] + s[:, :, 0])
        per_cell = gammaln(c[None, :, :] + alpha) - gammaln(alpha)
        score = per_row.sum(axis=1) + per_cell.sum(axis=(1, 2))
        best[k] = grid[int(np.argmax(score))]
    return best


def fit_hierarchical_ds(
    obs: Observations,
    *,
    max_iter: int,
    tol: float,
    pseudo: float = 1.0,
    grid: FloatArray = STRENGTH_GRID,
) -> HDSFit:
    """EM for the hierarchical Dawid-Skene model of this module's docstring."""
    post = majority_posteriors(obs)
    k = obs.n_classes
    trust = np.full(obs.n_workers, 0.5)
    habits = np.full((obs.n_workers, k), 1.0 / k)
    strength = np.full(k, float(grid[len(grid) // 2]))
    delta = np.inf
    log_lik = -np.inf
    frozen = False
    for it in range(1, max_iter + 1):
        counts = confusion_counts(obs, post)
        trust, habits = trust_and_habits(counts, trust, habits)
        mean = trust_confusion(trust, habits)
        frozen = frozen or delta < _FREEZE
        if not frozen:
            strength = evidence_strength(counts, mean, grid)
        num = counts + strength[None, :, None] * mean
        conf = num / num.sum(axis=2, keepdims=True)
        prior = class_prior(post, pseudo)
        log_post = ds_log_posteriors(obs, np.log(conf), np.log(prior))
        new, log_norm = normalise_log_rows(log_post)
        previous, log_lik = log_lik, float(log_norm.sum())
        obs.clamp_gold(new)
        delta = log_likelihood_change(previous, log_lik, len(obs.w))
        post = new
        if delta < tol:
            return HDSFit(post, prior, conf, strength, it, log_lik)
    raise not_converged("hierarchical_dawid_skene", max_iter, delta, tol)
