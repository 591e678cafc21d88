"""Consensus at export time: what an item's answers add up to, and how sure we are.

A :class:`ConsensusBuilder` is fed every answer of a project once (the first pass), turns each
answer's quality observations (:meth:`TaskType.observations`) into compact integer codes per
*channel* (one question asked of every item: a pairwise criterion, a rating criterion, one
pair of a ranking, ...; the task type declares them, :meth:`TaskType.consensus_channels`),
then fits the model that fits each channel's kind with :mod:`expertloop.quality`:

- ``comparison`` channels (pairwise choices; the pairs of a ranking): Dawid-Skene over
  A / tie / B with shrinkage, :func:`~expertloop.quality.preferences.pairwise_consensus`.
- ``class`` channels (labels; multi-label yes/no; rubric pass/fail; Likert points of a rating
  or rubric criterion, one class per point of the scale): :func:`~expertloop.quality.
  aggregation.aggregate` with ``method="auto"`` (majority vote below two answers per item,
  otherwise Dawid-Skene, or the average of the models that predict held-out answers clearly
  better; see its docstring), anchored by gold where given.

A fitted channel keeps, per unit (item, or item and pair), the posterior over its classes,
the consensus class, its probability (*confidence*) and the share of the unit's answers that
gave the consensus class (*agreement*). 1M answers take a few MB before the fit.

Ranking expansion rule (a ``per_pair`` channel, fed by ``"ranking"`` observations): an
answer ranking ``n`` responses gives one comparison per pair ``i < j`` of responses: ``A``
when ``i`` is in a better tier, ``B`` when ``j`` is, ``tie`` when they share a tier. The
unit of pair ``(i, j)`` of item ``k`` is ``k * 81 + i * 9 + j``.
"""

from __future__ import annotations

import logging
import math
from array import array
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from expertloop.quality._common import ConvergenceError, QualityInputError
from expertloop.quality.aggregation import aggregate, majority_vote
from expertloop.quality.agreement import krippendorff_alpha
from expertloop.quality.preferences import pairwise_consensus
from expertloop.tasks import TaskType
from expertloop.tasks.training import COMPARISON_LABELS, ChannelSpec

__all__ = [
    "COMPARISON_LABELS",
    "PAIR_BASE",
    "ChannelAnswers",
    "ChannelEstimate",
    "ChannelSpec",
    "ConsensusBuilder",
    "FittedChannel",
    "ProjectConsensus",
    "pair_unit",
]

PAIR_BASE = 81  # 9 responses at most: i * 9 + j < 81

logger = logging.getLogger(__name__)


def pair_unit(item_id: int, i: int, j: int) -> int:
    """The unit id of the pair ``(i, j)``, ``i < j``, of a ranking item."""
    return item_id * PAIR_BASE + i * 9 + j


class _Codes:
    """Parallel compact arrays: one (unit, worker, class code) per answer of a channel."""

    __slots__ = ("codes", "units", "workers")

    def __init__(self) -> None:
        self.units = array("q")
        self.workers = array("i")  # int32: 4 bytes per answer
        self.codes = array("b")

    def extend(
        self, units: NDArray[np.int64], workers: NDArray[np.int64], codes: NDArray[np.int8]
    ) -> None:
        self.units.frombytes(units.astype(np.int64, copy=False).tobytes())
        self.workers.frombytes(workers.astype(np.int32).tobytes())
        self.codes.frombytes(codes.astype(np.int8, copy=False).tobytes())


