"""The stopping rule and the worker model of adaptive redundancy (see
:mod:`expertloop.quality.redundancy`, which documents and re-exports them)."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from expertloop.quality._common import QualityInputError

__all__ = [
    "DEFAULT_CALIBRATE",
    "DEFAULT_EVIDENCE_WEIGHT",
    "DEFAULT_POLICY",
    "DEFAULT_REFIT",
    "Confusion",
    "RedundancyPolicy",
    "WorkerModel",
    "audit_draw",
    "audit_policy",
    "fit_worker_model",
    "is_audited",
    "item_confidence",
    "item_posterior",
    "item_target",
    "next_target",
    "one_coin_matrix",
    "policy_problem",
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
    max_answers: int = 40
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


def audit_draw(salt: Hashable, item: Hashable) -> float:
    """A number in ``[0, 1)`` fixed by ``salt`` and ``item`` (their ``str``), uniform over
    items: the first 8 bytes of the SHA-256 of ``"{salt}:{item}"``. The same on every
    machine and in every process (unlike ``hash``), so a choice made from it survives
    restarts.

    >>> audit_draw(7, 12) == audit_draw("7", "12")
    True
    """
    digest = hashlib.sha256(f"{salt}:{item}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64


def is_audited(salt: Hashable, item: Hashable, share: float) -> bool:
    """Whether ``item`` is in the audit sample of a share ``share`` of the items: its
    :func:`audit_draw` is below ``share``. Each item's own draw decides it, so the choice
    never changes as items are added, and a share of ``share`` of the items is chosen in
    expectation (binomial: 100 items at 0.1 give 10 +- 3). The live system's salt is the
    project id (``services/redundancy.py``), :func:`replay`'s its ``seed``.

    >>> is_audited(1, 5, 0.0), is_audited(1, 5, 1.0)
    (False, True)
    """
    return share > 0 and audit_draw(salt, item) < share


def audit_policy(policy: RedundancyPolicy) -> RedundancyPolicy:
    """The policy of an audited item: one answer more than ``min_answers`` whatever the
    confidence (up to ``max_answers``), then the same stopping rule. The extra answer is
    the overlap a judge's and a worker's reliability are measured on: with
    ``min_answers=1`` an item otherwise ends with one answer and a verdict, and a fit
    cannot tell which of two annotators is right when they disagree."""
    return replace(policy, min_answers=min(policy.min_answers + 1, policy.max_answers))


def item_target(
    n_answers: int, confidence: float, policy: RedundancyPolicy, *, audited: bool = False
) -> int:
    """:func:`next_target` under ``policy``, or under :func:`audit_policy` for an item of
    the audit sample (:func:`is_audited`): what the live system and :func:`replay` set.

    >>> p = RedundancyPolicy(min_answers=1, max_answers=5, target_confidence=0.9)
    >>> item_target(1, 0.99, p), item_target(1, 0.99, p, audited=True)
    (1, 2)
    """
    return next_target(n_answers, confidence, audit_policy(policy) if audited else policy)


Confusion = tuple[tuple[float, ...], ...]

DEFAULT_EVIDENCE_WEIGHT = 1.0
"""The power each answer's likelihood is raised to in :func:`item_posterior`."""

DEFAULT_REFIT = "hierarchical_dawid_skene"
"""The consensus fit behind the recommended stopping model (``replay(refit=...)``, the live
``redundancy.fit`` job; see the module docstring of :mod:`expertloop.quality.redundancy`)."""

