"""Crowd answers drawn from known worker and item models, for testing truth inference.

Real crowds differ in ways that decide which aggregation model works: workers whose errors
favour one class (a rare positive class judged by people who rarely say "yes"), crowds of
many weak workers with a few strong ones, spammers, items that are hard for everyone, and
projects with only two or three answers per item. :func:`simulate_answers` draws a data set
from one of these regimes with the truth known, so a test or a benchmark can check that an
estimator recovers the truth (or the generating model) instead of trusting a handful of real
data sets with gold.

The generative model, shared by every scenario:

- item ``i`` has a true class ``z_i ~ Categorical(class_prior)`` and an easiness ``e_i``;
- each item gets ``answers_per_item`` answers from distinct workers, drawn with
  probability proportional to a heavy-tailed (log-normal) activity per worker, as real crowds
  have a few prolific workers and many occasional ones;
- worker ``w`` answering item ``i``: with probability ``e_i`` draws its label from row
  ``z_i`` of its confusion matrix ``confusion[w]``; otherwise the item misleads it, and it
  gives the item's *distractor* class (a wrong class fixed per item) with probability 0.7,
  or a uniformly random class.

This is the "hard item" structure that GLAD models by item difficulty and Dawid-Skene does
not; class-biased confusion matrices are the structure Dawid-Skene models and one-coin
models and GLAD do not. Every scenario randomises its sizes and parameters from ``seed``.

>>> sim = simulate_answers("spammers", seed=3)
>>> len(sim.workers) == len(sim.items) == len(sim.labels)
True
>>> sim.truth.shape == (sim.n_items,)
True
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import NDArray

from expertloop.quality._common import QualityInputError

__all__ = ["SCENARIOS", "SimulatedAnswers", "simulate_answers"]

IntArray = NDArray[np.intp]
FloatArray = NDArray[np.float64]

# How often a misled worker gives the item's distractor class rather than a random one.
_DISTRACTOR_SHARE = 0.7


@dataclass(frozen=True, eq=False)
class SimulatedAnswers:
    """A simulated data set: the answers (parallel arrays) and the truth behind them.

    Attributes:
        workers, items, labels: one entry per answer, as :func:`~expertloop.quality.aggregate`
            takes them (integer codes: items ``0..n_items-1``, labels ``0..n_classes-1``).
        truth: the true class of each item.
        confusion: ``(n_workers, n_classes, n_classes)``, each worker's label distribution
            per true class on items that do not mislead it.
        easiness: per item, the chance that a worker is not misled by it.
        scenario: the scenario's name.
    """

    workers: IntArray
    items: IntArray
    labels: IntArray
    truth: IntArray
    confusion: FloatArray
    easiness: FloatArray
    scenario: str

    @property
    def n_items(self) -> int:
        return len(self.truth)

    @property
    def n_classes(self) -> int:
        return int(self.confusion.shape[1])

    def accuracy(self, item_ids: NDArray[np.generic], labels: NDArray[np.generic]) -> float:
        """Share of ``item_ids`` whose ``labels`` equal the truth (an aggregator's output)."""
        ids = np.asarray(item_ids, dtype=np.intp)
        return float(np.mean(np.asarray(labels, dtype=np.intp) == self.truth[ids]))


@dataclass(frozen=True)
class _Design:
    n_items: int
    n_workers: int
    answers_per_item: int
    class_prior: FloatArray
    confusion: FloatArray
    easiness: FloatArray
    # Items of these true classes never mislead anyone (their easiness is 1).
    easy_classes: tuple[int, ...] = ()


def _symmetric(accuracy: FloatArray, k: int) -> FloatArray:
    """One-coin matrices: the true class with ``accuracy``, errors spread evenly."""
    off = (1 - accuracy) / (k - 1)
    conf = np.repeat(np.repeat(off[:, None, None], k, axis=1), k, axis=2)
    idx = np.arange(k)
    conf[:, idx, idx] = accuracy[:, None]
    return conf


def _biased(
    rng: np.random.Generator, n: int, k: int, per_class_accuracy: FloatArray, favoured: int
) -> FloatArray:
    """Matrices whose errors mostly go to the ``favoured`` class (a worker's default answer)."""
    conf = np.zeros((n, k, k))
    for row in range(k):
        acc = per_class_accuracy[:, row]
        rest = 1 - acc
        if row == favoured or k == 2:
            spread = rng.dirichlet(np.ones(k - 1), size=n)
            others = [c for c in range(k) if c != row]
            conf[:, row, others] = rest[:, None] * spread
        else:
            toward = rng.uniform(0.6, 0.95, n)
            conf[:, row, favoured] = rest * toward
            others = [c for c in range(k) if c not in (row, favoured)]
            if others:
                conf[:, row, others] = (rest * (1 - toward) / len(others))[:, None]
            else:
                conf[:, row, favoured] += rest * (1 - toward)
        conf[:, row, row] = acc
    return conf


def _sizes(rng: np.random.Generator, *, few_answers: bool = False) -> tuple[int, int, int, int]:
    k = int(rng.choice([2, 2, 3, 4, 5]))
    n_items = int(rng.integers(300, 1200))
    n_workers = int(rng.integers(20, 150))
    per_item = int(rng.integers(2, 4)) if few_answers else int(rng.integers(3, 9))
    return k, n_items, min(n_workers, 400), min(per_item, n_workers)


def _easy_items(rng: np.random.Generator, n_items: int) -> FloatArray:
    return np.asarray(rng.uniform(0.9, 1.0, n_items))


def _one_coin_design(
    rng: np.random.Generator,
    sizes: tuple[int, int, int, int],
    accuracy: FloatArray,
    *,
    easiness: FloatArray | None = None,
) -> _Design:
    """Workers of the given accuracies whose errors spread evenly, classes drawn around
    uniform shares, items easy unless ``easiness`` says otherwise."""
    k, n_items, n_workers, per_item = sizes
    prior = rng.dirichlet(np.full(k, 5.0))
    if easiness is None:
        easiness = _easy_items(rng, n_items)
    return _Design(n_items, n_workers, per_item, prior, _symmetric(accuracy, k), easiness)


def _scenario_symmetric(rng: np.random.Generator) -> _Design:
    k, n_items, n_workers, per_item = _sizes(rng)
    accuracy = rng.uniform(max(0.55, 1.5 / k), 0.95, n_workers)
    return _one_coin_design(rng, (k, n_items, n_workers, per_item), accuracy)


def _scenario_class_biased_rare(rng: np.random.Generator) -> _Design:
    k, n_items, n_workers, per_item = _sizes(rng)
    rare = int(rng.integers(k))
    rare_share = rng.uniform(0.05, 0.2)
    prior = rng.dirichlet(np.full(k, 5.0))
    prior[rare] = 0.0
    prior *= (1 - rare_share) / prior.sum()
    prior[rare] = rare_share
    favoured = int(np.argmax(prior))
    acc = rng.uniform(0.75, 0.98, (n_workers, k))
    acc[:, rare] = rng.uniform(0.35, 0.8, n_workers)  # the rare class is often missed
    return _Design(
        n_items,
        n_workers,
        per_item,
        prior,
        _biased(rng, n_workers, k, acc, favoured),
        _easy_items(rng, n_items),
    )


def _scenario_strict_and_lenient(rng: np.random.Generator) -> _Design:
    # A yes/no judgement (relevance, safety): workers differ in how readily they say yes.
    _, n_items, n_workers, per_item = _sizes(rng)
    rare_share = rng.uniform(0.1, 0.3)
    prior = np.array([1 - rare_share, rare_share])
    kind = rng.choice(3, n_workers, p=[0.5, 0.3, 0.2])  # strict, lenient, careful
    low, high = np.array([[0.95, 0.5, 0.85], [0.99, 0.7, 0.95]])[:, kind]
    specificity = rng.uniform(low, high)
    low, high = np.array([[0.3, 0.9, 0.85], [0.6, 0.99, 0.95]])[:, kind]
    sensitivity = rng.uniform(low, high)
    conf = np.empty((n_workers, 2, 2))
    conf[:, 0, 0], conf[:, 0, 1] = specificity, 1 - specificity
    conf[:, 1, 1], conf[:, 1, 0] = sensitivity, 1 - sensitivity
    return _Design(n_items, n_workers, per_item, prior, conf, _easy_items(rng, n_items))


def _scenario_weak_crowd_few_experts(rng: np.random.Generator) -> _Design:
    k, n_items, n_workers, per_item = _sizes(rng)
    chance = 1.0 / k
    accuracy = chance + rng.uniform(0.05, 0.2, n_workers) * (1 - chance)
    experts = rng.random(n_workers) < rng.uniform(0.05, 0.15)
    accuracy[experts] = rng.uniform(0.85, 0.97, int(experts.sum()))
    return _one_coin_design(rng, (k, n_items, n_workers, per_item), accuracy)


def _scenario_spammers(rng: np.random.Generator) -> _Design:
    k, n_items, n_workers, per_item = _sizes(rng)
    accuracy = rng.uniform(max(0.6, 1.5 / k), 0.95, n_workers)
    conf = _symmetric(accuracy, k)
    spam = rng.random(n_workers) < rng.uniform(0.2, 0.4)
    for w in np.flatnonzero(spam):
        if rng.random() < 0.5:  # uniform random answers
            conf[w] = 1.0 / k
        else:  # always (almost) the same answer
            habit = np.full(k, 0.05 / (k - 1))
            habit[rng.integers(k)] = 0.95
            conf[w] = habit[None, :]
    return _Design(
        n_items,
        n_workers,
        per_item,
        rng.dirichlet(np.full(k, 5.0)),
        conf,
        _easy_items(rng, n_items),
    )


def _scenario_item_difficulty(rng: np.random.Generator) -> _Design:
    k, n_items, n_workers, per_item = _sizes(rng)
    accuracy = rng.uniform(max(0.65, 1.5 / k), 0.95, n_workers)
    easiness = rng.beta(2.0, rng.uniform(0.4, 1.2), n_items)
    return _one_coin_design(rng, (k, n_items, n_workers, per_item), accuracy, easiness=easiness)


def _scenario_lookalike_negatives(rng: np.random.Generator) -> _Design:
    # A yes/no judgement where some "no" items look like "yes" ones and mislead most workers
    # the same way (entity linking, near-duplicates): errors correlated across workers on the
    # same items, which no model with independent workers represents.
    _, n_items, n_workers, per_item = _sizes(rng)
    rare_share = rng.uniform(0.15, 0.35)
    prior = np.array([1 - rare_share, rare_share])
    accuracy = rng.uniform(0.7, 0.95, n_workers)
    lookalike = rng.random(n_items) < rng.uniform(0.2, 0.4)
    easiness = np.where(lookalike, rng.uniform(0.1, 0.5, n_items), rng.uniform(0.9, 1.0, n_items))
    return _Design(
        n_items, n_workers, per_item, prior, _symmetric(accuracy, 2), easiness, easy_classes=(1,)
    )


def _scenario_few_answers(rng: np.random.Generator) -> _Design:
    k, n_items, n_workers, per_item = _sizes(rng, few_answers=True)
    accuracy = rng.uniform(max(0.55, 1.5 / k), 0.95, n_workers)
    return _one_coin_design(rng, (k, n_items, n_workers, per_item), accuracy)


_SCENARIOS: dict[str, Callable[[np.random.Generator], _Design]] = {
    "symmetric": _scenario_symmetric,
    "class_biased_rare": _scenario_class_biased_rare,
    "strict_and_lenient": _scenario_strict_and_lenient,
    "weak_crowd_few_experts": _scenario_weak_crowd_few_experts,
    "spammers": _scenario_spammers,
    "item_difficulty": _scenario_item_difficulty,
    "few_answers": _scenario_few_answers,
    "lookalike_negatives": _scenario_lookalike_negatives,
}
SCENARIOS: tuple[str, ...] = tuple(_SCENARIOS)
"""The scenarios :func:`simulate_answers` knows:

- ``symmetric``: workers of varied accuracy whose errors spread evenly (one-coin workers).
- ``class_biased_rare``: one rare class (5-20% of items) that workers often miss, errors
  drawn toward the most common class (relevance judging, safety flags).
- ``strict_and_lenient``: a yes/no judgement with 10-30% yes, by strict workers (rarely yes,
  often missing one), lenient ones (often yes, rarely missing one) and careful ones: errors
  that are asymmetric per worker, in opposite directions.
- ``weak_crowd_few_experts``: most workers a little better than chance, 5-15% experts.
- ``spammers``: 20-40% of workers answer at random or always give the same label.
- ``item_difficulty``: reliable workers, but many items mislead most of them toward a
  distractor class.
- ``few_answers``: two or three answers per item.
- ``lookalike_negatives``: a yes/no judgement where 20-40% of the items, all of them "no",
  mislead most workers toward "yes": errors correlated across workers on the same items.
"""


def simulate_answers(
    scenario: str,
    *,
    seed: int | np.random.Generator = 0,
    answers_per_item: int | None = None,
) -> SimulatedAnswers:
    """Draw a data set from ``scenario`` (one of :data:`SCENARIOS`), reproducibly from ``seed``.

    ``answers_per_item`` overrides the scenario's (two to eight; at most the number of
    workers): the same crowd asked for many answers per item, as adaptive redundancy's
    ``max_answers`` needs (every other parameter is drawn as without it).
    """
    if scenario not in _SCENARIOS:
        raise QualityInputError(f"unknown scenario {scenario!r}; use one of {list(SCENARIOS)}")
    if answers_per_item is not None and answers_per_item < 1:
        raise QualityInputError("answers_per_item must be at least 1")
    rng = np.random.default_rng(seed)
    design = _SCENARIOS[scenario](rng)
    if answers_per_item is not None:
        design = replace(design, answers_per_item=min(answers_per_item, design.n_workers))
    return _draw(rng, design, scenario)


def _draw(rng: np.random.Generator, d: _Design, scenario: str) -> SimulatedAnswers:
    k = d.confusion.shape[1]
    truth = rng.choice(k, size=d.n_items, p=d.class_prior).astype(np.intp)
    activity = rng.lognormal(0.0, 1.0, d.n_workers)
    # Distinct workers per item, weighted by activity: Gumbel top-k on log activity.
    keys = np.log(activity)[None, :] + rng.gumbel(size=(d.n_items, d.n_workers))
    chosen = np.argpartition(-keys, d.answers_per_item - 1, axis=1)[:, : d.answers_per_item]
    workers = chosen.reshape(-1).astype(np.intp)
    items = np.repeat(np.arange(d.n_items, dtype=np.intp), d.answers_per_item)
    rows = d.confusion[workers, truth[items]]
    labels = _categorical(rng, rows)
    distractor = (truth + rng.integers(1, k, d.n_items)) % k
    easiness = d.easiness.copy()
    easiness[np.isin(truth, d.easy_classes)] = 1.0
    misled = rng.random(len(items)) >= easiness[items]
    to_distractor = misled & (rng.random(len(items)) < _DISTRACTOR_SHARE)
    labels[to_distractor] = distractor[items[to_distractor]]
    at_random = misled & ~to_distractor
    labels[at_random] = rng.integers(0, k, int(at_random.sum()))
    return SimulatedAnswers(
        workers=workers,
        items=items,
        labels=labels,
        truth=truth,
        confusion=d.confusion,
        easiness=easiness,
        scenario=scenario,
    )


def _categorical(rng: np.random.Generator, probabilities: FloatArray) -> IntArray:
    cdf = np.cumsum(probabilities, axis=1)
    u = rng.random(len(probabilities))[:, None] * cdf[:, -1:]
    return np.minimum((u > cdf).sum(axis=1), probabilities.shape[1] - 1).astype(np.intp)