@dataclass(eq=False)
class FittedChannel:
    """A channel's consensus. Arrays follow ``units`` (sorted)."""

    spec: ChannelSpec
    units: NDArray[np.int64]
    posteriors: NDArray[np.float64]  # (n_units, n_classes), columns in spec.classes order
    best: NDArray[np.intp]
    agreement: NDArray[np.float64]
    n_answers: NDArray[np.intp]
    method: str
    fallback: str | None = None  # why the channel's model gave way to a vote, if it did
    # The model's estimate of each worker's reliability (sorted worker ids; the probability
    # a worker gives the true class, weighted by the classes' prevalence, or the model's
    # own skill where it has no confusion matrix), where the model has one.
    worker_ids: NDArray[np.int64] | None = None
    worker_reliability: NDArray[np.float64] | None = None

    @property
    def confidence(self) -> NDArray[np.float64]:
        return self.posteriors[np.arange(len(self.best)), self.best]

    def positions(self, units: NDArray[np.int64]) -> NDArray[np.intp]:
        """Index of each unit in this channel, ``-1`` where the channel has no answer for it."""
        pos = np.searchsorted(self.units, units)
        pos = np.minimum(pos, max(len(self.units) - 1, 0))
        found = (self.units[pos] == units) if len(self.units) else np.zeros(len(units), bool)
        return np.where(found, pos, -1)

    def mean_value(self, index: int) -> float:
        """Posterior mean of a numeric scale (the aggregated score)."""
        values = np.asarray(self.spec.classes, dtype=np.float64)
        return float(self.posteriors[index] @ values)

    def at(self, index: int) -> ChannelEstimate:
        """The consensus of the unit at ``index``, as the task types read it."""
        return ChannelEstimate(self, index)


class ChannelEstimate:
    """One unit of a fitted channel: the :class:`~expertloop.tasks.training.Estimate` a
    task type reads to make an item's consensus and training examples."""

    __slots__ = ("_best", "channel", "index")

    def __init__(self, channel: FittedChannel, index: int) -> None:
        self.channel = channel
        self.index = index
        self._best = int(channel.best[index])

    @property
    def best(self) -> Any:
        return self.channel.spec.classes[self._best]

    @property
    def confidence(self) -> float:
        return float(self.channel.posteriors[self.index, self._best])

    @property
    def agreement(self) -> float:
        return float(self.channel.agreement[self.index])

    def probability(self, cls: Any) -> float:
        return float(self.channel.posteriors[self.index, self.channel.spec.classes.index(cls)])

    def mean(self) -> float:
        return self.channel.mean_value(self.index)


