"""Adaptive redundancy: how many answers an item needs, decided as its answers arrive.

Every item first gets ``min_answers`` answers. From then on, after each answer, the item's
*confidence* is the posterior probability of its most probable class given its answers;
it stops collecting once that reaches ``target_confidence``, and otherwise asks for one
more answer, up to ``max_answers``. The live system (``services/redundancy.py``) and the
offline :func:`replay` call the same two functions, :func:`item_posterior` and
:func:`next_target`, so they stop at the same points on the same answers and model.

The model (:class:`WorkerModel`)
--------------------------------
Dawid and Skene's (A. P. Dawid & A. M. Skene, "Maximum likelihood estimation of observer
error-rates using the EM algorithm", Applied Statistics 28(1), 1979): an item's true class
``z`` has prior ``p``; worker ``w`` gives label ``l`` to an item of class ``k`` with
probability ``pi_w[k, l]``, independently of the other answers. So, for an item with answers
``l_1..l_n`` from workers ``w_1..w_n``::

    P(z = k | answers) = p_k * prod_j pi_{w_j}[k, l_j] / (sum over k' of the same)

and the item's *confidence* is the largest of these probabilities.

The parameters come from the project's last consensus fit (the snapshot job), not from the
item itself: :func:`fit_worker_model` takes the fitted class posteriors of every answered
item and computes each worker's expected counts ``N_w[k, l]`` (the posterior of class ``k``
summed over the items where ``w`` said ``l``). Each row of ``pi_w`` is the posterior mean of
a Dirichlet prior centred on the crowd's matrix (every worker's counts pooled) with
``prior_strength`` pseudo-answers, updated with ``N_w``: a worker with few answers is the
crowd, one with many is its own counts (the shrinkage of hierarchical Dawid-Skene models,
e.g. Paun et al., "Comparing Bayesian Models of Annotation", TACL 2018). Probabilities are
kept at or above 0.001, so no single answer is ever certain. A worker the fit has not seen
gets the crowd's matrix. The class prior ``p`` is the Dirichlet posterior mean of the fitted
class shares (one pseudo-count per class). Before any fit, :meth:`WorkerModel.uninformed`
takes every worker as right with probability ``prior_accuracy`` (0.7) and otherwise
uniformly wrong, and the classes as equally likely.

How the defaults were chosen
----------------------------
``min_answers=3``, ``max_answers=20``, ``target_confidence=0.999``: looked for on simulated
crowds with known truth (:mod:`expertloop.quality.simulation`, where they save 4-38% of the
answers at the accuracy of ``aggregate(method="auto")`` on all of them), then checked on the
nine real data sets of ``../shared/data`` by ``bench/redundancy.py``, which also scores the
*procedure* of choosing a policy by leave-one-dataset-out (chosen on eight, scored on the
ninth). ``docs/quality.md`` gives the figures, including where the defaults fall short.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from expertloop.quality._agg_common import prepare
from expertloop.quality._common import QualityInputError
from expertloop.quality.aggregation import aggregate, one_coin_dawid_skene

__all__ = [
    "DEFAULT_POLICY",
    "Confusion",
    "RedundancyPolicy",
    "ReplayResult",
    "WorkerModel",
    "fit_worker_model",
    "item_posterior",
    "next_target",
    "replay",
]

# A worker's accuracy is kept within these bounds (see the module docstring).
_MAX_ACCURACY = 0.995


@dataclass(frozen=True)
class RedundancyPolicy:
    """When an item stops collecting answers.

    ``min_answers`` answers always; then stop once the confidence reaches
    ``target_confidence``, and never go past ``max_answers``.
    """

    min_answers: int = 3
    max_answers: int = 20
    target_confidence: float = 0.999

    def __post_init__(self) -> None:
        problem = policy_problem(self.min_answers, self.max_answers, self.target_confidence)
        if problem is not None:
            raise QualityInputError(problem)


def policy_problem(min_answers: int, max_answers: int, target_confidence: float) -> str | None:
    """Why these settings make no policy, or ``None`` when they do."""
    if not 1 <= min_answers <= max_answers:
        return "need 1 <= min_answers <= max_answers"
    if not 0.5 <= target_confidence < 1:
        return "target_confidence must be at least 0.5 and below 1"
    return None


DEFAULT_POLICY = RedundancyPolicy()
"""The recommended policy (see the module docstring for how it was chosen)."""


def next_target(n_answers: int, confidence: float, policy: RedundancyPolicy) -> int:
    """How many answers the item should end with, knowing ``n_answers`` of them and the
    ``confidence`` they give: ``min_answers`` while below it; ``n_answers`` (stop) once the
    confidence reaches the target or the item has ``max_answers``; else one more.

    >>> p = RedundancyPolicy(min_answers=2, max_answers=4, target_confidence=0.9)
    >>> next_target(1, 0.99, p), next_target(2, 0.95, p), next_target(2, 0.6, p)
    (2, 2, 3)
    >>> next_target(4, 0.6, p)
    4
    """
    if n_answers < policy.min_answers:
        return policy.min_answers
    if n_answers >= policy.max_answers or confidence >= policy.target_confidence:
        return n_answers
    return n_answers + 1


Confusion = tuple[tuple[float, ...], ...]


@dataclass(frozen=True)
class WorkerModel:
    """Per-worker confusion matrices and a class prior (see the module docstring).

    ``classes`` is the number of classes ``K``; labels are given as class codes
    ``0..K-1``. ``confusion`` maps a worker id to its ``K x K`` matrix (row ``k``: the
    labels it gives to items of true class ``k``); workers missing from it get
    ``default_confusion``, the crowd's.
    """

    classes: int
    class_prior: tuple[float, ...]
    default_confusion: Confusion
    confusion: Mapping[Hashable, Confusion] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.classes < 2:
            raise QualityInputError("a worker model needs at least two classes")
        if len(self.class_prior) != self.classes:
            raise QualityInputError("class_prior needs one probability per class")

    @classmethod
    def uninformed(cls, classes: int, *, prior_accuracy: float = 0.7) -> WorkerModel:
        """The model before any fit: every worker right with probability
        ``prior_accuracy`` and otherwise uniformly wrong; classes equally likely."""
        return cls(classes, tuple([1.0 / classes] * classes),
                   one_coin_matrix(prior_accuracy, classes))

    def confusion_of(self, worker: Hashable) -> Confusion:
        return self.confusion.get(worker, self.default_confusion)

    def accuracy_of(self, worker: Hashable) -> float:
        """The worker's chance of a right answer, ``sum_k p_k pi_w[k, k]``."""
        m = self.confusion_of(worker)
        return sum(p * m[k][k] for k, p in enumerate(self.class_prior))


