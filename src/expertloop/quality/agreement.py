"""Inter-rater agreement: Krippendorff's alpha, Fleiss' and Cohen's kappa, percent agreement.

Inputs are parallel 1-D array-likes, one row per rating. A missing rating is ``None`` or NaN
and is dropped. Every statistic is computed from per-(unit, value) counts, so no Python loop
runs over units.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from expertloop.quality._common import QualityInputError, as_1d, check_same_length, encode

__all__ = [
    "AlphaInterval",
    "cohen_kappa",
    "fleiss_kappa",
    "krippendorff_alpha",
    "krippendorff_alpha_interval",
    "percent_agreement",
]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.intp]
Level = Literal["nominal", "ordinal", "interval", "ratio"]
_LEVELS = ("nominal", "ordinal", "interval", "ratio")


def _missing(values: NDArray[Any]) -> NDArray[np.bool_]:
    if values.dtype.kind == "f":
        return np.isnan(values)
    if values.dtype == object:
        return np.fromiter(
            (v is None or (isinstance(v, float) and v != v) for v in values.tolist()),
            dtype=bool,
            count=len(values),
        )
    return np.zeros(len(values), dtype=bool)


def _as_float(values: NDArray[Any], level: str) -> FloatArray:
    try:
        out = values.astype(float)
    except (TypeError, ValueError):
        raise QualityInputError(f"{level} data needs numeric values") from None
    if not np.all(np.isfinite(out)):
        raise QualityInputError(f"{level} data needs finite numeric values")
    return out


def _unit_value_counts(
    workers: Iterable[Any] | None, items: Iterable[Any], values: Iterable[Any]
) -> tuple[IntArray, IntArray, FloatArray, NDArray[Any], int]:
    """Drop missing ratings; return (unit, value code, count) triples and the value domain."""
    it = as_1d(items, "items")
    va = as_1d(values, "values")
    if workers is not None:
        wk = as_1d(workers, "workers")
        check_same_length(workers=wk, items=it, values=va)
    else:
        check_same_length(items=it, values=va)
    keep = ~_missing(va)
    if not keep.any():
        raise QualityInputError("no ratings: every value is missing")
    it, va = it[keep], va[keep]
    unit, unit_ids = encode(it)
    if workers is not None:
        w_codes, _ = encode(wk[keep])
        pair = np.sort(unit.astype(np.int64) * (int(w_codes.max()) + 1) + w_codes)
        if (pair[1:] == pair[:-1]).any():
            raise QualityInputError("a worker rated the same item more than once")
        del pair
    if va.dtype == object:
        kinds = {type(v) for v in va.tolist()}
        if kinds <= {int, float, bool, np.float64, np.int64}:
            va = va.astype(float)
    vcode, domain = encode(va)
    n_values = len(domain)
    uniq, counts = _sorted_counts(unit.astype(np.int64) * n_values + vcode)
    return (
        (uniq // n_values).astype(np.intp),
        (uniq % n_values).astype(np.intp),
        counts.astype(float),
        domain,
        len(unit_ids),
    )


def _sorted_counts(keys: NDArray[np.int64]) -> tuple[NDArray[np.int64], IntArray]:
    """The distinct keys in order and how often each occurs, by one sort (no hash table:
    a few bytes per key even for millions of answers)."""
    keys = np.sort(keys)
    starts = np.flatnonzero(np.concatenate(([True], keys[1:] != keys[:-1])))
    counts = np.diff(np.append(starts, len(keys)))
    return keys[starts], counts


def krippendorff_alpha(
    workers: Iterable[Any],
    items: Iterable[Any],
    values: Iterable[Any],
    *,
    level: Level = "nominal",
) -> float:
    """Krippendorff's alpha, ``1 - D_o / D_e``, for any number of raters and missing data.

    Krippendorff (2011), "Computing Krippendorff's alpha-reliability". Each unit (item) with
    ``m_u >= 2`` values contributes its ``m_u (m_u - 1)`` ordered pairs of values, weighted
    by ``1 / (m_u - 1)``, to the coincidence matrix ``o``; units with fewer than two values
    are not pairable and are ignored. ``n_c`` is the number of pairable values equal to ``c``
    and ``n`` their total. ``D_o = sum o_ck delta_ck^2 / n`` and ``D_e = sum n_c n_k
    delta_ck^2 / (n (n - 1))``, with the distance of ``level``: nominal (``c != k``),
    ordinal (squared difference of mid-ranks, ``sum_{g=c..k} n_g - (n_c + n_k) / 2``),
    interval (``(c - k)^2``) and ratio (``((c - k) / (c + k))^2``). Non-nominal levels need
    numeric values. Agrees with the ``krippendorff`` package. ``workers`` is used to check
    that nobody rated an item twice.

    Raises :class:`QualityInputError` when no unit is pairable or all pairable values are
    equal (alpha is then undefined).

    Example:
        >>> krippendorff_alpha([1, 2, 1, 2], ["x", "x", "y", "y"], ["a", "a", "a", "b"])
        0.0
    """
    if level not in _LEVELS:
        raise QualityInputError(f"level must be one of {_LEVELS}, got {level!r}")
    unit, vcode, count, domain, n_units = _unit_value_counts(workers, items, values)
    m_u = np.bincount(unit, count, n_units)
    pairable = m_u[unit] >= 2
    unit, vcode, count = unit[pairable], vcode[pairable], count[pairable]
    if len(unit) == 0:
        raise QualityInputError("no unit has two or more values: alpha is undefined")
    n_v = np.bincount(vcode, count, len(domain))
    n = float(n_v.sum())
    inv = 1.0 / (m_u[unit] - 1.0)
    if level == "nominal":
        observed = n - float((count * (count - 1.0) * inv).sum())
        expected = (n * n - float((n_v * n_v).sum())) / (n - 1.0)
    elif level in ("interval", "ordinal"):
        x = _as_float(domain, level)
        if level == "ordinal":
            x = np.cumsum(n_v) - n_v / 2.0  # mid-ranks, so delta is a squared difference
        # Per unit, sum over ordered pairs i != j of (x_i - x_j)^2 = 2 m S2 - 2 S1^2.
        s1 = np.bincount(unit, count * x[vcode], n_units)
        s2 = np.bincount(unit, count * x[vcode] ** 2, n_units)
        keep = m_u >= 2
        per_unit = (2 * m_u * s2 - 2 * s1 * s1)[keep] / (m_u[keep] - 1.0)
        observed = float(per_unit.sum())
        t1, t2 = float(n_v @ x), float(n_v @ x**2)
        expected = (2 * n * t2 - 2 * t1 * t1) / (n - 1.0)
    else:
        x = _as_float(domain, level)
        mat = sp.csr_matrix((count, (unit, vcode)), shape=(n_units, len(domain)))
        scaled = sp.csr_matrix((count * inv, (unit, vcode)), shape=(n_units, len(domain)))
        o = (mat.T @ scaled).tocoo()
        observed = float((o.data * _ratio(x[o.row], x[o.col])).sum())
        expected = 0.0
        present = np.flatnonzero(n_v)
        xs, ns = x[present], n_v[present]
        for start in range(0, len(xs), 512):
            block = _ratio(xs[start : start + 512, None], xs[None, :])
            expected += float(ns[start : start + 512] @ block @ ns)
        expected /= n - 1.0
    if expected <= 0:
        raise QualityInputError("all pairable values are equal: alpha is undefined")
    return float(1.0 - observed / expected)


@dataclass(frozen=True)
class AlphaInterval:
    """Krippendorff's alpha with a bootstrap percentile interval over units.

    Attributes:
        alpha: the point estimate (as :func:`krippendorff_alpha`).
        low, high: the equal-tailed percentile interval of ``confidence`` mass (NaN when
            no bootstrap replicate had alpha defined).
        n_units: the pairable units (units with two or more values) resampled.
        n_boot: bootstrap replicates drawn; ``n_defined`` of them had alpha defined.
        confidence: the interval's mass.
    """

    alpha: float
    low: float
    high: float
    n_units: int
    n_boot: int
    n_defined: int
    confidence: float


def krippendorff_alpha_interval(
    workers: Iterable[Any],
    items: Iterable[Any],
    values: Iterable[Any],
    *,
    level: Literal["nominal", "interval"] = "nominal",
    n_boot: int = 1000,
    confidence: float = 0.95,
    seed: int | np.random.Generator = 0,
) -> AlphaInterval:
    """Krippendorff's alpha and a bootstrap interval, resampling units (items).

    The nonparametric bootstrap over units (Efron & Tibshirani, "An Introduction to the
    Bootstrap", 1993, ch. 13): each replicate draws the pairable units with replacement and
    recomputes alpha; the interval is the replicates' percentiles. Units are the level at
    which items vary, so the interval says how much alpha would move with another sample
    of items rated by the same crowd. (Krippendorff's own bootstrap resamples pairs of
    values instead; resampling units keeps each unit's values together.)

    Alpha is a ratio of sums over units of per-unit statistics (nominal: the unit's
    disagreeing pairs and value counts; interval: its sum and sum of squares), so a
    replicate is a weighted sum with bootstrap counts as weights: no replicate rebuilds the
    coincidence matrix, and a million units take a few seconds for a thousand replicates.
    Levels: ``nominal`` and ``interval`` (the ones :func:`krippendorff_alpha` computes from
    per-unit sums).

    Example:
        >>> r = krippendorff_alpha_interval(
        ...     [1, 2] * 4, ["a", "a", "b", "b", "c", "c", "d", "d"],
        ...     ["x", "x", "y", "y", "x", "x", "y", "x"], n_boot=200)
        >>> round(r.alpha, 3), r.low <= r.alpha <= r.high
        (0.533, True)
    """
    if level not in ("nominal", "interval"):
        raise QualityInputError(f"level must be 'nominal' or 'interval', got {level!r}")
    if n_boot < 1:
        raise QualityInputError("n_boot must be at least 1")
    if not 0 < confidence < 1:
        raise QualityInputError("confidence must be in (0, 1)")
    alpha = krippendorff_alpha(workers, items, values, level=level)
    unit, vcode, count, domain, n_units = _unit_value_counts(workers, items, values)
    m_all = np.bincount(unit, count, n_units)
    keep = m_all[unit] >= 2
    unit, vcode, count = unit[keep], vcode[keep], count[keep]
    pairable, unit = np.unique(unit, return_inverse=True)
    n_p = len(pairable)
    m_u = m_all[pairable]
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    if level == "nominal":
        # Per unit: its values' disagreeing ordered pairs over (m_u - 1), and value counts.
        agree = np.bincount(unit, count * (count - 1.0), n_p) / (m_u - 1.0)
        o_u = m_u - agree
        counts = sp.csr_matrix((count, (unit, vcode)), shape=(n_p, len(domain)))
        counts_t = counts.T.tocsr()

        def replicate(w: FloatArray) -> float:
            n = _wsum(w, m_u)
            n_c = counts_t @ w
            expected = n * n - float((n_c * n_c).sum())
            return 1.0 - (n - 1.0) * _wsum(w, o_u) / expected if expected > 0 else np.nan

    else:
        x = _as_float(domain, level)[vcode]
        s1 = np.bincount(unit, count * x, n_p)
        s2 = np.bincount(unit, count * x * x, n_p)
        o_u = (2 * m_u * s2 - 2 * s1 * s1) / (m_u - 1.0)

        def replicate(w: FloatArray) -> float:
            n = _wsum(w, m_u)
            t1, t2 = _wsum(w, s1), _wsum(w, s2)
            expected = (2 * n * t2 - 2 * t1 * t1) / (n - 1.0)
            return 1.0 - _wsum(w, o_u) / expected if expected > 0 else np.nan

    draws = np.empty(n_boot)
    for b in range(n_boot):
        weights = np.bincount(rng.integers(0, n_p, n_p), minlength=n_p).astype(float)
        draws[b] = replicate(weights)
    defined = draws[~np.isnan(draws)]
    tail = (1.0 - confidence) / 2.0
    if len(defined):
        low, high = (float(v) for v in np.quantile(defined, [tail, 1.0 - tail]))
    else:
        low = high = float("nan")
    return AlphaInterval(alpha, low, high, n_p, n_boot, len(defined), confidence)


def _wsum(weights: FloatArray, values: NDArray[Any]) -> float:
    # Elementwise, not ``@``: a BLAS dot may start threads per call, which on a busy machine
    # cost a thousand times the arithmetic.
    return float(np.multiply(weights, values).sum())


def _ratio(a: FloatArray, b: FloatArray) -> FloatArray:
    total = a + b
    diff = a - b
    out = np.divide(diff, total, out=np.zeros(np.broadcast(a, b).shape), where=total != 0)
    return np.asarray(out**2)


def fleiss_kappa(items: Iterable[Any], values: Iterable[Any]) -> float:
    """Fleiss' kappa for nominal ratings, allowing a varying number of raters per item.

    Fleiss (1971), "Measuring nominal scale agreement among many raters". Only items and
    values are needed: kappa does not follow raters, any rater may rate any item. For item
    ``i`` with ``n_i >= 2`` ratings, ``P_i = sum_j n_ij (n_ij - 1) / (n_i (n_i - 1))``;
    ``P = mean_i P_i`` over those items, ``p_j`` is the share of all their ratings in
    category ``j``, ``P_e = sum_j p_j^2`` and ``kappa = (P - P_e) / (1 - P_e)``. With the
    same ``n`` for every item this is exactly Fleiss' statistic; items with fewer than two
    ratings are left out, as they carry no agreement.

    Example:
        >>> fleiss_kappa([1, 1, 2, 2], ["a", "a", "b", "b"])
        1.0
    """
    unit, vcode, count, domain, n_units = _unit_value_counts(None, items, values)
    n_i = np.bincount(unit, count, n_units)
    keep = n_i[unit] >= 2
    unit, vcode, count = unit[keep], vcode[keep], count[keep]
    if len(unit) == 0:
        raise QualityInputError("no item has two or more ratings: kappa is undefined")
    pair_agree = np.bincount(unit, count * (count - 1.0), n_units)
    rated = n_i >= 2
    p_bar = float(np.mean(pair_agree[rated] / (n_i[rated] * (n_i[rated] - 1.0))))
    p_j = np.bincount(vcode, count, len(domain)) / count.sum()
    p_e = float(p_j @ p_j)
    if p_e >= 1.0 - 1e-15:
        raise QualityInputError("every rating is in one category: kappa is undefined")
    return (p_bar - p_e) / (1.0 - p_e)


def cohen_kappa(
    values_a: Iterable[Any],
    values_b: Iterable[Any],
    *,
    weights: Literal["linear", "quadratic"] | None = None,
) -> float:
    """Cohen's kappa between two raters, optionally weighted.

    Cohen (1960), "A coefficient of agreement for nominal scales"; weighted: Cohen (1968).
    ``values_a[k]`` and ``values_b[k]`` are the two ratings of item ``k``; items where either
    is missing are dropped. With ``O`` the observed and ``E`` the chance (product of
    marginals) joint distributions over the categories, ``kappa = 1 - sum(w O) / sum(w E)``
    with disagreement weights ``w_ij = [i != j]``, ``|i - j|`` (linear) or ``(i - j)^2``
    (quadratic), where ``i`` and ``j`` are positions in the sorted categories.

    Example:
        >>> cohen_kappa(["y", "y", "n", "n"], ["y", "n", "n", "n"])
        0.5
    """
    a = as_1d(values_a, "values_a")
    b = as_1d(values_b, "values_b")
    check_same_length(values_a=a, values_b=b)
    keep = ~(_missing(a) | _missing(b))
    if not keep.any():
        raise QualityInputError("no item has ratings from both raters")
    a, b = a[keep], b[keep]
    both = (
        np.concatenate([a, b])
        if a.dtype == b.dtype
        else np.concatenate([a.astype(object), b.astype(object)])
    )
    codes, cats = encode(both)
    k, n = len(cats), len(a)
    observed = np.bincount(codes[:n] * k + codes[n:], minlength=k * k).reshape(k, k) / n
    expected = np.outer(observed.sum(1), observed.sum(0))
    idx = np.arange(k)
    if weights is None:
        w = (idx[:, None] != idx[None, :]).astype(float)
    elif weights == "linear":
        w = np.abs(idx[:, None] - idx[None, :]).astype(float)
    elif weights == "quadratic":
        w = ((idx[:, None] - idx[None, :]) ** 2).astype(float)
    else:
        raise QualityInputError(f"weights must be None, 'linear' or 'quadratic', got {weights!r}")
    denom = float((w * expected).sum())
    if denom <= 0:
        raise QualityInputError("both raters used one and the same category: kappa is undefined")
    return 1.0 - float((w * observed).sum()) / denom


def percent_agreement(workers: Iterable[Any], items: Iterable[Any], values: Iterable[Any]) -> float:
    """Share of agreeing pairs of ratings within an item, averaged over items.

    For each item with ``m >= 2`` ratings, the share of its ``m (m - 1) / 2`` pairs of
    ratings that are equal; the mean over those items (Fleiss' ``P``, the observed agreement
    of :func:`fleiss_kappa`). Not chance-corrected: prefer alpha or kappa to compare tasks.

    Example:
        >>> percent_agreement([1, 2, 3], ["x", "x", "x"], ["a", "a", "b"])  # 1 of 3 pairs
        0.3333333333333333
    """
    unit, _, count, _, n_units = _unit_value_counts(workers, items, values)
    m = np.bincount(unit, count, n_units)
    rated = m >= 2
    if not rated.any():
        raise QualityInputError("no item has two or more ratings: agreement is undefined")
    agree = np.bincount(unit, count * (count - 1.0), n_units)
    return float(np.mean(agree[rated] / (m[rated] * (m[rated] - 1.0))))