DEFAULT_CALIBRATE = False
"""Whether the recommended refit estimates the answers' within-item correlation
(:func:`fit_worker_model` ``calibrate``; see the module docstring of
:mod:`expertloop.quality.redundancy` for how this was chosen)."""


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
    evidence_weight: float = DEFAULT_EVIDENCE_WEIGHT
    correlation: float = 0.0

    def __post_init__(self) -> None:
        if self.classes < 2:
            raise QualityInputError("a worker model needs at least two classes")
        if len(self.class_prior) != self.classes:
            raise QualityInputError("class_prior needs one probability per class")
        if not 0 < self.evidence_weight <= 1:
            raise QualityInputError("evidence_weight must be in (0, 1]")
        if not 0 <= self.correlation < 1:
            raise QualityInputError("correlation must be in [0, 1)")

    def weight_of(self, n_answers: int) -> float:
        """The power each of ``n_answers`` answers on one item is raised to:
        ``evidence_weight / (1 + (n - 1) * correlation)``, so that ``n`` answers whose errors
        correlate ``correlation`` within the item weigh as Kish's effective sample size
        ``n / (1 + (n - 1) * correlation)`` of independent ones (at most ``1 / correlation``
        however many agree)."""
        return self.evidence_weight / (1.0 + max(n_answers - 1, 0) * self.correlation)

    @classmethod
    def uninformed(
        cls,
        classes: int,
        *,
        prior_accuracy: float = 0.7,
        evidence_weight: float = DEFAULT_EVIDENCE_WEIGHT,
    ) -> WorkerModel:
        """The model before any fit: every worker right with probability
        ``prior_accuracy`` and otherwise uniformly wrong; classes equally likely."""
        return cls(
            classes,
            tuple([1.0 / classes] * classes),
            one_coin_matrix(prior_accuracy, classes),
            evidence_weight=evidence_weight,
        )

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
    weight = model.weight_of(sum(1 for label in labels if 0 <= label < k))
    log_post = [math.log(max(p, _FLOOR)) for p in model.class_prior]
    for worker, label in zip(workers, labels, strict=True):
        if 0 <= label < k:
            m = model.confusion_of(worker)
            for c in range(k):
                log_post[c] += weight * math.log(max(m[c][label], _FLOOR))
    top = max(log_post)
    ex = [math.exp(v - top) for v in log_post]
    total = sum(ex)
    return [v / total for v in ex]


_FLOOR = 1e-6


def item_confidence(
    model: WorkerModel,
    workers: Sequence[Hashable],
    labels: Sequence[int],
    judges: Sequence[Hashable] = (),
    verdicts: Sequence[int] = (),
) -> tuple[float, int]:
    """The class the item would be exported as, and the probability that it is right:
    what the stopping rule compares with ``target_confidence``.

    The exported label is the experts' (a judge's verdict is a model suggestion, never an
    answer), so the class is the experts' plurality class (the one most of ``labels`` give;
    a tie in votes goes to :func:`item_posterior` on the experts' ``workers`` and
    ``labels`` alone, whose class prior could otherwise outweigh a lone answer), and its
    probability is taken from :func:`item_posterior` on the answers *and* the judges'
    ``verdicts`` (annotator keys ``judges``): where a reliable judge agrees with the
    experts the item stops sooner, and where it sides against them the experts' class
    loses probability and the item asks for another expert, instead of stopping on the
    judge's class while exporting the experts' (on MT-Bench, at 0.95, 26 items stopped
    after one expert's ``tie`` and GPT-4's ``A`` or ``B`` and were exported as ``tie``; 9
    of them matched the consensus of all the votes). Where the experts' answers
    tie between classes (either may be exported), the less probable one counts. Without
    verdicts (or without answers) this is the posterior's largest probability and its
    class.

    >>> m = WorkerModel.uninformed(3, prior_accuracy=0.8)
    >>> [round(p, 3) for p in item_posterior(m, ["j", "g", "a"], [0, 0, 2])]
    [0.877, 0.014, 0.11]
    >>> c, k = item_confidence(m, ["a"], [2], ["j", "g"], [0, 0])
    >>> k, round(c, 3)
    (2, 0.11)
    >>> c, k = item_confidence(m, ["a"], [2], ["j"], [2])
    >>> k, round(c, 3)
    (2, 0.97)
    """
    post = item_posterior(model, list(judges) + list(workers), list(verdicts) + list(labels))
    if not judges or not any(0 <= label < model.classes for label in labels):
        top = max(post)
        return top, post.index(top)
    votes = [0] * model.classes
    for label in labels:
        if 0 <= label < model.classes:
            votes[label] += 1
    own = item_posterior(model, workers, labels)
    # The experts' plurality class; a tie in votes goes to the experts' posterior, and one
    # in both (either may be exported) to the class the verdicts make less probable.
    k = max(range(model.classes), key=lambda c: (votes[c], own[c], -post[c]))
    return post[k], k


