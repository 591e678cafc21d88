"""Simulated crowds whose errors are correlated on hard items, and simulated LLM judges.

For testing adaptive redundancy (:mod:`expertloop.quality.redundancy`), where the danger is
a stopping rule that treats agreeing answers as independent evidence when they are not:

- :func:`simulate_correlated`: ``n_items`` items of ``n_classes`` classes, each answered by
  ``answers_per_item`` distinct workers (uniformly drawn) of accuracies uniform in
  ``accuracy`` (errors spread evenly). A share ``hard_share`` of the items is *hard*: each
  has a wrong *distractor* class, and every worker answering it gives the distractor with
  probability ``pull``, whatever its accuracy, and otherwise answers as usual. The answers on
  a hard item therefore agree on the same wrong class far more often than independent
  errors would.
- :func:`simulate_judge`: one verdict per item from a judge right with probability
  ``accuracy`` (on hard items ``hard_accuracy``, by default the same), otherwise giving a
  wrong class: uniformly drawn, or with ``systematic=True`` always the next class (an
  adversarial judge). A share ``unsure`` of the verdicts is ``-1``: no class (what an
  inconsistent verdict across swapped presentation orders becomes).

Both draw every random number from ``seed``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from expertloop.quality._common import QualityInputError

__all__ = ["CorrelatedCrowd", "SimulatedJudge", "simulate_correlated", "simulate_judge"]

IntArray = NDArray[np.intp]


@dataclass(frozen=True, eq=False)
class CorrelatedCrowd:
    """Answers (parallel arrays of integer codes), the truth and which items are hard."""

    workers: IntArray
    items: IntArray
    labels: IntArray
    truth: IntArray
    hard: NDArray[np.bool_]
    distractor: IntArray
    n_classes: int

    def accuracy(self, item_ids: NDArray[np.generic], labels: NDArray[np.generic]) -> float:
        ids = np.asarray(item_ids, dtype=np.intp)
        return float(np.mean(np.asarray(labels, dtype=np.intp) == self.truth[ids]))


@dataclass(frozen=True, eq=False)
class SimulatedJudge:
    """A judge's verdicts, as ``replay(judges=...)`` takes them (``as_tuple``)."""

    judge_ids: NDArray[np.str_]
    items: IntArray
    labels: IntArray

    def as_tuple(self) -> tuple[NDArray[np.str_], IntArray, IntArray]:
        return self.judge_ids, self.items, self.labels


def simulate_correlated(
    *,
    seed: int = 0,
    n_items: int = 600,
    n_classes: int = 2,
    n_workers: int = 40,
    answers_per_item: int = 10,
    accuracy: tuple[float, float] = (0.65, 0.95),
    hard_share: float = 0.15,
    pull: float = 0.6,
) -> CorrelatedCrowd:
    """Draw a crowd with correlated errors on hard items (see the module docstring)."""
    if n_classes < 2 or not 1 <= answers_per_item <= n_workers or n_items < 1:
        raise QualityInputError("need n_classes >= 2, 1 <= answers_per_item <= n_workers")
    if not (0 <= hard_share <= 1 and 0 <= pull <= 1 and 0 <= accuracy[0] <= accuracy[1] <= 1):
        raise QualityInputError("hard_share, pull and accuracy must be probabilities")
    rng = np.random.default_rng(seed)
    k = n_classes
    truth = rng.integers(0, k, n_items).astype(np.intp)
    hard = rng.random(n_items) < hard_share
    distractor = ((truth + rng.integers(1, k, n_items)) % k).astype(np.intp)
    acc = rng.uniform(accuracy[0], accuracy[1], n_workers)
    keys = rng.random((n_items, n_workers))
    chosen = np.argpartition(keys, answers_per_item - 1, axis=1)[:, :answers_per_item]
    workers = chosen.reshape(-1).astype(np.intp)
    items = np.repeat(np.arange(n_items, dtype=np.intp), answers_per_item)
    right = rng.random(len(items)) < acc[workers]
    wrong = (truth[items] + rng.integers(1, k, len(items))) % k
    labels = np.where(right, truth[items], wrong).astype(np.intp)
    pulled = hard[items] & (rng.random(len(items)) < pull)
    labels[pulled] = distractor[items[pulled]]
    return CorrelatedCrowd(workers, items, labels, truth, hard, distractor, k)


def simulate_judge(
    truth: NDArray[np.integer],
    n_classes: int,
    *,
    accuracy: float,
    seed: int = 0,
    unsure: float = 0.0,
    hard: NDArray[np.bool_] | None = None,
    hard_accuracy: float | None = None,
    systematic: bool = False,
    name: str = "judge",
) -> SimulatedJudge:
    """One verdict per item from a judge of known reliability (see the module docstring)."""
    if not (0 <= accuracy <= 1 and 0 <= unsure <= 1):
        raise QualityInputError("accuracy and unsure must be probabilities")
    rng = np.random.default_rng(seed)
    t = np.asarray(truth, dtype=np.intp)
    n, k = len(t), n_classes
    p_right = np.full(n, accuracy)
    if hard is not None and hard_accuracy is not None:
        p_right[np.asarray(hard, dtype=bool)] = hard_accuracy
    right = rng.random(n) < p_right
    step = np.ones(n, dtype=np.intp) if systematic else rng.integers(1, k, n)
    labels = np.where(right, t, (t + step) % k).astype(np.intp)
    labels[rng.random(n) < unsure] = -1
    return SimulatedJudge(np.full(n, name), np.arange(n, dtype=np.intp), labels)
