"""EM for Dawid-Skene over the three answers of a pairwise question: A, tie, B.

Used by :func:`expertloop.quality.preferences.pairwise_consensus`; see its docstring for the
model. The answers are held once as a sparse ``(items, workers x 3)`` count matrix, so an
E-step and an M-step are three sparse mat-vecs each (one per true answer), and item
posteriors are kept class-major (``(3, n_items)``) so the per-item log-sum-exp runs on
contiguous rows.

EM is accelerated with SQUAREM (Varadhan & Roland 2008, "Simple and globally convergent
methods for accelerating the convergence of any EM algorithm"): two EM steps give a
direction, the parameters (log worker matrices and log class prior) are extrapolated along
it, and the extrapolation is kept only if its penalised log-likelihood is at least that of
the first of the two steps, so the fit stays monotone (and, like all of it, deterministic).
It stops, like the label aggregators of :mod:`expertloop.quality.aggregation`, once an EM
step changes the penalised log-likelihood by less than ``tol`` per answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from expertloop.quality._agg_common import log_likelihood_change, not_converged
from expertloop.quality._bt import FloatArray, IntArray


def one_coin(accuracy: FloatArray) -> FloatArray:
    """``(n, 3, 3)`` confusion matrices: ``accuracy`` on the diagonal, errors split evenly."""
    off = (1 - accuracy) / 2
    conf = np.repeat(off[:, None, None], 3, axis=1).repeat(3, axis=2)
    conf[:, np.arange(3), np.arange(3)] = accuracy[:, None]
    return conf


def answer_counts(
    w_codes: IntArray,
    i_codes: IntArray,
    ans: NDArray[np.integer[Any]],
    *,
    n_workers: int,
    n_items: int,
) -> sp.csr_matrix:
    """``(n_items, 3 n_workers)`` counts: column ``3 k + l`` holds worker ``k``'s answers
    ``l`` on the item (0 or 1, unless a worker answered an item twice)."""
    ones = np.ones(len(ans), dtype=np.float64)
    counts = sp.csr_matrix((ones, (i_codes, w_codes * 3 + ans)), shape=(n_items, 3 * n_workers))
    counts.sum_duplicates()
    return counts


@dataclass(frozen=True, eq=False)
class _Params:
    """Log worker matrices ``(n_workers, 3, 3)`` (rows: true answer) and log class prior."""

    log_conf: FloatArray
    log_prior: FloatArray

    def vector(self) -> FloatArray:
        return np.concatenate([self.log_conf.ravel(), self.log_prior])

    @classmethod
    def from_vector(cls, x: FloatArray, n_workers: int) -> _Params:
        """Parameters from a (possibly extrapolated) vector, every row renormalised."""
        log_conf = _log_normalise(x[:-3].reshape(n_workers, 3, 3))
        return cls(log_conf, _log_normalise(x[-3:]))


def _log_normalise(log_x: FloatArray) -> FloatArray:
    """Log probabilities from unnormalised ones, along the last axis."""
    top = log_x.max(axis=-1, keepdims=True)
    return log_x - (top + np.log(np.exp(log_x - top).sum(axis=-1, keepdims=True)))


class _Model:
    """The E-step, M-step and objective of one fit, on its count matrix."""

    def __init__(self, counts: sp.csr_matrix, n_workers: int, pseudo: FloatArray) -> None:
        self.counts = counts
        self.n_workers = n_workers
        self.pseudo = pseudo

    def e_step(self, params: _Params) -> tuple[FloatArray, float]:
        """Class-major item posteriors ``(3, n_items)``, and the log-likelihood of all
        answers plus the log density of the parameters' Dirichlet priors: the objective EM
        climbs."""
        # table[3 k + l, z] = log C_k[z, l]: what answer l of worker k says about truth z.
        table = params.log_conf.transpose(0, 2, 1).reshape(-1, 3)
        post = np.empty((3, self.counts.shape[0]))
        for z in range(3):  # three sparse mat-vecs beat one product and a transpose
            post[z] = self.counts @ table[:, z]
        post += params.log_prior[:, None]
        top = np.maximum(np.maximum(post[0], post[1]), post[2])
        top[~np.isfinite(top)] = 0.0
        post -= top
        np.exp(post, out=post)
        total = post[0] + post[1] + post[2]
        post /= total
        log_lik = float(np.log(total).sum() + top.sum())
        penalty = float((self.pseudo * params.log_conf).sum() + params.log_prior.sum())
        return post, log_lik + penalty

    def m_step(self, post: FloatArray) -> _Params:
        """Posterior-mode worker matrices (pseudo-counts ``pseudo``) and class prior (one
        pseudo-count per class), from class-major item posteriors."""
        # expected[z, 3 k + l]: expected answers l of worker k on items whose truth is z.
        expected = np.stack([self.counts.T @ post[z] for z in range(3)])
        conf = expected.reshape(3, self.n_workers, 3).transpose(1, 0, 2) + self.pseudo
        conf /= conf.sum(axis=2, keepdims=True)
        n_items = post.shape[1]
        prior = (post.sum(axis=1) + 1.0) / (n_items + 3.0)
        return _Params(np.log(conf), np.log(prior))

    def vote_shares(self) -> FloatArray:
        """Smoothed class-major share of A / tie / B answers per item: where EM starts."""
        votes = np.ascontiguousarray((self.counts @ np.tile(np.eye(3), (self.n_workers, 1))).T)
        votes += 0.1
        return votes / votes.sum(axis=0)


class _Squarem:
    """SQUAREM extrapolation (scheme S3) with the step bound of the original: the bound
    grows fourfold each time a step reaching it is kept, and shrinks when one is refused."""

    def __init__(self, model: _Model) -> None:
        self.model = model
        self.max_step = 1.0

    def extrapolate(
        self, start: _Params, first: _Params, second: _Params, floor: float
    ) -> tuple[_Params, FloatArray, float] | None:
        """The extrapolation from ``start`` through two EM steps ``first`` and ``second``,
        with its E-step, if its objective reaches ``floor``; ``None`` otherwise (the caller
        goes on from ``second``, a plain EM step)."""
        x0, x1, x2 = start.vector(), first.vector(), second.vector()
        r = x1 - x0
        v = x2 - x1 - r
        r_norm, v_norm = float(np.sqrt(r @ r)), float(np.sqrt(v @ v))
        ratio = np.inf if v_norm == 0.0 else r_norm / v_norm
        step = min(max(ratio, 1.0), self.max_step)
        at_bound = step == self.max_step
        if step == 1.0:  # an extrapolation of 1 is the plain EM step
            if at_bound:
                self.max_step *= 4.0
            return None
        params = _Params.from_vector(x0 + 2 * step * r + step * step * v, self.model.n_workers)
        post, objective = self.model.e_step(params)
        if not objective >= floor:  # lower, or NaN
            self.max_step = max(1.0, self.max_step / 4.0)
            return None
        if at_bound:
            self.max_step *= 4.0
        return params, post, objective


def fit_ab_dawid_skene(
    counts: sp.csr_matrix,
    *,
    accuracy: FloatArray | None,
    prior_accuracy: float,
    prior_strength: float,
    max_iter: int,
    tol: float,
) -> tuple[FloatArray, FloatArray, FloatArray, int]:
    """Return item posteriors ``(n_items, 3)``, worker matrices, class prior, iterations,
    from the answers as :func:`answer_counts` holds them.

    With ``accuracy`` (one per worker) the matrices are fixed one-coin matrices, the prior
    is uniform and a single E-step runs (0 iterations). Otherwise EM (accelerated, see the
    module) runs from the vote shares until one EM step changes the penalised
    log-likelihood by less than ``tol`` per answer; iterations count EM steps, and the
    returned posteriors come from the returned matrices and prior. Raises
    :class:`ConvergenceError` after ``max_iter`` EM steps.
    """
    n_workers = counts.shape[1] // 3
    n_answers = int(counts.sum())
    pseudo = prior_strength * one_coin(np.array([prior_accuracy]))[0]
    model = _Model(counts, n_workers, pseudo)
    if accuracy is not None:
        fixed = _Params(np.log(one_coin(accuracy)), np.log(np.full(3, 1 / 3)))
        return _result(model.e_step(fixed)[0], fixed, 0)
    params = model.m_step(model.vote_shares())
    post, objective = model.e_step(params)
    n_iter, delta = 1, np.inf
    squarem = _Squarem(model)
    # Each name is rebound as soon as its posteriors are spent, so that at most two
    # (n_items, 3) arrays are alive at once.
    while n_iter < max_iter:
        first = model.m_step(post)
        post, first_objective = model.e_step(first)
        n_iter += 1
        delta = log_likelihood_change(objective, first_objective, n_answers)
        if delta < tol:
            return _result(post, first, n_iter)
        if n_iter == max_iter:
            break
        second = model.m_step(post)
        del post
        n_iter += 1
        jump = squarem.extrapolate(params, first, second, first_objective)
        if jump is None:
            params = second
            post, objective = model.e_step(second)
        else:
            params, post, objective = jump
    raise not_converged("pairwise_consensus", max_iter, delta, tol)


def _result(
    post: FloatArray, params: _Params, n_iter: int
) -> tuple[FloatArray, FloatArray, FloatArray, int]:
    return post.T, np.exp(params.log_conf), np.exp(params.log_prior), n_iter
