"""Choosing ``auto``'s model by the gold labels the observations carry.

Where a project has gold items, they are a direct measure of what ``auto`` is for: which
model labels items correctly. The answer-based rule (:mod:`expertloop.quality._select`)
cannot see that where every model's likelihood prefers the wrong labels (workers who make
the same mistakes on the same items; ``act_zencrowd_all``), but the gold can.

**Cross-fitting.** The gold items are split into ``N_GOLD_FOLDS`` folds. Each candidate is
fitted on every answer with one fold's gold hidden (not clamped; the other folds' gold still
anchors the fit), and each hidden gold item is scored by its **gold log score**, the log
posterior the fit gives its gold class (``log P(z_i = gold | answers, other gold)``, a proper
score of the labels themselves, floored at ``1e-6``), and by whether its estimated label is
the gold class (accuracy, reported only).

**The rule.** The candidate with the best mean gold log score replaces the answer-based
choice only when it beats that choice's gold log score by more than ``GOLD_Z`` paired
standard errors over the gold items (the items are the independent units): the
one-standard-error rule of :data:`expertloop.quality._select.SIMPLE_Z`, set a priori and not
tuned. Otherwise the answer-based choice stands. The final labels are fitted as before, with
every gold item clamped.

**How much gold.** ``MIN_GOLD`` (20) gold items with answers, fixed a priori: the standard
error of an accuracy measured on ``n`` items is ``sqrt(p (1 - p) / n)``, at most
``0.5 / sqrt(n)``; at 20 items that is 11 points at worst and 8 points at ``p = 0.8``, the
order of the largest gaps between candidates on real data (majority vote and GLAD 4.5 points
apart on ``act_zencrowd_all``, Dawid-Skene and GLAD 30 points on ``zheng_d_duck``), so
fewer items could not tell even those apart. Twenty is also what the one-standard-error rule
needs of its own standard error (estimated from ``n - 1 = 19`` degrees of freedom it is
within about 16% of the truth, ``1 / sqrt(2 (n - 1))``), and it leaves four gold items in
each of the five folds. With fewer, the answer-based rule alone decides.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Protocol

import numpy as np

from expertloop.quality._agg_common import FloatArray, Observations, pick_labels
from expertloop.quality._common import ConvergenceError

MIN_GOLD = 20
N_GOLD_FOLDS = 5
GOLD_Z = 1.0
_MIN_PROBABILITY = 1e-6


class _Fit(Protocol):
    @property
    def posteriors(self) -> FloatArray: ...


GoldFitter = Callable[[Observations], _Fit]


@dataclass(frozen=True)
class GoldScores:
    """Per candidate and gold item (in ``obs.gold_items`` order): the cross-fitted log
    posterior of the gold class and whether the estimated label is the gold class."""

    log_score: dict[str, FloatArray]
    hits: dict[str, FloatArray]


def enough_gold(obs: Observations) -> bool:
    """Whether ``obs`` carries at least ``MIN_GOLD`` gold items that have answers."""
    answered = np.zeros(obs.n_items, dtype=bool)
    answered[obs.i] = True
    return int(answered[obs.gold_items].sum()) >= MIN_GOLD


def gold_scores(
    obs: Observations,
    fitters: Mapping[str, GoldFitter],
    *,
    n_folds: int = N_GOLD_FOLDS,
    seed: int | np.random.Generator = 0,
) -> GoldScores:
    """Cross-fitted gold scores of every candidate (see the module docstring).

    A candidate that fails to converge on some fold is left out.
    """
    rng = np.random.default_rng(seed)
    n = len(obs.gold_items)
    order = np.argsort(obs.gold_items, kind="stable")  # folds independent of the input order
    fold = np.empty(n, dtype=np.intp)
    fold[order] = rng.permutation(np.arange(n) % n_folds)
    fitters = dict(fitters)
    log_score = {name: np.zeros(n) for name in fitters}
    hits = {name: np.zeros(n) for name in fitters}
    for f in range(n_folds):
        hidden = fold == f
        if not hidden.any():
            continue
        train = replace(
            obs, gold_items=obs.gold_items[~hidden], gold_classes=obs.gold_classes[~hidden]
        )
        items, classes = obs.gold_items[hidden], obs.gold_classes[hidden]
        for name in list(fitters):
            try:
                post = fitters[name](train).posteriors
            except ConvergenceError:
                del fitters[name], log_score[name], hits[name]
                continue
            p = np.maximum(post[items, classes], _MIN_PROBABILITY)
            log_score[name][hidden] = np.log(p)
            hits[name][hidden] = pick_labels(post)[items] == classes
    return GoldScores(log_score, hits)


def mixture_log_score(scores: GoldScores, weights: dict[str, float]) -> FloatArray | None:
    """Per gold item, the log score of the weighted mixture of candidates' posteriors
    (one candidate with weight 1: its own); ``None`` if one of them has no score."""
    if any(name not in scores.log_score for name in weights):
        return None
    total = sum(w * np.exp(scores.log_score[name]) for name, w in weights.items())
    return np.log(np.maximum(np.asarray(total, dtype=np.float64), _MIN_PROBABILITY))


def gold_choice(
    scores: GoldScores,
    answer_weights: dict[str, float],
    *,
    order: Sequence[str] = (),
    gold_z: float = GOLD_Z,
) -> str | None:
    """The candidate with the best mean gold log score, if it beats the answer-based choice
    (``answer_weights``: its candidates and weights) by more than ``gold_z`` paired standard
    errors over the gold items; otherwise ``None`` (the answer-based choice stands).
    Ties go to the earlier candidate in ``order``."""
    if not scores.log_score:
        return None
    rank = list(order)

    def key(name: str) -> tuple[float, int]:
        return float(scores.log_score[name].mean()), -rank.index(name) if name in rank else 0

    best = max(scores.log_score, key=key)
    base = mixture_log_score(scores, answer_weights)
    if base is None:  # the answer-based choice failed on a fold: it stands
        return None
    if set(answer_weights) == {best}:
        return None
    diff = scores.log_score[best] - base
    se = float(diff.std(ddof=1) / np.sqrt(len(diff))) if len(diff) > 1 else 0.0
    return best if float(diff.mean()) > gold_z * se + 1e-12 else None