def one_coin_matrix(accuracy: float, k: int) -> Confusion:
    """The ``K x K`` matrix of a worker right with probability ``accuracy``, otherwise
    uniformly wrong."""
    a = min(max(accuracy, 1.0 / k), _MAX_ACCURACY)
    off = (1.0 - a) / (k - 1)
    return tuple(tuple(a if c == r else off for c in range(k)) for r in range(k))


def item_posterior(
    model: WorkerModel, workers: Sequence[Hashable], labels: Sequence[int]
) -> list[float]:
    """``P(class | the item's answers)`` under ``model``: one probability per class.

    ``labels`` are class codes; an answer whose code is outside ``0..K-1`` is ignored.
    Pure Python on purpose: it runs at every submit on a handful of answers.

    >>> m = WorkerModel.uninformed(2, prior_accuracy=0.9)
    >>> [round(p, 3) for p in item_posterior(m, ["a", "b"], [1, 1])]
    [0.012, 0.988]
    """
    k = model.classes
    log_post = [math.log(max(p, _FLOOR)) for p in model.class_prior]
    for worker, label in zip(workers, labels, strict=True):
        if 0 <= label < k:
            m = model.confusion_of(worker)
            for c in range(k):
                log_post[c] += math.log(max(m[c][label], _FLOOR))
    top = max(log_post)
    ex = [math.exp(v - top) for v in log_post]
    total = sum(ex)
    return [v / total for v in ex]


_FLOOR = 1e-6


