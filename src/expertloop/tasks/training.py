"""The vocabulary a task type uses to say how its items become consensus and training data.

A task type answers four questions with these objects, so the exporter and the consensus
builder (:mod:`expertloop.exports`) never ask for a task type by name:

- *Which questions are aggregated per item, and how?* :meth:`TaskType.consensus_channels`
  returns a :class:`ChannelSpec` per observation key: ``"comparison"`` channels (A / tie / B)
  are fitted with a pairwise Dawid-Skene model, ``"class"`` channels (labels, yes/no,
  pass/fail, the points of a numeric scale) with label aggregation. A type with no channel
  is *free text*: its consensus is a selected answer, not an aggregate.
- *What does the fitted consensus of one item say?* :meth:`TaskType.consensus` reads the
  item's :class:`Estimate` s and returns an answer-shaped dict.
- *Which training formats does it offer?* :attr:`TaskType.export_formats`, from
  :data:`EXPORT_FORMATS` (``raw`` is offered by every type).
- *What does each format hold for an item?* :meth:`TaskType.training_examples` yields the
  :class:`TrainingExample` s of an item (a :class:`Preference`, a :class:`Verdict`, a
  :class:`Score`, a :class:`Demonstration`, a :class:`Classified` text or an authored
  :class:`Problem`, each with the confidence and agreement of the consensus it comes from
  and the confidence a guess would have, its ``chance``), or :data:`TIE` where a comparison
  taught nothing. The exporter filters them and writes them as rows of the format; in
  ``reward`` it pairs the :class:`Score` s of responses to the same prompt.

Nothing here knows a database, numpy arrays or a file format.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, Literal, NamedTuple, Protocol

if TYPE_CHECKING:
    from expertloop.tasks.base import TaskType

__all__ = [
    "COMPARISON_LABELS",
    "EXPORT_FORMATS",
    "TIE",
    "AnswerAsConsensus",
    "Certain",
    "ChannelSpec",
    "Classified",
    "ColumnarComparison",
    "Demonstration",
    "Estimate",
    "ExampleProject",
    "ItemConsensus",
    "ItemView",
    "Preference",
    "Problem",
    "Score",
    "Tie",
    "TrainingExample",
    "Verdict",
    "chance_of",
]

EXPORT_FORMATS: Final = (
    "preference",
    "unpaired",
    "sft",
    "reward",
    "scores",
    "classification",
    "rubric_rl",
    "raw",
)
"""Every training format an export can be written in, in the order they are listed to users.

- ``preference``: prompt, chosen, rejected (DPO).
- ``unpaired``: prompt, completion, bool label (KTO).
- ``sft``: a conversation, or a prompt and its completion (SFT).
- ``reward``: chosen / rejected pairs (RewardTrainer): a preference as it is, or two
  responses to the same prompt whose scores differ.
- ``scores``: one score per response (a regression reward model).
- ``classification``: a text and its label(s) (a sequence-classification head).
- ``rubric_rl``: an authored problem with its reference solution and rubric (RL with a
  rubric-based reward, e.g. GRPO with a reward function reading them).
- ``raw``: every answer as given, offered by every task type.

