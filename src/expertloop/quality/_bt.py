"""Newton solver for Bradley-Terry models on aggregated pair counts.

Comparisons are first collapsed to one row per unordered pair ``(i, j)``, ``i < j``, holding
``a`` (wins of ``i``), ``b`` (wins of ``j``) and ``t`` (ties). Every model below is a sum of
per-pair terms in ``d = theta_i - theta_j`` (and one tie parameter), so the gradient is two
``np.bincount`` calls and the Hessian over ``theta`` is a weighted graph Laplacian. Newton
steps are solved exactly (Cholesky) for small problems and by Jacobi-preconditioned conjugate
gradients on a sparse Laplacian otherwise; the tie parameter is eliminated with a Schur
complement, so each step is a full Newton step on ``(theta, tie)``. A backtracking line search
keeps every step an ascent of the penalised log-likelihood, which is concave in these
parameters for all three models.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import scipy.linalg as sla
import scipy.sparse as sp
from numpy.typing import NDArray
from scipy.sparse.csgraph import connected_components
from scipy.special import expit

from expertloop.quality._common import ConvergenceError, QualityInputError

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.intp]
Model = Literal["bt", "davidson", "rao_kupper"]

_DENSE_MAX = 400


def wsum(index: IntArray, weights: NDArray[Any], n: int) -> FloatArray:
    """``np.bincount`` with weights, typed as float (sums of ``weights`` per index)."""
    return np.asarray(np.bincount(index, weights, n), dtype=np.float64)


@dataclass(frozen=True, eq=False)
class PairCounts:
    """Comparisons collapsed to unordered pairs ``i < j`` (``a``: i won, ``b``: j won)."""

    n: int
    i: IntArray
    j: IntArray
    a: FloatArray
    b: FloatArray
    t: FloatArray
    inverse: IntArray  # row of each input comparison in the pair arrays


def aggregate_pairs(
    n: int,
    winners: IntArray,
    losers: IntArray,
    ties: NDArray[np.bool_] | None = None,
    weights: FloatArray | None = None,
) -> PairCounts:
    """Count wins per side and ties for every unordered pair (one ``np.unique``)."""
    lo = np.minimum(winners, losers)
    hi = np.maximum(winners, losers)
    keys = lo.astype(np.int64) * n + hi
    uniq, inverse = np.unique(keys, return_inverse=True)
    inverse = inverse.reshape(-1).astype(np.intp)
    m = len(uniq)
    w = np.ones(len(keys)) if weights is None else weights
    lo_won = winners == lo
    if ties is not None:
        decisive = ~ties
        t = wsum(inverse, w * ties, m)
    else:
        decisive = np.ones(len(keys), dtype=bool)
        t = np.zeros(m)
    a = wsum(inverse, w * (decisive & lo_won), m)
    b = wsum(inverse, w * (decisive & ~lo_won), m)
    return PairCounts(
        n=n,
        i=(uniq // n).astype(np.intp),
        j=(uniq % n).astype(np.intp),
        a=a,
        b=b,
        t=t,
        inverse=inverse,
    )


@dataclass(frozen=True, eq=False)
class _Terms:
    loglik: float
    g_d: FloatArray  # d loglik / d d, per pair
    w: FloatArray  # -d2 loglik / d d2, per pair (>= 0)
    g_tau: float
    h_dtau: FloatArray  # d2 loglik / d d d tau, per pair
    h_tautau: float


def _softplus(x: FloatArray) -> FloatArray:
    return np.logaddexp(0.0, x)


def _terms(model: Model, pc: PairCounts, d: FloatArray, tau: float) -> _Terms:
    a, b, t = pc.a, pc.b, pc.t
    zeros = np.zeros_like(d)
    if model == "bt":
        a, b = a + 0.5 * t, b + 0.5 * t
        ll = -(a * _softplus(-d) + b * _softplus(d)).sum()
        s = expit(d)
        return _Terms(float(ll), a - (a + b) * s, (a + b) * s * (1.0 - s), 0.0, zeros, 0.0)
    if model == "davidson":
        # P(i) : P(j) : P(tie) = e^{d/2} : e^{-d/2} : e^tau   (tau = log nu)
        n = a + b + t
        log_z = np.logaddexp(np.logaddexp(0.5 * d, -0.5 * d), tau)
        ll = (0.5 * d * (a - b) + t * tau - n * log_z).sum()
        p_i = np.exp(0.5 * d - log_z)
        p_j = np.exp(-0.5 * d - log_z)
        p_t = np.exp(tau - log_z)
        diff = p_i - p_j
        return _Terms(
            loglik=float(ll),
            g_d=0.5 * (a - b) - 0.5 * n * diff,
            w=n * (0.25 * (p_i + p_j) - 0.25 * diff * diff),
            g_tau=float((t - n * p_t).sum()),
            h_dtau=n * 0.5 * diff * p_t,
            h_tautau=float(-(n * p_t * (1.0 - p_t)).sum()),
        )
    # Rao-Kupper, tau = log(theta) > 0:
    # loglik = -(a+t) softplus(tau - d) - (b+t) softplus(tau + d) + t log(e^{2 tau} - 1)
    if tau <= 0.0:
        return _Terms(-np.inf, zeros, zeros, 0.0, zeros, 0.0)
    u, v = tau - d, tau + d
    at, bt = a + t, b + t
    su, sv = expit(u), expit(v)
    cu, cv = at * su * (1.0 - su), bt * sv * (1.0 - sv)
    t_sum = float(t.sum())
    em = -np.expm1(-2.0 * tau)  # 1 - e^{-2 tau}
    log_tie_const = 2.0 * tau + np.log(em)  # log(e^{2 tau} - 1)
    ll = -(at * _softplus(u) + bt * _softplus(v)).sum() + t_sum * log_tie_const
    return _Terms(
        loglik=float(ll),
        g_d=at * su - bt * sv,
        w=cu + cv,
        g_tau=float(-(at * su + bt * sv).sum() + t_sum * 2.0 / em),
        h_dtau=cu - cv,
        h_tautau=float(-(cu + cv).sum() - t_sum * 4.0 * np.exp(-2.0 * tau) / em**2),
    )


class _Laplacian:
    """Solves ``(L(w) + ridge I) x = r`` for the pair graph, exactly or by PCG."""

    def __init__(self, pc: PairCounts) -> None:
        self.pc = pc
        self.n = pc.n
        self.dense = pc.n <= _DENSE_MAX
        if not self.dense:
            rows = np.concatenate([pc.i, pc.j])
            cols = np.concatenate([pc.j, pc.i])
            self.order = np.argsort(rows, kind="stable")
            self.indices = cols[self.order]
            counts = np.bincount(rows, minlength=self.n)
            self.indptr = np.concatenate([[0], np.cumsum(counts)])

    def factor(self, w: FloatArray, ridge: float) -> None:
        pc = self.pc
        diag = wsum(pc.i, w, self.n) + wsum(pc.j, w, self.n) + ridge
        if self.dense:
            mat = np.zeros((self.n, self.n))
            mat[pc.i, pc.j] = -w  # pairs are unique, i < j
            mat += mat.T
            mat[np.diag_indices(self.n)] = diag
            self.chol = sla.cho_factor(mat, lower=True, check_finite=False)
        else:
            data = np.concatenate([-w, -w])[self.order]
            self.off = sp.csr_matrix((data, self.indices, self.indptr), shape=(self.n, self.n))
            self.diag = diag

    def solve(self, r: FloatArray, rtol: float) -> FloatArray:
        if self.dense:
            return np.asarray(sla.cho_solve(self.chol, r, check_finite=False))
        return self._pcg(r, rtol)

    def _pcg(self, r: FloatArray, rtol: float) -> FloatArray:
        inv_diag = 1.0 / self.diag
        x = np.zeros_like(r)
        res = r.copy()
        r_norm = float(np.linalg.norm(r))
        if r_norm == 0.0:
            return x
        z = inv_diag * res
        p = z.copy()
        rz = float(res @ z)
        for _ in range(max(50, min(self.n, 2000))):
            ap = self.off @ p + self.diag * p
            step = rz / float(p @ ap)
            x += step * p
            res -= step * ap
            if np.linalg.norm(res) <= rtol * r_norm:
                break
            z = inv_diag * res
            rz_new = float(res @ z)
            p = z + (rz_new / rz) * p
            rz = rz_new
        return x


@dataclass(frozen=True, eq=False)
class BTFit:
    theta: FloatArray
    tau: float
    loglik: float  # unpenalised log-likelihood at the optimum
    n_iter: int


def initial_tau(model: Model, pc: PairCounts) -> float:
    """Tie parameter that matches the observed tie share when all strengths are equal."""
    total = float(pc.a.sum() + pc.b.sum() + pc.t.sum())
    share = float(pc.t.sum()) / total
    share = min(max(share, 1e-3), 1 - 1e-3)
    if model == "davidson":
        return float(np.log(2 * share / (1 - share)))
    if model == "rao_kupper":
        return float(np.log((1 + share) / (1 - share)))
    return 0.0


def fit_bt(
    pc: PairCounts,
    *,
    model: Model,
    alpha: float,
    max_iter: int,
    tol: float,
    theta0: FloatArray | None = None,
    tau0: float | None = None,
    solver: _Laplacian | None = None,
) -> BTFit:
    """Maximise ``loglik(theta, tau) - alpha * ||theta||^2`` by damped Newton steps."""
    n = pc.n
    theta = np.zeros(n) if theta0 is None else theta0.astype(float, copy=True)
    if alpha == 0 and theta0 is not None:
        theta = _component_centring(pc)(theta)
    has_tau = model != "bt"
    tau = (initial_tau(model, pc) if tau0 is None else tau0) if has_tau else 0.0
    lap = solver if solver is not None else _Laplacian(pc)
    pen = 2.0 * alpha  # Hessian of the penalty alpha * ||theta||^2
    # Without a penalty the likelihood is flat along a shift of each connected component:
    # keep every step free of such shifts (each component stays centred).
    project = _component_centring(pc) if alpha == 0 else None

    def objective(th: FloatArray, ta: float) -> tuple[float, _Terms]:
        terms = _terms(model, pc, th[pc.i] - th[pc.j], ta)
        return -terms.loglik + alpha * float(th @ th), terms

    f, terms = objective(theta, tau)
    delta = np.inf
    it = 0
    for it in range(1, max_iter + 1):
        grad = wsum(pc.j, terms.g_d, n) - wsum(pc.i, terms.g_d, n)
        grad += pen * theta
        g_norm = float(np.abs(grad).max())
        ridge = pen if pen > 0 else 1e-10 * max(float(terms.w.max(initial=0.0)), 1.0)
        lap.factor(terms.w, ridge)
        rtol = min(0.1, max(np.sqrt(g_norm), 1e-12))
        u = lap.solve(grad, rtol)
        if has_tau:
            c = wsum(pc.j, terms.h_dtau, n) - wsum(pc.i, terms.h_dtau, n)
            v = lap.solve(c, rtol)
            schur = -terms.h_tautau - float(c @ v)
            g_tau = -terms.g_tau
            dtau = -(g_tau - float(c @ u)) / schur if schur > 0 else -g_tau
            dtheta = -u - v * dtau
        else:
            dtau = 0.0
            dtheta = -u
        if project is not None:
            dtheta = project(dtheta)
        slope = float(grad @ dtheta) + (-terms.g_tau) * dtau
        step = 1.0
        while True:
            new_theta = theta + step * dtheta
            new_tau = tau + step * dtau
            new_f, new_terms = objective(new_theta, new_tau)
            if np.isfinite(new_f) and new_f <= f + 1e-4 * step * slope + 1e-12 * abs(f):
                break
            step *= 0.5
            if step < 1e-10:
                break
        delta = max(float(np.abs(new_theta - theta).max()), abs(new_tau - tau))
        theta, tau, f, terms = new_theta, new_tau, new_f, new_terms
        if delta < tol or (step < 1e-10 and g_norm < 1e3 * tol):
            return BTFit(theta=theta, tau=tau, loglik=terms.loglik, n_iter=it)
        if not np.isfinite(f) or np.abs(theta).max() > 700:
            break
    raise ConvergenceError(
        f"Bradley-Terry ({model}) did not converge after {it} Newton steps "
        f"(last change {delta:.3g}); if some entity never loses (or never wins), use alpha > 0",
        n_iter=it,
        delta=float(delta),
    )


def _component_centring(pc: PairCounts) -> Callable[[FloatArray], FloatArray]:
    """A function subtracting from a vector its mean over each connected component."""
    graph = sp.coo_matrix((np.ones(len(pc.i)), (pc.i, pc.j)), shape=(pc.n, pc.n))
    n_comp, labels = connected_components(graph, directed=False)
    sizes = np.bincount(labels, minlength=n_comp)

    def centre(x: FloatArray) -> FloatArray:
        return x - (wsum(labels, x, n_comp) / sizes)[labels]

    return centre


def check_alpha(alpha: float) -> None:
    if not np.isfinite(alpha) or alpha < 0:
        raise QualityInputError(f"alpha must be a finite number >= 0, got {alpha!r}")
