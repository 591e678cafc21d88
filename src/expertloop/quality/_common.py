"""Shared plumbing for the quality engine: input checking and id encoding.

Everything in :mod:`expertloop.quality` accepts parallel 1-D array-likes whose values may be
any hashable ids (ints or strings). These helpers turn them into dense integer codes once, so
the maths below works on ``np.intp`` arrays only.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["ConvergenceError", "QualityInputError", "as_1d", "check_same_length", "encode"]


class QualityInputError(ValueError):
    """Input that the quality engine cannot work with (empty, ragged, unknown option...)."""


class ConvergenceError(RuntimeError):
    """An iterative estimator did not converge within ``max_iter`` iterations.

    Raised instead of returning a half-fitted estimate. ``n_iter`` and ``delta`` tell how far
    the iteration got, so a caller can retry with a larger ``max_iter`` or a looser ``tol``.
    """

    def __init__(self, message: str, *, n_iter: int, delta: float) -> None:
        super().__init__(message)
        self.n_iter = n_iter
        self.delta = delta


def as_1d(values: Iterable[Any] | NDArray[Any], name: str) -> NDArray[Any]:
    """Return ``values`` as a 1-D numpy array, or raise :class:`QualityInputError`."""
    if isinstance(values, np.ndarray):
        array = values
    else:
        seq = values if isinstance(values, Sequence) else list(values)
        array = np.empty(len(seq), dtype=object) if _mixed(seq) else np.asarray(seq)
        if array.dtype == object and len(seq):
            array[:] = seq
    if array.ndim != 1:
        raise QualityInputError(f"{name} must be one-dimensional, got shape {array.shape}")
    return array


def _mixed(seq: Sequence[Any]) -> bool:
    kinds = {type(v) for v in seq[:1000]}
    return len(kinds) > 1 or any(isinstance(v, tuple) for v in seq[:1])


def check_same_length(**arrays: NDArray[Any]) -> int:
    """Check that all arrays have one common length, and that it is not zero."""
    lengths = {name: len(a) for name, a in arrays.items()}
    distinct = set(lengths.values())
    if len(distinct) != 1:
        detail = ", ".join(f"{k}={v}" for k, v in lengths.items())
        raise QualityInputError(f"inputs must have equal lengths, got {detail}")
    (n,) = distinct
    if n == 0:
        raise QualityInputError("no observations: the inputs are empty")
    return n


def encode(
    values: NDArray[Any], *, known: Sequence[Hashable] | None = None
) -> tuple[NDArray[np.intp], NDArray[Any]]:
    """Factorise ``values`` into dense codes and the sorted array of distinct values.

    ``known`` adds values that must get a code even if absent (e.g. classes no worker used).
    Sorting makes the encoding independent of input order, so results are deterministic and
    permutation-invariant. Values of mixed, unorderable types are ordered by ``repr``.
    """
    if known is not None and len(known):
        extra = as_1d(list(known), "known")
        same_kind = values.dtype.kind == extra.dtype.kind and values.dtype.kind in "biufUS"
        if same_kind:
            pool = np.concatenate([values, extra])  # stays a fast native dtype
        else:
            pool = np.concatenate([values.astype(object), extra.astype(object)])
    else:
        pool = values
    try:
        uniques, codes = np.unique(pool, return_inverse=True)
    except TypeError:
        distinct = sorted(set(pool.tolist()), key=repr)
        index = {v: i for i, v in enumerate(distinct)}
        codes = np.fromiter((index[v] for v in pool.tolist()), dtype=np.intp, count=len(pool))
        uniques = np.empty(len(distinct), dtype=object)
        uniques[:] = distinct
    return codes[: len(values)].astype(np.intp, copy=False), uniques