def fit_worker_model(
    workers: ArrayLike | Iterable[Any],
    units: ArrayLike | Iterable[Any],
    labels: ArrayLike | Iterable[Any],
    posteriors: ArrayLike,
    *,
    unit_ids: ArrayLike,
    prior_strength: float = 5.0,
    evidence_weight: float = DEFAULT_EVIDENCE_WEIGHT,
    leave_one_out: bool = False,
    calibrate: bool = DEFAULT_CALIBRATE,
) -> WorkerModel:
    """The :class:`WorkerModel` a consensus fit implies (see the module docstring).

    ``workers``, ``units``, ``labels``: one entry per answer, labels as class codes
    ``0..K-1``; ``posteriors``: ``(n_units, K)`` fitted class probabilities of the units
    ``unit_ids`` (sorted), e.g. :attr:`AggregationResult.posteriors` with its ``item_ids``.
    Answers on units missing from ``unit_ids`` are ignored, and so are answers alone on
    their unit (they agree with a posterior they alone made: with one answer per item every
    worker would look perfect). ``evidence_weight`` is stored in the model
    (:attr:`WorkerModel.evidence_weight`). ``leave_one_out=True`` counts each answer
    against its unit's posterior *without* it (its likelihood under a first fit divided
    out): no answer flatters its own worker, but with two or three answers per unit the
    other answers are a noisy reference and accuracies come out too low (more answers,
    fewer savings); off by default.

    ``calibrate=True`` also estimates :attr:`WorkerModel.correlation` from these answers
    (see :func:`_calibrated_correlation`); otherwise it is 0, independent answers.
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
    seen = post[pos]  # (n_answers, K): the fitted class probabilities of each answer's item
    # An answer alone on its unit agrees with a posterior it alone made: no evidence.
    weight = (np.bincount(pos, minlength=len(post))[pos] > 1).astype(np.float64)
    crowd, worker_ids, mats = _confusions(w, lab, seen, weight, k, prior_strength)
    if leave_one_out and len(w):
        # Score each answer against its unit's posterior without it: divide its likelihood
        # (under the first fit) out.
        codes = np.searchsorted(worker_ids, w)
        others = seen / np.maximum(mats[codes, :, lab], 1e-12)
        seen = others / others.sum(axis=1, keepdims=True)
        crowd, worker_ids, mats = _confusions(w, lab, seen, weight, k, prior_strength)
    correlation = 0.0
    if calibrate and len(w):
        correlation = _calibrated_correlation(
            w, pos, lab, post[pos], weight, shares, k, prior_strength, evidence_weight
        )
    return WorkerModel(
        k,
        tuple(shares.tolist()),
        _as_tuple(crowd),
        {wid: _as_tuple(m) for wid, m in zip(worker_ids.tolist(), mats, strict=True)},
        evidence_weight=evidence_weight,
        correlation=correlation,
    )


# The within-item correlations the calibration chooses among.
_CORRELATION_GRID = (0.0, 0.01, 0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.6)


def _calibrated_correlation(
    w: NDArray[Any],
    pos: NDArray[np.intp],
    lab: NDArray[np.int64],
    seen: NDArray[np.float64],
    weight: NDArray[np.float64],
    shares: NDArray[np.float64],
    k: int,
    prior_strength: float,
    evidence_weight: float,
) -> float:
    """The within-item correlation ``rho`` under which the posterior best predicts
    held-out answers.

    For every answer on a unit with two answers or more, the probability of its label given
    the ``m`` *other* answers of its unit, ``sum_k P_rho(k | others) pi_w[k, l]``, where
    ``P_rho(k | others) ∝ p_k prod pi^(tau / (1 + (m - 1) rho))`` (``tau`` the evidence
    weight) and every confusion matrix leaves the unit out (its expected counts without the
    unit's own answers, so no answer vouches for itself). ``rho`` maximises the sum of the
    log probabilities (a proper score) over a grid from 0 to 0.6. With independent answers
    the untempered posterior is the true predictive and ``rho`` comes out near 0; where
    agreeing answers are not independent (items that mislead most workers the same way,
    workers who share a bias) agreement predicts the next answer less well than the model
    says, and ``rho`` grows.
    """
    multi = weight > 0
    if multi.sum() < 2:
        return 0.0
    w, pos, lab, seen = w[multi], pos[multi], lab[multi], seen[multi]
    crowd_counts, _, codes, counts = _counts(w, lab, seen, np.ones(len(w)), k)
    start = np.asarray(one_coin_matrix(0.7, k))
    crowd = _rows(crowd_counts + start)
    # The answer's own column of its worker's matrix, without the unit's answers (a worker
    # answers a unit once as a rule; its own expected count is what the unit contributed).
    num = counts[codes, :, lab] - seen + prior_strength * crowd[:, lab].T
    den = counts[codes].sum(axis=2) - seen + prior_strength
    like = np.clip(np.maximum(num, 0.0) / np.maximum(den, 1e-12), 1e-3, 1.0)
    log_like = np.log(like)  # (n_answers, K)
    _, unit = np.unique(pos, return_inverse=True)
    per_unit = np.zeros((unit.max() + 1, k))
    np.add.at(per_unit, unit, log_like)
    others = per_unit[unit] - log_like  # (n_answers, K)
    m = np.bincount(unit)[unit] - 1.0  # how many others each held-out answer has
    log_prior = np.log(shares)
    best, best_score = 0.0, -np.inf
    for rho in _CORRELATION_GRID:
        tau = evidence_weight / (1.0 + (m - 1.0) * rho)
        z = log_prior + tau[:, None] * others
        z = z - z.max(axis=1, keepdims=True)
        log_post = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        joint = log_post + log_like
        top = joint.max(axis=1, keepdims=True)
        score = float((top[:, 0] + np.log(np.exp(joint - top).sum(axis=1))).sum())
        if score > best_score + 1e-9:
            best, best_score = rho, score
    return best


def _counts(
    w: NDArray[Any],
    lab: NDArray[np.int64],
    seen: NDArray[np.float64],
    weight: NDArray[np.float64],
    k: int,
) -> tuple[NDArray[np.float64], NDArray[Any], NDArray[np.intp], NDArray[np.float64]]:
    """Expected counts: the crowd's ``(K, K)`` and each worker's ``(n_workers, K, K)``."""
    seen = seen * weight[:, None]
    crowd = np.zeros((k, k))
    for label in range(k):
        crowd[:, label] = seen[lab == label].sum(axis=0)
    worker_ids, codes = np.unique(w, return_inverse=True)
    counts = np.zeros((len(worker_ids), k, k))
    for label in range(k):
        given = lab == label
        for true in range(k):
            counts[:, true, label] = np.bincount(
                codes[given], weights=seen[given, true], minlength=len(worker_ids)
            )
    return crowd, worker_ids, codes, counts


def _confusions(
    w: NDArray[Any],
    lab: NDArray[np.int64],
    seen: NDArray[np.float64],
    weight: NDArray[np.float64],
    k: int,
    prior_strength: float,
) -> tuple[NDArray[np.float64], NDArray[Any], NDArray[np.float64]]:
    """The crowd's matrix (expected counts over every answer, one pseudo-answer per cell
    toward the uninformed matrix) and each worker's (its counts plus ``prior_strength``
    pseudo-answers of the crowd's)."""
    start = np.asarray(one_coin_matrix(0.7, k))
    crowd, worker_ids, _, counts = _counts(w, lab, seen, weight, k)
    crowd = _rows(crowd + start)
    return crowd, worker_ids, _rows(counts + prior_strength * crowd[None, :, :])


def _rows(x: NDArray[np.float64]) -> NDArray[np.float64]:
    x = np.maximum(x, 0.0)
    x = x / np.maximum(x.sum(axis=-1, keepdims=True), 1e-300)
    x = np.clip(x, 1e-3, 1.0)
    return x / x.sum(axis=-1, keepdims=True)


def _as_tuple(m: NDArray[np.float64]) -> Confusion:
    return tuple(tuple(float(v) for v in row) for row in m)