class ConsensusBuilder:
    """Collects a project's answers (first pass), then fits every channel (:meth:`fit`)."""

    def __init__(self, task: TaskType, config: Mapping[str, Any]) -> None:
        self.task = task
        self.config = config
        self.specs = task.consensus_channels(config)
        self._codes = {key: _Codes() for key in self.specs}
        self._class_code = {
            key: {c: n for n, c in enumerate(spec.classes)} for key, spec in self.specs.items()
        }
        self._gold: dict[str, dict[int, int]] = {key: {} for key in self.specs}
        self.n_answers = 0
        self.workers: set[int] = set()
        # The channel a ranking's pairs go to, if the task type has one.
        self._pairs = next((k for k, spec in self.specs.items() if spec.per_pair), None)

    def field_paths(self) -> dict[str, tuple[str, ...]] | None:
        """The JSON path of each channel's observation, where the task type says every
        channel is one field of the answer (:meth:`TaskType.coded_answer_fields`); ``None``
        otherwise (feed the answers with :meth:`add`)."""
        paths = self.task.coded_answer_fields(self.config)
        if paths is not None and any('"' in part for path in paths.values() for part in path):
            return None  # a JSON path cannot quote it on SQLite: decode instead
        return paths

    def coded_fields(self) -> dict[str, tuple[tuple[str, ...], tuple[str | None, ...]]] | None:
        """Each channel's JSON path (:meth:`field_paths`) and the text of each of its classes
        (``None`` for a class that is not text: no text field matches it), or ``None``. The
        database extracts and codes those fields, and :meth:`add_codes` takes the codes, so
        no answer is decoded."""
        paths = self.field_paths()
        if paths is None:
            return None
        return {
            key: (path, tuple(c if isinstance(c, str) else None for c in self.specs[key].classes))
            for key, path in paths.items()
        }

    def add_codes(
        self,
        item_ids: NDArray[np.int64],
        worker_ids: NDArray[np.int64],
        codes: Mapping[str, NDArray[np.integer[Any]]],
    ) -> None:
        """A batch of answers, each channel's observation given as the position of its class
        in the channel's classes (``-1`` where the answer has none), as :meth:`coded_fields`
        describes them: the same codes as :meth:`add` gives, without a Python loop."""
        self.n_answers += len(item_ids)
        self.workers.update(np.unique(worker_ids).tolist())
        for key, channel_codes in codes.items():
            keep = channel_codes >= 0
            self._codes[key].extend(
                item_ids[keep], worker_ids[keep], channel_codes[keep].astype(np.int8)
            )

    def add(self, item_id: int, worker_id: int, answer: Mapping[str, Any]) -> None:
        self.n_answers += 1
        self.workers.add(worker_id)
        if not self.specs:
            return
        for obs in self.task.observations(answer, config=self.config):
            if obs.kind == "ranking":
                if self._pairs is not None:
                    self._add_ranking(item_id, worker_id, obs.value)  # type: ignore[arg-type]
                continue
            codes = self._codes.get(obs.key)
            if codes is None:
                continue
            code = self._class_code[obs.key].get(obs.value)
            if code is None:
                continue  # e.g. a rubric's weighted total, a label outside a changed config
            codes.units.append(item_id)
            codes.workers.append(worker_id)
            codes.codes.append(code)

    def _add_ranking(self, item_id: int, worker_id: int, tiers: Sequence[Sequence[int]]) -> None:
        tier_of = {i: t for t, tier in enumerate(tiers) for i in tier}
        assert self._pairs is not None
        codes = self._codes[self._pairs]
        ordered = sorted(tier_of)
        for a, i in enumerate(ordered):
            for j in ordered[a + 1 :]:
                ti, tj = tier_of[i], tier_of[j]
                codes.units.append(pair_unit(item_id, i, j))
                codes.workers.append(worker_id)
                codes.codes.append(0 if ti < tj else 2 if tj < ti else 1)

    def add_gold(self, item_id: int, gold: Mapping[str, Any]) -> None:
        """Gold anchors class channels (the label models take it); comparisons ignore it."""
        for obs in self.task.observations(gold, config=self.config):
            spec = self.specs.get(obs.key)
            if spec is None or spec.kind != "class":
                continue
            code = self._class_code[obs.key].get(obs.value)
            if code is not None:
                self._gold[obs.key][item_id] = code

    def fit(self, *, seed: int = 0, stats_exclude: Iterable[int] = ()) -> ProjectConsensus:
        """Fit every channel. ``stats_exclude`` (gold items left out of the export) is left
        out of the agreement statistic (:meth:`ProjectConsensus.alphas`), not of the fit:
        gold answers still teach the models about the workers."""
        fitted = {}
        answers = {}
        for key, spec in self.specs.items():
            codes = self._codes[key]
            if not len(codes.units):
                continue
            answers[key] = ChannelAnswers(
                _narrow(np.frombuffer(codes.units, dtype=np.int64)),
                np.frombuffer(codes.workers, dtype=np.int32),
                np.frombuffer(codes.codes, dtype=np.int8),
            )
            self._codes[key] = _Codes()  # the arrays above keep what they need alive
            fitted[key] = _fit_channel(key, spec, answers[key], self._gold[key], seed=seed)
        return ProjectConsensus(
            task=self.task,
            config=self.config,
            specs=self.specs,
            channels=fitted,
            n_answers=self.n_answers,
            n_workers=len(self.workers),
            answers=answers,
            stats_exclude=np.fromiter(stats_exclude, dtype=np.int64),
        )


@dataclass(frozen=True, eq=False)
class ChannelAnswers:
    """A channel's answers as parallel codes: unit, worker, class (position in the
    channel's classes)."""

    units: NDArray[np.signedinteger[Any]]
    workers: NDArray[np.int32]
    labels: NDArray[np.int8]


_INT32 = np.iinfo(np.int32)


def _narrow(units: NDArray[np.int64]) -> NDArray[np.signedinteger[Any]]:
    """``units`` as int32 where they fit (half the memory in every model's encoding of
    them), else unchanged."""
    if len(units) and _INT32.min <= units.min() and units.max() <= _INT32.max:
        return units.astype(np.int32)
    return units


