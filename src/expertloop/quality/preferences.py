"""Preference aggregation: Bradley-Terry scores, crowd Bradley-Terry, A/B/tie consensus.

All functions take parallel 1-D array-likes (one row per comparison or answer); ids may be
any hashable values. Results are frozen dataclasses whose arrays follow the sorted ids.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from expertloop.quality._ab_consensus import answer_counts, fit_ab_dawid_skene
from expertloop.quality._bt import (
    BTFit,
    FloatArray,
    PairCounts,
    _Laplacian,
    aggregate_pairs,
    check_alpha,
    fit_bt,
    wsum,
)
from expertloop.quality._common import (
    ConvergenceError,
    QualityInputError,
    as_1d,
    check_same_length,
    encode,
)

__all__ = [
    "BradleyTerryResult",
    "CrowdBTResult",
    "PairwiseConsensusResult",
    "bradley_terry",
    "crowd_bt",
    "pairwise_consensus",
]

TieModel = Literal["davidson", "rao_kupper", "half"]
_TIE_MODELS = ("davidson", "rao_kupper", "half")


@dataclass(frozen=True, eq=False)
class BradleyTerryResult:
    """Fitted Bradley-Terry strengths.

    Attributes:
        entity_ids: the distinct entities, sorted.
        scores: centred log-strengths ``theta`` in ``entity_ids`` order (higher is better;
            ``P(a beats b) = sigmoid(theta_a - theta_b)`` in the plain model).
        tie_model: ``"davidson"``, ``"rao_kupper"``, ``"half"``, or ``None`` without ties.
        tie_parameter: Davidson's ``nu`` (>= 0) or Rao-Kupper's ``theta`` (>= 1); ``None``
            for the plain model and ``"half"``.
        log_likelihood: unpenalised log-likelihood at the estimate.
        n_iter: Newton steps taken.
    """

    entity_ids: NDArray[Any]
    scores: FloatArray
    tie_model: str | None
    tie_parameter: float | None
    log_likelihood: float
    n_iter: int

    def as_dict(self) -> dict[Any, float]:
        """``{entity: score}``."""
        return dict(zip(self.entity_ids.tolist(), self.scores.tolist(), strict=True))


@dataclass(frozen=True, eq=False)
class CrowdBTResult:
    """Crowd-BT fit: entity strengths and worker reliabilities.

    Attributes:
        entity_ids, scores: as in :class:`BradleyTerryResult`.
        worker_ids: the distinct workers, sorted.
        worker_reliability: ``eta`` per worker, the probability that the worker answers
            according to the Bradley-Terry model rather than against it (0.5 = random).
        log_likelihood: marginal log-likelihood at the estimate (without priors).
        n_iter: EM iterations.
    """

    entity_ids: NDArray[Any]
    scores: FloatArray
    worker_ids: NDArray[Any]
    worker_reliability: FloatArray
    log_likelihood: float
    n_iter: int


@dataclass(frozen=True, eq=False)
class PairwiseConsensusResult:
    """Per-item consensus of A/B/tie answers.

    Attributes:
        item_ids: the distinct items, sorted.
        p_a_better, p_tie, p_b_better: posterior probability of each true answer.
        choice: the most probable answer per item (one of the three ``labels``).
        n_answers: answers per item.
        worker_ids: the distinct workers, sorted.
        worker_confusion: ``(n_workers, 3, 3)``; row ``k`` (true answer, in the order
            A, tie, B) is the distribution of what the worker says.
        class_prior: estimated share of A, tie, B among true answers.
        n_iter: EM iterations (0 when ``worker_reliability`` was given).
    """

    item_ids: NDArray[Any]
    p_a_better: FloatArray
    p_tie: FloatArray
    p_b_better: FloatArray
    choice: NDArray[Any]
    n_answers: NDArray[np.intp]
    worker_ids: NDArray[Any]
    worker_confusion: FloatArray
    class_prior: FloatArray
    n_iter: int


def _check_iter(max_iter: int, tol: float) -> None:
    if max_iter < 1:
        raise QualityInputError(f"max_iter must be >= 1, got {max_iter}")
    if not tol > 0:
        raise QualityInputError(f"tol must be > 0, got {tol}")


def _prepare(
    winners: Iterable[Any],
    losers: Iterable[Any],
    ties: Iterable[Any] | None,
    entities: Sequence[Hashable] | None,
    extra: dict[str, NDArray[Any]] | None = None,
) -> tuple[NDArray[np.intp], NDArray[np.intp], NDArray[np.bool_] | None, NDArray[Any]]:
    w = as_1d(winners, "winners")
    lo = as_1d(losers, "losers")
    arrays = {"winners": w, "losers": lo, **(extra or {})}
    tie_mask = None
    if ties is not None:
        tie_mask = as_1d(ties, "ties")
        arrays["ties"] = tie_mask
        if tie_mask.dtype != bool:
            raise QualityInputError("ties must be a boolean mask (True where it was a tie)")
    n = check_same_length(**arrays)
    pool = _concat(w, lo)
    if entities is not None and len(entities):
        pool = _concat(pool, as_1d(list(entities), "entities"))
    codes, ids = encode(pool)
    wc, lc = codes[:n], codes[n : 2 * n]
    if np.any(wc == lc):
        row = int(np.flatnonzero(wc == lc)[0])
        raise QualityInputError(f"comparison {row} compares an entity with itself")
    return wc, lc, tie_mask, ids


def _concat(x: NDArray[Any], y: NDArray[Any]) -> NDArray[Any]:
    """Concatenate two id arrays, natively when their dtypes are compatible (fast unique)."""
    if x.dtype != object and y.dtype != object and x.dtype.kind == y.dtype.kind:
        return np.concatenate([x, y])
    return np.concatenate([x.astype(object), y.astype(object)])


def _centred(theta: FloatArray) -> FloatArray:
    return theta - theta.mean()


def bradley_terry(
    winners: Iterable[Any],
    losers: Iterable[Any],
    *,
    ties: Iterable[bool] | None = None,
    alpha: float = 0.01,
    tie_model: TieModel = "davidson",
    entities: Sequence[Hashable] | None = None,
    max_iter: int = 100,
    tol: float = 1e-8,
) -> BradleyTerryResult:
    """Fit Bradley-Terry log-strengths by penalised maximum likelihood.

    Model (Bradley & Terry 1952; Zermelo 1929): entity ``i`` has log-strength ``theta_i``
    and ``P(i beats j) = exp(theta_i) / (exp(theta_i) + exp(theta_j))``. With ties
    (``ties[k]`` True means comparison ``k`` was a tie, and ``winners[k]``/``losers[k]`` are
    just its two sides), ``tie_model`` selects:

    - ``"davidson"`` (Davidson 1970): ``P(i) : P(j) : P(tie) = pi_i : pi_j :
      nu * sqrt(pi_i * pi_j)``, ``nu >= 0`` estimated;
    - ``"rao_kupper"`` (Rao & Kupper 1967): ``P(i beats j) = pi_i / (pi_i + theta * pi_j)``,
      ``theta >= 1`` estimated;
    - ``"half"``: a tie counts as half a win for each side.

    The estimate maximises ``loglik - alpha * sum(theta**2)``, the same penalty as
    ``choix.opt_pairwise(alpha=...)`` (a Gaussian prior of variance ``1 / (2 alpha)``); it
    makes every entity's score finite, including entities that never lose and comparison
    graphs in several pieces (each connected piece is then centred on 0). ``alpha=0`` gives
    the plain maximum-likelihood estimate, which exists only if the comparison graph is
    strongly connected; otherwise :class:`ConvergenceError` is raised.

    Duplicate comparisons are first counted per pair, then damped Newton steps run on the
    counts, solved by sparse conjugate gradients on the graph Laplacian for large problems
    (Hunter 2004, "MM algorithms for generalized Bradley-Terry models", discusses the
    likelihood and its concavity). A million comparisons take about a second.

    Example:
        >>> r = bradley_terry(["a", "a", "a", "b"], ["b", "b", "b", "a"], alpha=0)
        >>> round(float(r.scores[0] - r.scores[1]), 6)  # log(3 / 1)
        1.098612
    """
    check_alpha(alpha)
    _check_iter(max_iter, tol)
    if tie_model not in _TIE_MODELS:
        raise QualityInputError(f"tie_model must be one of {_TIE_MODELS}, got {tie_model!r}")
    wc, lc, tie_mask, ids = _prepare(winners, losers, ties, entities)
    pc = aggregate_pairs(len(ids), wc, lc, tie_mask)
    n_ties = float(pc.t.sum())
    model: Literal["bt", "davidson", "rao_kupper"] = "bt"
    used_tie_model: str | None = None
    if tie_mask is not None:
        used_tie_model = tie_model
        if tie_model != "half" and n_ties > 0:
            model = tie_model
    if model != "bt" and float(pc.a.sum() + pc.b.sum()) == 0:
        # Only ties: strengths are all equal and the tie parameter is unbounded.
        return BradleyTerryResult(ids, np.zeros(len(ids)), used_tie_model, np.inf, 0.0, 0)
    fit = fit_bt(pc, model=model, alpha=alpha, max_iter=max_iter, tol=tol)
    tie_parameter: float | None = None
    if used_tie_model == "davidson":
        tie_parameter = float(np.exp(fit.tau)) if model == "davidson" else 0.0
    elif used_tie_model == "rao_kupper":
        tie_parameter = float(np.exp(fit.tau)) if model == "rao_kupper" else 1.0
    return BradleyTerryResult(
        entity_ids=ids,
        scores=_centred(fit.theta),
        tie_model=used_tie_model,
        tie_parameter=tie_parameter,
        log_likelihood=fit.loglik,
        n_iter=fit.n_iter,
    )


def crowd_bt(
    workers: Iterable[Any],
    winners: Iterable[Any],
    losers: Iterable[Any],
    *,
    ties: Iterable[bool] | None = None,
    alpha: float = 0.01,
    reliability_prior: tuple[float, float] = (10.0, 2.0),
    entities: Sequence[Hashable] | None = None,
    max_iter: int = 2000,
    tol: float = 1e-6,
) -> CrowdBTResult:
    """Bradley-Terry with a reliability per worker (Crowd-BT), fitted by EM.

    Model (Chen, Bennett, Collins-Thompson & Horvitz 2013, "Pairwise ranking aggregation
    in a crowdsourced setting", WSDM): worker ``k`` answers truthfully with probability
    ``eta_k`` and flips the answer otherwise, so
    ``P(k says i beats j) = eta_k * s(theta_i - theta_j) + (1 - eta_k) * s(theta_j - theta_i)``
    with ``s`` the logistic function. A tie counts as half an answer each way. Chen et al.
    fit the model online; here EM fits the whole batch: the E-step computes, per answer, the
    probability that it was truthful; the M-step refits Bradley-Terry on the resulting
    fractional wins (penalty ``alpha * sum(theta**2)`` as in :func:`bradley_terry`) and sets
    ``eta_k`` to its posterior mode under a ``Beta(*reliability_prior)`` prior, which keeps a
    worker with few answers near the prior and breaks the label-flip symmetry
    (``eta_k > 0.5`` for most workers).

    Example:
        >>> r = crowd_bt(["u", "u", "v"], ["a", "a", "b"], ["b", "b", "a"])
        >>> bool(r.scores[0] > r.scores[1])
        True
    """
    check_alpha(alpha)
    _check_iter(max_iter, tol)
    pa, pb = reliability_prior
    if not (pa >= 1 and pb >= 1):
        raise QualityInputError("reliability_prior must be two numbers >= 1 (Beta a, b)")
    wk = as_1d(workers, "workers")
    wc, lc, tie_mask, ids = _prepare(winners, losers, ties, entities, {"workers": wk})
    worker_codes, worker_ids = encode(wk)
    n, n_workers = len(ids), len(worker_ids)
    # One row per (worker, unordered pair): a = lower id won, b = higher id won (ties half).
    pc = aggregate_pairs(n, wc, lc, tie_mask)
    lo_won = np.where(wc < lc, 1.0, 0.0)
    if tie_mask is not None:
        lo_won = np.where(tie_mask, 0.5, lo_won)
    key = pc.inverse.astype(np.int64) * n_workers + worker_codes
    rows, inv = np.unique(key, return_inverse=True)
    inv = inv.reshape(-1)
    row_pair = (rows // n_workers).astype(np.intp)
    row_worker = (rows % n_workers).astype(np.intp)
    ra = wsum(inv, lo_won, len(rows))
    rb = wsum(inv, 1.0 - lo_won, len(rows))
    per_worker = wsum(row_worker, ra + rb, n_workers)

    solver = _Laplacian(pc)
    fit: BTFit = fit_bt(
        _with_counts(pc, pc.a + 0.5 * pc.t, pc.b + 0.5 * pc.t),
        model="bt",
        alpha=alpha,
        max_iter=100,
        tol=1e-8,
        solver=solver,
    )
    theta = fit.theta
    eta = np.full(n_workers, (pa - 1 + 0.5) / (pa + pb - 1) if pa + pb > 2 else 0.75)
    eta = np.clip(eta, 0.55, 0.99)
    delta = np.inf
    loglik = -np.inf
    for it in range(1, max_iter + 1):
        d = theta[pc.i[row_pair]] - theta[pc.j[row_pair]]
        e = eta[row_worker]
        log_s, log_ns = -np.logaddexp(0.0, -d), -np.logaddexp(0.0, d)
        log_e, log_ne = np.log(e), np.log1p(-e)
        log_pa = np.logaddexp(log_e + log_s, log_ne + log_ns)  # P(says lower id wins)
        log_pb = np.logaddexp(log_e + log_ns, log_ne + log_s)
        loglik = float((ra * log_pa + rb * log_pb).sum())
        resp_a = np.exp(log_e + log_s - log_pa)  # P(truthful | said lower id wins)
        resp_b = np.exp(log_e + log_ns - log_pb)
        truthful = wsum(row_worker, ra * resp_a + rb * resp_b, n_workers)
        new_eta = (truthful + pa - 1) / (per_worker + pa + pb - 2)
        new_eta = np.clip(new_eta, 1e-6, 1 - 1e-6)
        eff_a = wsum(row_pair, ra * resp_a + rb * (1 - resp_b), len(pc.i))
        eff_b = wsum(row_pair, rb * resp_b + ra * (1 - resp_a), len(pc.i))
        fit = fit_bt(
            _with_counts(pc, eff_a, eff_b),
            model="bt",
            alpha=alpha,
            max_iter=100,
            tol=min(1e-8, tol * 1e-2),
            theta0=theta,
            solver=solver,
        )
        delta = max(float(np.abs(fit.theta - theta).max()), float(np.abs(new_eta - eta).max()))
        theta, eta = fit.theta, new_eta
        if delta < tol:
            return CrowdBTResult(ids, _centred(theta), worker_ids, eta, loglik, it)
    raise ConvergenceError(
        f"crowd_bt EM did not converge in {max_iter} iterations (last change {delta:.3g})",
        n_iter=max_iter,
        delta=float(delta),
    )


def _with_counts(pc: PairCounts, a: FloatArray, b: FloatArray) -> PairCounts:
    return PairCounts(pc.n, pc.i, pc.j, a, b, np.zeros_like(a), pc.inverse)


def _choice_codes(
    ch: NDArray[Any], labels: tuple[Hashable, Hashable, Hashable]
) -> NDArray[np.int8]:
    """The position in ``labels`` of every choice; integer choices and labels (the codes an
    export passes) are mapped with numpy, anything else with a dict."""
    if ch.dtype.kind in "iu" and all(type(lab) is int for lab in labels) and len(set(labels)) == 3:
        codes = np.full(len(ch), -1, dtype=np.int8)
        for code, label in enumerate(labels):
            codes[ch == label] = code
        bad = codes < 0
        if bad.any():
            raise QualityInputError(f"choices must be one of {labels}, got {ch[bad][0]!r}")
        return codes
    lookup = {lab: k for k, lab in enumerate(labels)}
    try:
        return np.fromiter((lookup[c] for c in ch.tolist()), dtype=np.int8, count=len(ch))
    except (KeyError, TypeError) as exc:
        raise QualityInputError(f"choices must be one of {labels}, got {exc}") from None


def pairwise_consensus(
    workers: Iterable[Any],
    items: Iterable[Any],
    choices: Iterable[Any],
    *,
    worker_reliability: Mapping[Hashable, float] | None = None,
    labels: tuple[Hashable, Hashable, Hashable] = ("A", "tie", "B"),
    prior_accuracy: float = 0.7,
    prior_strength: float = 4.0,
    max_iter: int = 200,
    tol: float = 1e-7,
) -> PairwiseConsensusResult:
    """Consensus of A/B/tie answers per item: Dawid-Skene over {A, tie, B} with shrinkage.

    Model (Dawid & Skene 1979, "Maximum likelihood estimation of observer error-rates using
    the EM algorithm"): each item has a true answer ``z`` in {A, tie, B} with prior ``pi``;
    worker ``k`` answers ``l`` with probability ``C_k[z, l]``. Each row of ``C_k`` is shrunk
    towards a one-coin worker (accuracy ``prior_accuracy``, errors split evenly) by a
    Dirichlet prior worth ``prior_strength`` answers, so a worker with few answers keeps a
    sensible matrix and a worker who never says "tie" is not declared perfect. EM alternates
    item posteriors and the (posterior-mode) worker matrices and class prior, accelerated by
    SQUAREM (Varadhan & Roland 2008) with every accepted step checked to raise the penalised
    log-likelihood, until one EM step changes that log-likelihood by less than ``tol`` per
    answer (the stopping rule of :mod:`expertloop.quality.aggregation`); it raises
    :class:`ConvergenceError` after ``max_iter`` EM steps. On data without true ties the
    likelihood is nearly flat along the tie class's share, which EM drains over hundreds or
    thousands of steps of about ``1e-7`` per answer or less; ``tol`` decides how much of
    that drain the fit waits for (a smaller ``tol`` gains a little accuracy there).

    With ``worker_reliability`` (``{worker: accuracy}``, e.g. from gold questions), the
    matrices are fixed to one-coin matrices with those accuracies (``prior_accuracy`` for
    workers not in the mapping), the class prior is uniform, and the result is a single
    E-step: a weighted vote with log-odds weights.

    Example:
        >>> r = pairwise_consensus(["u", "v", "w"], [1, 1, 1], ["A", "A", "tie"])
        >>> str(r.choice[0]), bool(r.p_a_better[0] > 0.5)
        ('A', True)
    """
    _check_iter(max_iter, tol)
    if not 1 / 3 < prior_accuracy < 1:
        raise QualityInputError("prior_accuracy must be in (1/3, 1)")
    if prior_strength < 0:
        raise QualityInputError("prior_strength must be >= 0")
    wk = as_1d(workers, "workers")
    it_arr = as_1d(items, "items")
    ch = as_1d(choices, "choices")
    check_same_length(workers=wk, items=it_arr, choices=ch)
    ans = _choice_codes(ch, labels)
    w_codes, worker_ids = encode(wk)
    i_codes, item_ids = encode(it_arr)
    n_items, n_workers = len(item_ids), len(worker_ids)
    n_answers = np.bincount(i_codes, minlength=n_items).astype(np.intp)
    accuracy = None
    if worker_reliability is not None:
        accuracy = np.array(
            [float(worker_reliability.get(w, prior_accuracy)) for w in worker_ids.tolist()]
        )
        if np.any((accuracy <= 0) | (accuracy >= 1)):
            raise QualityInputError("worker_reliability values must be in (0, 1)")
    counts = answer_counts(w_codes, i_codes, ans, n_workers=n_workers, n_items=n_items)
    del w_codes, i_codes, ans  # the fit needs only the count matrix: less memory at its peak
    post, conf, prior, n_iter = fit_ab_dawid_skene(
        counts,
        accuracy=accuracy,
        prior_accuracy=prior_accuracy,
        prior_strength=prior_strength,
        max_iter=max_iter,
        tol=tol,
    )
    label_arr = np.empty(3, dtype=object)
    label_arr[:] = list(labels)
    # Exactly equal posteriors go to "tie" first, then A.
    order = np.array([1, 0, 2])
    best = order[np.argmax(post[:, order], axis=1)]
    return PairwiseConsensusResult(
        item_ids=item_ids,
        p_a_better=post[:, 0],
        p_tie=post[:, 1],
        p_b_better=post[:, 2],
        choice=label_arr[best],
        n_answers=n_answers,
        worker_ids=worker_ids,
        worker_confusion=conf,
        class_prior=prior,
        n_iter=n_iter,
    )
