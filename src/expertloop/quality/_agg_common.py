"""Plumbing shared by the truth-inference models of :mod:`expertloop.quality.aggregation`.

The observations are encoded once into dense integer codes (:class:`Observations`) and two
sparse count matrices, so each EM step of every model is a handful of sparse products and
``np.bincount`` calls: no Python loop ever runs over labels.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import ArrayLike, NDArray

from expertloop.quality._common import (
    ConvergenceError,
    QualityInputError,
    as_1d,
    check_same_length,
    encode,
)

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.intp]

# Two posteriors closer than this are a tie; a tie goes to the first class in sorted order.
_TIE = 1e-9


@dataclass(frozen=True, eq=False)
class AggregationResult:
    """What a truth-inference model concluded.

    Attributes:
        item_ids: the distinct items, sorted.
        labels: the consensus label of each item, in ``item_ids`` order.
        posteriors: ``(n_items, n_classes)`` probabilities of each class; rows sum to 1.
        classes: the classes, sorted; the columns of ``posteriors``.
        worker_ids: the distinct workers, sorted.
        worker_skill: one number per worker in ``worker_ids`` order, higher is better (its
            meaning depends on the model: an accuracy, an expertise, a trustworthiness).
        worker_confusion: ``(n_workers, n_classes, n_classes)``, row ``k`` of a worker's
            matrix is the distribution of the labels it gives to items of true class ``k``;
            ``None`` for models without one.
        n_iter: iterations the model ran (0 for closed-form methods).
        method: the name of the model (``"stacking"`` for ``aggregate``'s mixture of several).
        components: for ``"stacking"``, each model in the mixture and its weight, heaviest
            first; otherwise empty.
    """

    item_ids: NDArray[Any]
    labels: NDArray[Any]
    posteriors: FloatArray
    classes: NDArray[Any]
    worker_ids: NDArray[Any]
    worker_skill: FloatArray
    worker_confusion: FloatArray | None
    n_iter: int
    method: str
    components: tuple[tuple[str, float], ...] = ()

    def as_dict(self) -> dict[Hashable, Hashable]:
        """Return the consensus as a mapping ``item -> label``."""
        return dict(zip(self.item_ids.tolist(), self.labels.tolist(), strict=True))


@dataclass(frozen=True, eq=False)
class Observations:
    """Labels encoded as dense codes: worker ``w``, item ``i`` and class ``l`` per answer."""

    w: IntArray
    i: IntArray
    l: IntArray  # noqa: E741 - the paper's letter for a label
    worker_ids: NDArray[Any]
    item_ids: NDArray[Any]
    classes: NDArray[Any]
    gold_items: IntArray
    gold_classes: IntArray

    @property
    def n_workers(self) -> int:
        return len(self.worker_ids)

    @property
    def n_items(self) -> int:
        return len(self.item_ids)

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    @cached_property
    def item_by_worker_label(self) -> sp.csr_matrix:
        """``(n_items, n_workers * n_classes)`` counts: answers of worker w with label l.

        Built directly in CSR form (a stable counting sort by row); repeated answers stay as
        separate entries, which sparse products simply add up.
        """
        return _csr_of_ones(
            self.i, self.w * self.n_classes + self.l, self.n_items, self.n_workers * self.n_classes
        )

    @cached_property
    def item_class_counts(self) -> FloatArray:
        """``(n_items, n_classes)`` number of answers of each class per item."""
        k = self.n_classes
        counts = np.bincount(self.i * k + self.l, minlength=self.n_items * k)
        return counts.reshape(self.n_items, k).astype(np.float64)

    @cached_property
    def answers_per_worker(self) -> FloatArray:
        return np.bincount(self.w, minlength=self.n_workers).astype(np.float64)

    def subset(self, keep: NDArray[np.bool_]) -> Observations:
        """The same workers, items and classes, with only the answers where ``keep`` holds."""
        return Observations(
            w=self.w[keep],
            i=self.i[keep],
            l=self.l[keep],
            worker_ids=self.worker_ids,
            item_ids=self.item_ids,
            classes=self.classes,
            gold_items=self.gold_items,
            gold_classes=self.gold_classes,
        )

    def clamp_gold(self, posteriors: FloatArray) -> FloatArray:
        """Overwrite the rows of gold items by the one-hot known label (in place)."""
        if len(self.gold_items):
            posteriors[self.gold_items] = 0.0
            posteriors[self.gold_items, self.gold_classes] = 1.0
        return posteriors


def _csr_of_ones(rows: IntArray, cols: IntArray, n_rows: int, n_cols: int) -> sp.csr_matrix:
    indptr = np.zeros(n_rows + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=n_rows), out=indptr[1:])
    data = np.ones(len(rows))
    if len(rows) > 1 and np.all(rows[1:] >= rows[:-1]):  # answers already grouped by row
        return sp.csr_matrix((data, cols.copy(), indptr), shape=(n_rows, n_cols))
    order = np.argsort(rows, kind="stable")
    return sp.csr_matrix((data, cols[order], indptr), shape=(n_rows, n_cols))


def _encode_fast(values: NDArray[Any]) -> tuple[IntArray, NDArray[Any]]:
    """:func:`encode` for integer arrays of modest range, in linear time (no sort)."""
    if values.dtype.kind in "iu" and len(values):
        low, high = int(values.min()), int(values.max())
        if high - low <= 4 * len(values) + 1024:
            shifted = (values - low).astype(np.intp, copy=False)
            present = np.bincount(shifted, minlength=high - low + 1) > 0
            if present.all():  # already dense codes (plus an offset): no gather needed
                return shifted, np.arange(low, high + 1).astype(values.dtype)
            code_of = np.cumsum(present, dtype=np.intp) - 1
            uniques = (np.flatnonzero(present) + low).astype(values.dtype)
            return code_of[shifted], uniques
    return encode(values)


def prepare(
    workers: ArrayLike | Iterable[Any],
    items: ArrayLike | Iterable[Any],
    labels: ArrayLike | Iterable[Any],
    *,
    gold: Mapping[Any, Any] | None = None,
    classes: Sequence[Hashable] | None = None,
) -> Observations:
    """Check and encode the inputs of an aggregator.

    Gold items that nobody labelled are ignored (there is nothing to anchor); gold labels and
    ``classes`` join the observed labels as columns of the posteriors.
    """
    w_raw = as_1d(workers, "workers")  # type: ignore[arg-type]
    i_raw = as_1d(items, "items")  # type: ignore[arg-type]
    l_raw = as_1d(labels, "labels")  # type: ignore[arg-type]
    check_same_length(workers=w_raw, items=i_raw, labels=l_raw)
    gold = dict(gold or {})
    known: list[Hashable] = list(classes or [])
    known.extend(v for v in gold.values() if v not in known)
    l_codes, class_ids = encode(l_raw, known=known) if known else _encode_fast(l_raw)
    if classes is not None:
        extra = set(class_ids.tolist()) - set(classes)
        if extra:
            raise QualityInputError(
                f"labels or gold use classes missing from `classes`: {sorted(map(repr, extra))}"
            )
    w_codes, worker_ids = _encode_fast(w_raw)
    i_codes, item_ids = _encode_fast(i_raw)
    gold_items, gold_classes = _encode_gold(gold, item_ids, class_ids)
    return Observations(
        w=w_codes,
        i=i_codes,
        l=l_codes,
        worker_ids=worker_ids,
        item_ids=item_ids,
        classes=class_ids,
        gold_items=gold_items,
        gold_classes=gold_classes,
    )


def _encode_gold(
    gold: Mapping[Any, Any], item_ids: NDArray[Any], class_ids: NDArray[Any]
) -> tuple[IntArray, IntArray]:
    if not gold:
        empty = np.empty(0, dtype=np.intp)
        return empty, empty.copy()
    item_index = {v: n for n, v in enumerate(item_ids.tolist())}
    class_index = {v: n for n, v in enumerate(class_ids.tolist())}
    pairs = [(item_index[k], class_index[v]) for k, v in gold.items() if k in item_index]
    if not pairs:
        empty = np.empty(0, dtype=np.intp)
        return empty, empty.copy()
    arr = np.asarray(sorted(pairs), dtype=np.intp)
    return arr[:, 0].copy(), arr[:, 1].copy()


def normalise_rows(x: FloatArray) -> FloatArray:
    """Rows scaled to sum to 1; an all-zero row becomes uniform."""
    total = x.sum(axis=-1, keepdims=True)
    k = x.shape[-1]
    return np.divide(x, total, out=np.full_like(x, 1.0 / k), where=total > 0)


def _row_max(x: FloatArray) -> FloatArray:
    # Column by column: numpy's axis=1 reductions are slow on tall, narrow arrays.
    top = x[:, 0].copy()
    for c in range(1, x.shape[1]):
        np.maximum(top, x[:, c], out=top)
    return top


def normalise_log_rows(log_x: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Posteriors from unnormalised log probabilities, and each row's log-sum-exp.

    Works in place: ``log_x`` becomes the posteriors (the EM loops never need it again, and a
    fresh array per iteration costs more than the arithmetic on a million answers).
    """
    top = _row_max(log_x)
    top[~np.isfinite(top)] = 0.0
    p = log_x
    p -= top[:, None]
    np.exp(p, out=p)
    total = p @ np.ones(p.shape[1])
    p /= total[:, None]
    return p, np.log(total) + top


def pick_labels(posteriors: FloatArray) -> IntArray:
    """Argmax of each row; a near-tie goes to the first class in sorted order."""
    best = posteriors.max(axis=1, keepdims=True)
    return np.argmax(posteriors >= best - _TIE, axis=1).astype(np.intp)


def majority_posteriors(obs: Observations, worker_weight: FloatArray | None = None) -> FloatArray:
    """Share of (weighted) votes of each class per item; gold rows clamped."""
    if worker_weight is None:
        counts = obs.item_class_counts
    else:
        k = obs.n_classes
        counts = (
            np.bincount(obs.i * k + obs.l, weights=worker_weight[obs.w], minlength=obs.n_items * k)
            .reshape(obs.n_items, k)
            .astype(np.float64)
        )
    return obs.clamp_gold(normalise_rows(counts))


def class_prior(posteriors: FloatArray, pseudo: float = 1.0) -> FloatArray:
    """Dirichlet-smoothed class frequencies."""
    counts = np.ones(len(posteriors)) @ posteriors + pseudo  # a BLAS call: faster than sum
    return counts / counts.sum()


def agreement_skill(obs: Observations, posteriors: FloatArray, pseudo: float = 1.0) -> FloatArray:
    """Smoothed expected share of a worker's answers that are right, under ``posteriors``.

    A Beta prior centred on the population mean keeps workers with one answer near the mean.
    """
    hit = posteriors[obs.i, obs.l]
    correct = np.bincount(obs.w, weights=hit, minlength=obs.n_workers)
    n = obs.answers_per_worker
    mean = float(correct.sum() / n.sum())
    return (correct + pseudo * mean) / (n + pseudo)


def build_result(
    obs: Observations,
    posteriors: FloatArray,
    *,
    worker_skill: FloatArray,
    worker_confusion: FloatArray | None,
    n_iter: int,
    method: str,
) -> AggregationResult:
    posteriors = np.ascontiguousarray(posteriors, dtype=np.float64)
    codes = pick_labels(posteriors)
    for arr in (posteriors, worker_skill, worker_confusion):
        if arr is not None:
            arr.setflags(write=False)
    labels = obs.classes[codes]
    return AggregationResult(
        item_ids=obs.item_ids,
        labels=labels,
        posteriors=posteriors,
        classes=obs.classes,
        worker_ids=obs.worker_ids,
        worker_skill=worker_skill,
        worker_confusion=worker_confusion,
        n_iter=n_iter,
        method=method,
    )


def check_iteration_options(max_iter: int, tol: float) -> None:
    if int(max_iter) < 1:
        raise QualityInputError(f"max_iter must be at least 1, got {max_iter}")
    if not tol > 0:
        raise QualityInputError(f"tol must be positive, got {tol}")


def log_likelihood_change(previous: float, current: float, n_answers: int) -> float:
    """The convergence measure of every EM fit: change of log-likelihood per answer.

    Posteriors of a few items near a decision boundary can creep for hundreds of iterations
    after the fit has stopped changing any label; the likelihood per answer says when the
    model as a whole has stopped moving.
    """
    if not np.isfinite(previous):
        return float("inf")
    return abs(current - previous) / n_answers


def not_converged(method: str, max_iter: int, delta: float, tol: float) -> ConvergenceError:
    return ConvergenceError(
        f"{method} did not converge in {max_iter} iterations: the log-likelihood per answer "
        f"still changed by {delta:.3g} > tol={tol:.3g}; raise max_iter or loosen tol",
        n_iter=max_iter,
        delta=delta,
    )