def fit_worker_model(
    workers: ArrayLike | Iterable[Any],
    units: ArrayLike | Iterable[Any],
    labels: ArrayLike | Iterable[Any],
    posteriors: ArrayLike,
    *,
    unit_ids: ArrayLike,
    prior_strength: float = 5.0,
) -> WorkerModel:
    """The :class:`WorkerModel` a consensus fit implies (see the module docstring).

    ``workers``, ``units``, ``labels``: one entry per answer, labels as class codes
    ``0..K-1``; ``posteriors``: ``(n_units, K)`` fitted class probabilities of the units
    ``unit_ids`` (sorted), e.g. :attr:`AggregationResult.posteriors` with its ``item_ids``.
    Answers on units missing from ``unit_ids`` are ignored.
    """
    post = np.asarray(posteriors, dtype=np.float64)
    if post.ndim != 2 or post.shape[1] < 2:
        raise QualityInputError("posteriors must be (n_units, K) with K >= 2")
    k = post.shape[1]
    ids = np.asarray(unit_ids)
    w = np.asarray(workers)
    u = np.asarray(units)
    lab = np.asarray(labels, dtype=np.int64)
    if not (len(w) == len(u) == len(lab)):
        raise QualityInputError("workers, units and labels must have the same length")
    if len(ids):
        pos = np.minimum(np.searchsorted(ids, u), len(ids) - 1)
        keep = (ids[pos] == u) & (lab >= 0) & (lab < k)
    else:
        pos, keep = np.zeros(len(u), dtype=np.intp), np.zeros(len(u), dtype=bool)
    w, pos, lab = w[keep], pos[keep], lab[keep]
    shares = (post.sum(axis=0) + 1.0) / (len(post) + k)
    # The crowd's confusion: expected counts over every answer, one pseudo-answer per cell
    # toward the uninformed matrix.
    start = np.asarray(one_coin_matrix(0.7, k))
    seen = post[pos]  # (n_answers, K): the fitted class probabilities of each answer's item
    crowd = np.zeros((k, k))
    for label in range(k):
        crowd[:, label] = seen[lab == label].sum(axis=0)
    crowd = _rows(crowd + start)
    if not len(w):
        return WorkerModel(k, tuple(shares.tolist()), _as_tuple(crowd))
    worker_ids, codes = np.unique(w, return_inverse=True)
    counts = np.zeros((len(worker_ids), k, k))
    for label in range(k):
        given = lab == label
        for true in range(k):
            counts[:, true, label] = np.bincount(
                codes[given], weights=seen[given, true], minlength=len(worker_ids)
            )
    mats = _rows(counts + prior_strength * crowd[None, :, :])
    return WorkerModel(
        k,
        tuple(shares.tolist()),
        _as_tuple(crowd),
        {wid: _as_tuple(m) for wid, m in zip(worker_ids.tolist(), mats, strict=True)},
    )


def _rows(x: NDArray[np.float64]) -> NDArray[np.float64]:
    x = np.maximum(x, 0.0)
    x = x / np.maximum(x.sum(axis=-1, keepdims=True), 1e-300)
    x = np.clip(x, 1e-3, 1.0)
    return x / x.sum(axis=-1, keepdims=True)


def _as_tuple(m: NDArray[np.float64]) -> Confusion:
    return tuple(tuple(float(v) for v in row) for row in m)


@dataclass(frozen=True, eq=False)
class ReplayResult:
    """What :func:`replay` found.

    Attributes:
        item_ids: the distinct items, sorted.
        labels: each item's final consensus: ``aggregate(method="auto")`` on the answers
            used (what an export of the adaptive project would say).
        confidence: each item's confidence when it stopped (under the model of that time).
        answers_used_per_item, answers_available_per_item: per item.
        answers_used, answers_available: the totals.
        classes: the classes, sorted (label codes index them).
        used: a boolean per input answer: was it used.
        policy: the policy replayed.
    """

    item_ids: NDArray[Any]
    labels: NDArray[Any]
    confidence: NDArray[np.float64]
    answers_used_per_item: NDArray[np.intp]
    answers_available_per_item: NDArray[np.intp]
    classes: NDArray[Any]
    used: NDArray[np.bool_]
    policy: RedundancyPolicy

    @property
    def answers_used(self) -> int:
        return int(self.answers_used_per_item.sum())

    @property
    def answers_available(self) -> int:
        return int(self.answers_available_per_item.sum())

    @property
    def saving(self) -> float:
        """The share of the available answers left unused."""
        return 1.0 - self.answers_used / max(self.answers_available, 1)

    def as_dict(self) -> dict[Hashable, Hashable]:
        return dict(zip(self.item_ids.tolist(), self.labels.tolist(), strict=True))


Refit = Callable[[NDArray[np.intp], NDArray[np.intp], NDArray[np.intp], int], WorkerModel]