def _scoped_alpha(
    spec: ChannelSpec, answers: ChannelAnswers, excluded: NDArray[np.int64], *, pairs: bool
) -> float | None:
    """:func:`channel_alpha` without the answers on ``excluded`` items (copies only where
    some are excluded)."""
    units, workers, labels = answers.units, answers.workers, answers.labels
    if len(excluded):
        keep = ~np.isin(units // PAIR_BASE if pairs else units, excluded)
        if not keep.all():
            units, workers, labels = units[keep], workers[keep], labels[keep]
    return channel_alpha(spec, units, workers, labels)


def channel_alpha(
    spec: ChannelSpec,
    units: NDArray[np.signedinteger[Any]],
    workers: NDArray[np.integer[Any]],
    labels: NDArray[np.integer[Any]],
) -> float | None:
    """Krippendorff's alpha of a channel: interval on numeric scales (the points' values),
    nominal otherwise (A / tie / B, labels, pass / fail). ``None`` where it is undefined
    (no unit with two answers, or no variation at all)."""
    if not len(units):
        return None
    try:
        if spec.numeric:
            values = np.asarray(spec.classes, dtype=np.float64)[labels]
            return krippendorff_alpha(workers, units, values, level="interval")
        return krippendorff_alpha(workers, units, labels, level="nominal")
    except QualityInputError:
        return None


def _fit_channel(
    key: str,
    spec: ChannelSpec,
    answers: ChannelAnswers,
    gold: dict[int, int],
    *,
    seed: int,
) -> FittedChannel:
    """Fit one channel's model. Where the model fails (no convergence, unusable input) the
    channel falls back to a vote, never to a half-fitted model, and says so: the reason is
    logged and kept in :attr:`FittedChannel.fallback` (the card records it)."""
    units, workers, labels = answers.units, answers.workers, answers.labels
    k = len(spec.classes)
    fallback = None
    if spec.kind == "comparison":
        try:
            result = pairwise_consensus(workers, units, labels, labels=(0, 1, 2))
            method = "pairwise_dawid_skene"
        except ConvergenceError as exc:
            fallback = str(exc)
            # A single E-step at the prior accuracy: a weighted vote.
            result = pairwise_consensus(
                workers, units, labels, labels=(0, 1, 2), worker_reliability={}
            )
            method = "pairwise_vote"
        post = np.column_stack([result.p_a_better, result.p_tie, result.p_b_better])
        fitted_units = np.asarray(result.item_ids, dtype=np.int64)
        best = np.asarray(result.choice, dtype=np.intp)
        worker_ids = np.asarray(result.worker_ids, dtype=np.int64)
        reliability = _prevalence_weighted(result.worker_confusion, result.class_prior)
    else:
        classes = list(range(k))
        anchors = dict(gold) if gold else None
        try:
            agg = aggregate(workers, units, labels, classes=classes, gold=anchors, seed=seed)
        except (ConvergenceError, QualityInputError) as exc:
            fallback = str(exc)
            agg = majority_vote(workers, units, labels, classes=classes, gold=anchors)
        post = np.asarray(agg.posteriors, dtype=np.float64)
        fitted_units = np.asarray(agg.item_ids, dtype=np.int64)
        best = np.asarray(agg.labels, dtype=np.intp)
        method = agg.method
        worker_ids = np.asarray(agg.worker_ids, dtype=np.int64)
        if agg.worker_confusion is not None:
            reliability = _prevalence_weighted(agg.worker_confusion, post.mean(axis=0))
        else:
            reliability = np.asarray(agg.worker_skill, dtype=np.float64)
    if fallback is not None:
        logger.warning("consensus of channel %r fell back to %s: %s", key, method, fallback)
    # Agreement: the share of a unit's answers that gave its consensus class.
    pos = np.searchsorted(fitted_units, units)
    agree = labels == best[pos]
    n = np.bincount(pos, minlength=len(fitted_units))
    agreement = np.bincount(pos, weights=agree, minlength=len(fitted_units)) / np.maximum(n, 1)
    return FittedChannel(
        spec, fitted_units, post, best, agreement, n.astype(np.intp), method, fallback=fallback,
        worker_ids=worker_ids, worker_reliability=reliability,
    )


def _prevalence_weighted(confusion: NDArray[np.float64], prior: NDArray[np.float64]) -> Any:
    """Each worker's probability of giving the true class: the diagonal of its confusion
    matrix weighted by the classes' prevalence."""
    diagonal = np.diagonal(np.asarray(confusion, dtype=np.float64), axis1=1, axis2=2)
    weights = np.asarray(prior, dtype=np.float64)
    return diagonal @ (weights / weights.sum()) if weights.sum() > 0 else diagonal.mean(axis=1)


@dataclass(eq=False)
class ProjectConsensus:
    """Every fitted channel of a project, looked up by item."""

    task: TaskType
    config: Mapping[str, Any]
    specs: dict[str, ChannelSpec]
    channels: dict[str, FittedChannel]
    n_answers: int
    n_workers: int
    answers: dict[str, ChannelAnswers] = field(default_factory=dict, repr=False)
    stats_exclude: NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, np.int64))
    _alphas: dict[str, float | None] | None = field(default=None, repr=False)

    def alphas(self) -> dict[str, float | None]:
        """Krippendorff's alpha of each fitted channel (:func:`channel_alpha`), over the
        answers outside ``stats_exclude``. Computed on first use, then the answers' codes
        are let go: at millions of answers it costs about as much time and memory as the
        fit, and only the card (and the CLI's summary) needs it, not the rows."""
        if self._alphas is None:
            self._alphas = {
                key: _scoped_alpha(
                    self.specs[key],
                    self.answers[key],
                    self.stats_exclude,
                    pairs=self.specs[key].per_pair,
                )
                for key in self.channels
            }
            self.answers.clear()
        return self._alphas

    @property
    def free_text(self) -> bool:
        return not self.specs

    @property
    def method(self) -> str:
        """The consensus method, as recorded in the card and on every consensus line."""
        if self.free_text:
            return "first_answer"
        methods = sorted({c.method for c in self.channels.values()})
        return "+".join(methods) if methods else "none"

    @property
    def fallbacks(self) -> dict[str, str]:
        """The channels whose model gave way to a vote, with the reason (empty when none
        did): recorded in the card next to :attr:`method`."""
        return {
            key: channel.fallback
            for key, channel in self.channels.items()
            if channel.fallback is not None
        }

    def lookup(self, item_ids: Iterable[int]) -> ItemLookup:
        return ItemLookup(self, np.fromiter(item_ids, dtype=np.int64))


