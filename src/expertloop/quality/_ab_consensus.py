"""EM for Dawid-Skene over the three answers of a pairwise question: A, tie, B.

Used by :func:`expertloop.quality.preferences.pairwise_consensus`; see its docstring for the
model. Everything is vectorised over answers with ``np.bincount``.
"""

from __future__ import annotations

import numpy as np
from scipy.special import logsumexp

from expertloop.quality._bt import FloatArray, IntArray, wsum
from expertloop.quality._common import ConvergenceError


def one_coin(accuracy: FloatArray) -> FloatArray:
    """``(n, 3, 3)`` confusion matrices: ``accuracy`` on the diagonal, errors split evenly."""
    off = (1 - accuracy) / 2
    conf = np.repeat(off[:, None, None], 3, axis=1).repeat(3, axis=2)
    conf[:, np.arange(3), np.arange(3)] = accuracy[:, None]
    return conf


def fit_ab_dawid_skene(
    w_codes: IntArray,
    i_codes: IntArray,
    ans: IntArray,
    *,
    n_workers: int,
    n_items: int,
    accuracy: FloatArray | None,
    prior_accuracy: float,
    prior_strength: float,
    max_iter: int,
    tol: float,
) -> tuple[FloatArray, FloatArray, FloatArray, int]:
    """Return item posteriors ``(n_items, 3)``, worker matrices, class prior, iterations.

    With ``accuracy`` (one per worker) the matrices are fixed one-coin matrices, the prior
    is uniform and a single E-step runs (0 iterations).
    """
    onehot = np.eye(3)[ans]
    key = w_codes * 3 + ans

    def e_step(log_conf: FloatArray, log_prior: FloatArray) -> FloatArray:
        # log P(z = c | answers) up to a constant, summed over each item's answers.
        contrib = log_conf[w_codes, :, ans]  # (n_answers, 3)
        logp = np.stack([wsum(i_codes, contrib[:, c], n_items) for c in range(3)], 1)
        logp += log_prior
        return np.asarray(np.exp(logp - logsumexp(logp, axis=1, keepdims=True)))

    if accuracy is not None:
        conf = one_coin(accuracy)
        prior = np.full(3, 1 / 3)
        return e_step(np.log(conf), np.log(prior)), conf, prior, 0
    pseudo = prior_strength * one_coin(np.array([prior_accuracy]))[0]
    # Start from smoothed vote shares.
    votes = np.stack([wsum(i_codes, onehot[:, c], n_items) for c in range(3)], 1)
    post = (votes + 0.1) / (votes + 0.1).sum(1, keepdims=True)
    delta = np.inf
    for n_iter in range(1, max_iter + 1):
        prior = (post.sum(0) + 1.0) / (n_items + 3.0)
        weighted = post[i_codes]  # (n_answers, 3 true classes)
        # counts[k, z, l]: expected answers l of worker k on items of true answer z
        counts = np.stack(
            [wsum(key, weighted[:, z], n_workers * 3).reshape(n_workers, 3) for z in range(3)],
            axis=1,
        )
        conf = counts + pseudo
        conf /= conf.sum(axis=2, keepdims=True)
        new_post = e_step(np.log(conf), np.log(prior))
        delta = float(np.abs(new_post - post).max())
        post = new_post
        if delta < tol:
            return post, conf, prior, n_iter
    raise ConvergenceError(
        f"pairwise_consensus EM did not converge in {max_iter} iterations",
        n_iter=max_iter,
        delta=delta,
    )