def replay(
    workers: ArrayLike | Iterable[Any],
    items: ArrayLike | Iterable[Any],
    labels: ArrayLike | Iterable[Any],
    *,
    min_answers: int = DEFAULT_POLICY.min_answers,
    max_answers: int = DEFAULT_POLICY.max_answers,
    target_confidence: float = DEFAULT_POLICY.target_confidence,
    seed: int = 0,
    model: WorkerModel | None = None,
    shuffle: bool = True,
    prior_accuracy: float = 0.7,
    prior_strength: float = 5.0,
    classes: Sequence[Hashable] | None = None,
    final: str = "auto",
) -> ReplayResult:
    """Replay recorded answers through the adaptive stopping rule.

    Each item's answers are taken in a random order (``seed``; in the given order with
    ``shuffle=False``), one at a time, and the item stops where the live system would
    (:func:`next_target`): after ``min_answers``, once :func:`item_posterior` reaches
    ``target_confidence``, or at ``max_answers``, or when its recorded answers run out.

    The worker model is what the live system's periodic consensus fit gives it. Answers
    arrive in rounds: first every item's ``min_answers``, then one more answer per item still
    collecting, and so on; before each round the model is refitted on the answers used so
    far (one-coin Dawid-Skene, then :func:`fit_worker_model`), as the snapshot job refits
    while work goes on. The first round uses :meth:`WorkerModel.uninformed`
    (``prior_accuracy``). Pass ``model`` to use one fixed model throughout instead (the live
    system between two refits; labels then are class codes ``0..K-1`` of that model).

    ``labels`` of the result are the final consensus of each item on the answers it used,
    ``aggregate(method=final)``. Arrays are array-likes as in
    :func:`~expertloop.quality.aggregate`.

    >>> r = replay(["a", "b", "c", "d"] * 2, [1, 1, 1, 1, 2, 2, 2, 2],
    ...            ["x", "x", "x", "x", "x", "y", "x", "y"], min_answers=2, max_answers=4,
    ...            target_confidence=0.8, shuffle=False)
    >>> r.answers_used_per_item.tolist(), r.answers_available
    ([2, 4], 8)
    """
    policy = RedundancyPolicy(min_answers, max_answers, target_confidence)
    obs = prepare(workers, items, labels, classes=classes)
    k = max(obs.n_classes, 2)
    if model is not None and model.classes < obs.n_classes:
        raise QualityInputError("the model has fewer classes than the labels")
    rng = np.random.default_rng(seed)
    n_items = obs.n_items
    order = np.argsort(obs.i, kind="stable")
    starts = np.searchsorted(obs.i[order], np.arange(n_items + 1))
    queues: list[NDArray[np.intp]] = []
    for i in range(n_items):
        mine = order[starts[i] : starts[i + 1]]
        queues.append(rng.permutation(mine) if shuffle else mine)
    available = np.diff(starts).astype(np.intp)
    used_n = np.zeros(n_items, dtype=np.intp)
    target = np.full(n_items, policy.min_answers, dtype=np.intp)
    confidence = np.zeros(n_items)
    used = np.zeros(len(obs.w), dtype=bool)
    current = model if model is not None else WorkerModel.uninformed(
        k, prior_accuracy=prior_accuracy
    )
    worker_of = obs.worker_ids  # models know workers by their ids, not by codes
    active = [i for i in range(n_items) if available[i] > 0]
    first = True
    while active:
        if not first and model is None:
            current = _refit(obs, used, k, prior_strength, fallback=current)
        still = []
        for i in active:
            # This round: up to the target (the first round), or one more answer.
            stop_at = min(int(target[i]), int(available[i]))
            q = queues[i]
            while used_n[i] < stop_at:
                used[q[used_n[i]]] = True
                used_n[i] += 1
                n = int(used_n[i])
                answered = q[:n]
                post = item_posterior(current, worker_of[obs.w[answered]].tolist(),
                                      obs.l[answered].tolist())
                confidence[i] = max(post)
                target[i] = next_target(n, confidence[i], policy)
            if used_n[i] < target[i] and used_n[i] < available[i]:
                still.append(i)
        active = still
        first = False
    final_labels = _final_labels(obs, used, final, seed)
    return ReplayResult(
        item_ids=obs.item_ids,
        labels=final_labels,
        confidence=confidence,
        answers_used_per_item=used_n,
        answers_available_per_item=available,
        classes=obs.classes,
        used=used,
        policy=policy,
    )


def _refit(obs: Any, used: NDArray[np.bool_], k: int, prior_strength: float,
           fallback: WorkerModel) -> WorkerModel:
    w, i, lab = obs.w[used], obs.i[used], obs.l[used]
    try:
        fit = one_coin_dawid_skene(w, i, lab, classes=list(range(k)))
    except Exception:  # a fit that fails leaves the previous model in place, as live
        return fallback
    return fit_worker_model(
        obs.worker_ids[w], i, lab, fit.posteriors, unit_ids=fit.item_ids,
        prior_strength=prior_strength,
    )


def _final_labels(obs: Any, used: NDArray[np.bool_], method: str, seed: int) -> NDArray[Any]:
    w, i, lab = obs.w[used], obs.i[used], obs.l[used]
    agg = aggregate(w, i, lab, method=method, classes=list(range(obs.n_classes)), seed=seed)
    out = np.empty(obs.n_items, dtype=obs.classes.dtype)
    out[agg.item_ids] = obs.classes[agg.labels]
    return out
