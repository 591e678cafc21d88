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

Under triage (``quality/redundancy.py``: a judge's agreeing verdict stops an item at one
expert answer), the items with two expert answers or more are mostly those where the judge
contradicted the first expert, so a judge compared there looks much worse than it is (a
judge right 85% of the time measures 37-50%, docs/quality.md). :func:`audit_agreement`
compares it on a sample that does not depend on its verdicts instead: the caller passes the
audit sample's items (``is_audited``: one expert answer more than the minimum whatever the
confidence), each with its gold, or else the experts' strict plurality
(:func:`expert_reference`) when at least two experts answered it.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
from scipy.stats import norm

from expertloop.quality._common import QualityInputError
from expertloop.quality.agreement import cohen_kappa

_Item = TypeVar("_Item", bound=Hashable)
_Label = TypeVar("_Label", bound=Hashable)

__all__ = [
    "AuditAgreement",
    "JudgeAgreement",
    "audit_agreement",
    "expert_reference",
    "judge_agreement",
    "wilson_interval",
]


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


def _bootstrap_kappa(
    a: np.ndarray, b: np.ndarray, n_boot: int, rng: np.random.Generator
) -> np.ndarray:
    """Cohen's kappa of ``n_boot`` resamples of the items with replacement (those where it
    is defined). A resample of ``n`` items is a multinomial draw of ``n`` from the cells of
    the (judge, reference) table with the observed shares, so the tables are drawn directly:
    the same bootstrap in ``O(n_boot * K^2)``, not ``O(n_boot * n)``."""
    n = len(a)
    cats, codes = np.unique(np.concatenate([a, b]), return_inverse=True)
    k = len(cats)
    table = np.bincount(codes[:n] * k + codes[n:], minlength=k * k)
    draws = rng.multinomial(n, table / n, size=n_boot).reshape(n_boot, k, k) / n
    observed = np.trace(draws, axis1=1, axis2=2)
    chance = (draws.sum(axis=2) * draws.sum(axis=1)).sum(axis=1)
    defined = chance < 1 - 1e-12
    return (observed[defined] - chance[defined]) / (1 - chance[defined])


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
        values = _bootstrap_kappa(a, b, n_boot, rng)
        if len(values):
            tail = (1 - confidence) / 2 * 100
            kappa_low = float(np.percentile(values, tail))
            kappa_high = float(np.percentile(values, 100 - tail))
    return JudgeAgreement(
        n, unsure, hits / n, low, high, kappa, kappa_low, kappa_high, confidence
    )


@dataclass(frozen=True, slots=True)
class AuditAgreement:
    """A judge's agreement with the reference on the audit sample (:func:`audit_agreement`).

    ``agreement``: accuracy and Cohen's kappa with their intervals over the ``agreement.n``
    items compared; ``gold_items`` and ``consensus_items`` of them had gold or the experts'
    plurality as reference; ``split_items``: items with enough expert answers but no strict
    plurality (a tie), not compared; ``pending_items``: items the judge gave a verdict on
    without gold and with fewer expert answers than needed yet, not compared."""

    agreement: JudgeAgreement
    gold_items: int
    consensus_items: int
    split_items: int
    pending_items: int

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.agreement.to_dict(),
            "gold_items": self.gold_items,
            "consensus_items": self.consensus_items,
            "split_items": self.split_items,
            "pending_items": self.pending_items,
        }


def expert_reference(votes: Sequence[Hashable], *, min_votes: int = 2) -> Hashable | None:
    """The experts' consensus on one item: the class most of ``votes`` give when it is
    strictly the most given, with at least ``min_votes`` votes; ``None`` otherwise (too few
    votes, or a tie). Model-free, so a judge's fitted reliability cannot tip it.

    Example:
        >>> expert_reference(["A", "A", "B"]), expert_reference(["A", "B"]), expert_reference(["A"])
        ('A', None, None)
    """
    if len(votes) < max(min_votes, 1):
        return None
    top = Counter(votes).most_common(2)
    if len(top) > 1 and top[0][1] == top[1][1]:
        return None
    return top[0][0]


def audit_agreement(
    verdicts: Mapping[_Item, _Label],
    votes: Mapping[_Item, Sequence[_Label]],
    gold: Mapping[_Item, _Label] | None = None,
    *,
    min_votes: int = 2,
    confidence: float = 0.95,
    n_boot: int = 1000,
    seed: int | np.random.Generator = 0,
) -> AuditAgreement:
    """One judge's agreement with the experts on the audit sample.

    ``verdicts``: the judge's sure verdict per item of the sample (the caller keeps only
    audited items: a sample chosen without looking at the verdicts or the answers);
    ``votes``: the expert votes per item; ``gold``: the gold per item, where there is one.
    The reference of an item is its gold, else :func:`expert_reference` of its votes
    (``min_votes`` or more, a strict plurality); the rest are counted as split or pending,
    not compared. Accuracy and kappa are :func:`judge_agreement`'s.

    Example:
        >>> r = audit_agreement({1: "A", 2: "B", 3: "A", 4: "B"},
        ...                     {1: ["A", "A"], 2: ["A", "A"], 3: ["A", "B"], 4: ["B"]},
        ...                     {4: "B"})
        >>> r.agreement.n, r.agreement.accuracy, r.split_items, r.gold_items
        (3, 0.6666666666666666, 1, 1)
    """
    gold = gold or {}
    said: list[Hashable] = []
    expected: list[Hashable] = []
    gold_items = consensus_items = split = pending = 0
    for item, verdict in verdicts.items():
        if item in gold:
            reference: Hashable | None = gold[item]
            gold_items += 1
        else:
            given = votes.get(item, ())
            if len(given) < max(min_votes, 1):
                pending += 1
                continue
            reference = expert_reference(given, min_votes=min_votes)
            if reference is None:
                split += 1
                continue
            consensus_items += 1
        said.append(verdict)
        expected.append(reference)
    agreement = judge_agreement(
        said, expected, confidence=confidence, n_boot=n_boot, seed=seed
    )
    return AuditAgreement(agreement, gold_items, consensus_items, split, pending)