The others are offered only by the task types whose :attr:`TaskType.export_formats` name
them."""

COMPARISON_LABELS: Final = ("A", "tie", "B")
"""The classes of a comparison channel, in the order of its posterior columns."""

ChannelKind = Literal["comparison", "class"]


@dataclass(frozen=True)
class ChannelSpec:
    """One aggregated question about an item: ``kind`` ``"comparison"`` or ``"class"``, with
    its classes (for numeric scales, the points of the scale, in order).

    ``per_pair`` marks the channel of a ranking: one comparison per pair of the item's
    responses (from ``"ranking"`` observations), rather than one question per item.
    """

    kind: ChannelKind
    classes: tuple[Any, ...]
    per_pair: bool = field(default=False, kw_only=True)

    @property
    def numeric(self) -> bool:
        return all(isinstance(c, int | float) and not isinstance(c, bool) for c in self.classes)


class Estimate(Protocol):
    """The fitted consensus of one channel on one item (or one pair of an item)."""

    @property
    def best(self) -> Any:
        """The consensus class (one of the channel's classes)."""

    @property
    def confidence(self) -> float:
        """The posterior probability of :attr:`best`."""

    @property
    def agreement(self) -> float:
        """The share of the unit's answers that gave :attr:`best`."""

    def probability(self, cls: Any) -> float:
        """The posterior probability of the class ``cls``."""

    def mean(self) -> float:
        """The posterior mean of a numeric scale (the aggregated score)."""


class ItemConsensus(NamedTuple):
    """An item's consensus (answer-shaped), its confidence and agreement (the means over the
    item's channels; ``None`` for free text, which has no model)."""

    value: dict[str, Any]
    confidence: float | None
    agreement: float | None


class ItemView(Protocol):
    """What a task type may read of one item when it makes training examples."""

    @property
    def payload(self) -> Mapping[str, Any]: ...

    @property
    def answers(self) -> Sequence[Mapping[str, Any]]:
        """The item's answers that count (read for free-text types only)."""

    def estimate(self, key: str) -> Estimate | None:
        """The item's estimate on channel ``key``, ``None`` where it has no answer there."""

    def pairs(self) -> Sequence[tuple[int, int, Estimate]]:
        """``(i, j, estimate)`` of every fitted pair ``i < j`` of a per-pair channel."""

    def consensus(self) -> ItemConsensus | None:
        """The item's consensus (:meth:`TaskType.consensus`), ``None`` where it has none."""


@dataclass(frozen=True, slots=True)
class Preference:
    """``chosen`` is better than ``rejected`` as a reply to ``prompt``; ``strength`` is
    ``P(chosen better) - P(rejected better)``, in (0, 1]. Makes ``preference`` and
    ``reward`` rows and, one per side, ``unpaired`` rows."""

    prompt: Any
    chosen: str
    rejected: str
    strength: float


@dataclass(frozen=True, slots=True)
class Verdict:
    """``completion`` is a good (``True``) or bad reply to ``prompt``: an ``unpaired`` row."""

    prompt: Any
    completion: str
    label: bool


@dataclass(frozen=True, slots=True)
class Score:
    """``completion`` scores ``score`` on ``criterion``: a ``scores`` row; in ``reward``,
    the exporter pairs the scores (on a 0..1 scale there) of responses to the same prompt."""

    prompt: Any
    completion: str
    criterion: str
    score: float


@dataclass(frozen=True, slots=True)
class Demonstration:
    """``reply`` is the reply to ``prompt`` to learn from: an ``sft`` row."""

    prompt: Any
    reply: str


@dataclass(frozen=True, slots=True)
class Classified:
    """``text`` has the label at position ``label`` of the task type's
    :meth:`~TaskType.class_names` (or, multi-label, the labels at the positions ``label``
    lists): a ``classification`` row."""

    text: str
    label: int | tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Problem:
    """An authored problem (``prompt``), its reference ``solution`` and its ``rubric``
    (``{"criterion", "points"}`` dicts): a ``rubric_rl`` row."""

    prompt: Any
    solution: str
    rubric: tuple[Mapping[str, Any], ...]


Content = Preference | Verdict | Score | Demonstration | Classified | Problem


@dataclass(frozen=True, slots=True)
class TrainingExample:
    """One thing an item teaches, with the confidence and agreement of the consensus it
    comes from (both ``None`` for a selected free-text answer, which any confidence or
    agreement filter leaves out).

    ``chance`` is the confidence a guess would have for what the row asserts (``0.5`` for
    "chosen is better", ``1/k`` for one of ``k`` labels or points); without an explicit
    minimum confidence, the exporter drops a row whose confidence is not above it: its
    consensus is no better than a guess. ``None``: no such default filter (a posterior mean
    score, free text)."""

    content: Content
    confidence: float | None = None
    agreement: float | None = None
    chance: float | None = None


class Tie:
    """A comparison whose consensus is a tie: no row, counted as dropped."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "TIE"


TIE: Final = Tie()


def chance_of(*specs: ChannelSpec) -> float:
    """The mean, over channels, of the confidence a uniform guess has (``1/k`` of ``k``
    classes): what a row's confidence (the mean over the same channels) must beat."""
    return sum(1.0 / len(spec.classes) for spec in specs) / len(specs)


@dataclass(frozen=True)
class ColumnarComparison:
    """A task type's declaration that its ``preference`` and ``unpaired`` rows can be built
    a batch of items at a time, as columns: each item gives at most one row (or pair of
    rows), from one comparison channel (``criterion`` or ``channel``), between the payload's
    ``first`` (class ``"A"``) and ``second`` (class ``"B"``) fields, with the payload's
    ``prompt``. The exporter then builds the rows with numpy, without a per-item record."""

    channel: str
    prompt: str
    first: str
    second: str

    def channel_for(self, criterion: str | None) -> str:
        return criterion or self.channel


DemoStep = tuple[str, ...]
"""One touch of a task's form, as the screenshots replay it: ``("press", key)``,
``("fill", css selector, text)`` or ``("focus", css selector)``."""


@dataclass(frozen=True)
class ExampleProject:
    """A small, realistic project of one task type, for the UI's screenshots and browser
    tests: its config, items, guidelines, in ``extra`` what the tests need (an ``answer`` a
    worker might give to its first item), and in ``in_progress`` how an expert part-way
    through the first item has touched its form (its template's keys and fields), so the
    picture shows a task being done."""

    task_type: str
    name: str
    config: dict[str, Any]
    items: list[dict[str, Any]]
    guidelines: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    in_progress: tuple[DemoStep, ...] = ()


@dataclass(frozen=True)
class Certain:
    """An :class:`Estimate` with no doubt: the posterior is all on ``best``, and every
    answer gave it."""

    best: Any
    classes: tuple[Any, ...]

    @property
    def confidence(self) -> float:
        return 1.0

    @property
    def agreement(self) -> float:
        return 1.0

    def probability(self, cls: Any) -> float:
        return 1.0 if cls == self.best else 0.0

    def mean(self) -> float:
        return float(self.best)


class AnswerAsConsensus:
    """An item whose consensus is one (canonical) answer, held with certainty: what a task
    type teaches from an answer, without a fitted model. The documentation's row examples
    are made with it, and the task types' tests."""

    def __init__(
        self,
        task: TaskType,
        payload: Mapping[str, Any],
        answer: Mapping[str, Any],
        config: Mapping[str, Any],
    ) -> None:
        self.task = task
        self.payload = payload
        self.answers = [answer]
        self.config = config
        self._estimates: dict[str, Certain] = {}
        self._pairs: list[tuple[int, int, Certain]] = []
        channels = task.consensus_channels(config)
        for obs in task.observations(answer, config=config):
            spec = channels.get(obs.key)
            if spec is not None and not spec.per_pair and obs.value in spec.classes:
                self._estimates.setdefault(obs.key, Certain(obs.value, spec.classes))
            elif isinstance(obs.value, tuple) and any(s.per_pair for s in channels.values()):
                # A ranking: one comparison per pair of responses, as the builder expands it.
                tier_of = {i: t for t, tier in enumerate(obs.value) for i in tier}
                ordered = sorted(tier_of)
                for a, i in enumerate(ordered):
                    for j in ordered[a + 1 :]:
                        ti, tj = tier_of[i], tier_of[j]
                        best = "A" if ti < tj else "B" if tj < ti else "tie"
                        self._pairs.append((i, j, Certain(best, COMPARISON_LABELS)))
        # In the channels' order, as the exporter gives them.
        self._estimates = {k: self._estimates[k] for k in channels if k in self._estimates}

    def estimate(self, key: str) -> Certain | None:
        return self._estimates.get(key)

    def pairs(self) -> list[tuple[int, int, Certain]]:
        return list(self._pairs)

    def consensus(self) -> ItemConsensus | None:
        if not self.task.consensus_channels(self.config):
            return ItemConsensus(dict(self.answers[0]), None, None)
        value = self.task.consensus(self._estimates, self._pairs, self.config)
        return None if value is None else ItemConsensus(value, 1.0, 1.0)