class ItemLookup:
    """Per-item consensus for one batch of items (vectorised look-ups per channel)."""

    def __init__(self, pc: ProjectConsensus, item_ids: NDArray[np.int64]) -> None:
        self.pc = pc
        self.item_ids = item_ids
        self._pos: dict[str, NDArray[np.intp]] = {}
        self.pairs_channel: FittedChannel | None = None
        for channel in pc.channels.values():
            if channel.spec.per_pair:
                self.pairs_channel = channel
        for key, channel in pc.channels.items():
            if not channel.spec.per_pair:
                self._pos[key] = channel.positions(item_ids)

    def index(self, key: str, row: int) -> int:
        """Position in channel ``key`` of the batch's ``row``-th item, or -1."""
        pos = self._pos.get(key)
        return -1 if pos is None else int(pos[row])

    def pairs(self, item_id: int) -> list[tuple[int, int, int]]:
        """``(i, j, index)`` of the fitted pairs of a ranking item (its per-pair channel)."""
        channel = self.pairs_channel
        if channel is None:
            return []
        start = int(np.searchsorted(channel.units, item_id * PAIR_BASE))
        stop = int(np.searchsorted(channel.units, (item_id + 1) * PAIR_BASE))
        out = []
        for index in range(start, stop):
            rest = int(channel.units[index]) - item_id * PAIR_BASE
            out.append((rest // 9, rest % 9, index))
        return out


def nan_to_none(value: float) -> float | None:
    return None if value is None or math.isnan(value) else float(value)
