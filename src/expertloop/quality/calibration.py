"""How far a model judge agrees with experts: accuracy and Cohen's kappa, with intervals.

Given the judge's category and the reference (gold, or the experts' consensus) for the same
items, :func:`judge_agreement` reports the share of items where they match with its Wilson
score interval (Wilson 1927, "Probable inference, the law of succession, and statistical
inference"), and Cohen's kappa (Cohen 1960) with a percentile bootstrap interval over items
(Efron & Tibshirani 1993). Items the judge was unsure of are not compared; their count is
reported as ``unsure`` so coverage is visible beside accuracy.

Example:
    >>> r = judge_agreement(["A", "B", "A", "tie"], ["A", "B", "B", "tie"], seed=0)
    >>> r.n, r.accuracy
    (4, 0.75)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.stats import norm

from expertloop.quality._common import QualityInputError
from expertloop.quality.agreement import cohen_kappa

__all__ = ["JudgeAgreement", "judge_agreement", "wilson_interval"]


@dataclass(frozen=True, slots=True)
class JudgeAgreement:
    """``n`` items compared (``unsure`` more left out); ``accuracy`` in
    [``accuracy_lower``, ``accuracy_upper``]; ``kappa`` (``None`` when undefined: one
    category only) in [``kappa_lower``, ``kappa_upper``] (``None`` when too few items)."""

    n: int
    unsure: int
    accuracy: float | None
    accuracy_lower: float | None
    accuracy_upper: float | None
    kappa: float | None
    kappa_lower: float | None
    kappa_upper: float | None
    confidence: float

    def to_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__slots__}


def wilson_interval(successes: int, trials: int, confidence: float = 0.95) -> tuple[float, float]:
    """The Wilson score interval of a proportion (good at small ``trials`` and near 0 or 1).

    Example:
        >>> [round(x, 3) for x in wilson_interval(8, 10)]
        [0.49, 0.943]
    """
    if trials <= 0 or not 0 <= successes <= trials:
        raise QualityInputError("need 0 <= successes <= trials and trials > 0")
    if not 0 < confidence < 1:
        raise QualityInputError("confidence must be in (0, 1)")
    z = float(norm.ppf(0.5 + confidence / 2))
    p = successes / trials
    denominator = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denominator
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def _kappa(a: np.ndarray, b: np.ndarray) -> float | None:
    try:
        value = cohen_kappa(a, b)
    except QualityInputError:
        return None
    return value if math.isfinite(value) else None


def judge_agreement(
    judge: Sequence[Any],
    reference: Sequence[Any],
    *,
    unsure: int = 0,
    confidence: float = 0.95,
    n_boot: int = 1000,
    seed: int | np.random.Generator = 0,
) -> JudgeAgreement:
    """Agreement of ``judge[k]`` with ``reference[k]`` over items ``k`` (categories, any
    hashable); ``unsure`` counts the items the judge would not decide, for the record."""
    if len(judge) != len(reference):
        raise QualityInputError("judge and reference must have the same length")
    n = len(judge)
    if n == 0:
        return JudgeAgreement(0, unsure, None, None, None, None, None, None, confidence)
    a = np.asarray([str(x) for x in judge], dtype=object)
    b = np.asarray([str(x) for x in reference], dtype=object)
    hits = int((a == b).sum())
    low, high = wilson_interval(hits, n, confidence)
    kappa = _kappa(a, b)
    kappa_low = kappa_high = None
    if kappa is not None and n >= 5 and n_boot > 0:
        rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        draws = rng.integers(0, n, size=(n_boot, n))
        values = [v for row in draws if (v := _kappa(a[row], b[row])) is not None]
        if values:
            tail = (1 - confidence) / 2 * 100
            kappa_low = float(np.percentile(values, tail))
            kappa_high = float(np.percentile(values, 100 - tail))
    return JudgeAgreement(
        n, unsure, hits / n, low, high, kappa, kappa_low, kappa_high, confidence
    )
