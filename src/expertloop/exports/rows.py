"""Training rows from an item's payload and its fitted consensus, for every export format.

The task type says what an item teaches (:meth:`TaskType.training_examples`: preferences,
verdicts, scores, demonstrations, labelled texts, authored problems, each with the
confidence of its consensus); this module filters them and writes them in TRL's dataset
formats, conversational by default (``conversational=False`` for plain strings):

- ``preference`` (DPO): ``prompt``, ``chosen``, ``rejected``, ``preference_strength``
  (``P(chosen better) - P(rejected better)`` under the consensus model, in ``(0, 1]``; not
  named ``margin``, which TRL's RewardTrainer would take as a required reward gap).
- ``reward`` (RewardTrainer): the same columns, from a preference, or from two responses to
  the same prompt whose scores differ (:class:`ScorePairs`), with the rejected response's
  item in ``rejected_item_id`` and ``rejected_external_id``.
- ``unpaired`` (KTO): ``prompt``, ``completion``, ``label`` (bool): two rows per preference
  (chosen ``True``, rejected ``False``), one per verdict.
- ``sft``: ``messages`` (conversational) or ``prompt`` + ``completion`` (standard).
- ``scores``: ``prompt``, ``completion``, ``criterion``, ``score``, one row per score.
- ``classification``: ``text`` and ``label`` (or ``labels``), positions in the labels.
- ``rubric_rl``: ``prompt``, ``solution``, ``rubric``.
- ``raw``: every answer, with a worker pseudonym, timing and review outcome (written by
  :mod:`expertloop.services.exports` for every task type).

Ties give no row and are counted. Without an explicit ``min_confidence``, a row whose
confidence is not above its ``chance`` (a guess's) is dropped and counted
(``below_chance``). Every row ends with the provenance columns ``item_id``,
``external_id``, ``n_answers`` and ``confidence`` (the posterior probability of the
consensus the row comes from; ``None`` for free text, which has no model). Which task type
offers which format is in ``docs/task-types.md``, checked against the registry.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson
from numpy.typing import NDArray

from expertloop.domain.safe_json import loads_stored
from expertloop.exports.batch import Column, ColumnBatch, Messages
from expertloop.exports.consensus import (
    ChannelEstimate,
    FittedChannel,
    ItemLookup,
    ProjectConsensus,
)
from expertloop.tasks.base import chat_messages
from expertloop.tasks.training import (
    EXPORT_FORMATS,
    Classified,
    ColumnarComparison,
    Demonstration,
    ItemConsensus,
    Preference,
    Problem,
    Score,
    Tie,
    TrainingExample,
    Verdict,
)

__all__ = [
    "FORMATS",
    "PROVENANCE",
    "ItemRecord",
    "RowCounts",
    "RowOptions",
    "ScorePairs",
    "columnar_batch_rows",
    "consensus_of",
    "example_rows",
    "prompt_text",
    "rows_for_item",
]

FORMATS = EXPORT_FORMATS
PROVENANCE = ("item_id", "external_id", "n_answers", "confidence")


@dataclass
class ItemRecord:
    """One item in the second pass: its payload, its answers (when read) and its batch row."""

    item_id: int
    external_id: str | None
    payload: dict[str, Any]
    n_answers: int
    row: int
    answers: list[dict[str, Any]]
    payload_json: str = "{}"
    answer_rows: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class RowCounts:
    rows: int = 0
    ties_dropped: int = 0
    below_confidence: int = 0
    below_agreement: int = 0
    below_chance: int = 0
    items: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


ASSISTANT_CUE = "\n\nassistant: "
"""What ends the standard (plain string) form of a chat prompt, so that the completion
follows as the assistant's turn."""


def prompt_text(prompt: str | Sequence[Any]) -> str:
    """A prompt as one string: a string as it is; a conversation as ``role: content``
    blocks separated by blank lines, ending with the assistant's cue
    (:data:`ASSISTANT_CUE`), so a completion appended to it reads as the reply."""
    if isinstance(prompt, str):
        return prompt
    messages = chat_messages(list(prompt))
    return "\n\n".join(f"{m['role']}: {m['content']}" for m in messages) + ASSISTANT_CUE


def _prompt(prompt: Any, conversational: bool) -> Any:
    return chat_messages(prompt) if conversational else prompt_text(prompt)


def _completion(text: str, conversational: bool) -> Any:
    return [{"role": "assistant", "content": text}] if conversational else text


# --- consensus, answer-shaped ---------------------------------------------------------------


def _channel_at(
    pc: ProjectConsensus, lookup: ItemLookup, key: str, row: int
) -> tuple[FittedChannel, int] | None:
    channel = pc.channels.get(key)
    if channel is None:
        return None
    index = lookup.index(key, row)
    return None if index < 0 else (channel, index)


class _Item:
    """One item as a task type reads it (:class:`~expertloop.tasks.training.ItemView`)."""

    __slots__ = ("_consensus", "_consensus_known", "item", "lookup", "pc")

    def __init__(self, pc: ProjectConsensus, lookup: ItemLookup, item: ItemRecord) -> None:
        self.pc = pc
        self.lookup = lookup
        self.item = item
        self._consensus: ItemConsensus | None = None
        self._consensus_known = False

    @property
    def payload(self) -> Mapping[str, Any]:
        return self.item.payload

    @property
    def answers(self) -> Sequence[Mapping[str, Any]]:
        return self.item.answers

    def estimate(self, key: str) -> ChannelEstimate | None:
        at = _channel_at(self.pc, self.lookup, key, self.item.row)
        return None if at is None else at[0].at(at[1])

    def pairs(self) -> list[tuple[int, int, ChannelEstimate]]:
        channel = self.lookup.pairs_channel
        if channel is None:
            return []
        return [(i, j, channel.at(index)) for i, j, index in self.lookup.pairs(self.item.item_id)]

    def consensus(self) -> ItemConsensus | None:
        if not self._consensus_known:
            value, confidence, agreement = consensus_of(self.pc, self.lookup, self.item)
            self._consensus = (
                None if value is None else ItemConsensus(value, confidence, agreement)
            )
            self._consensus_known = True
        return self._consensus


def consensus_of(
    pc: ProjectConsensus, lookup: ItemLookup, item: ItemRecord
) -> tuple[dict[str, Any] | None, float | None, float | None]:
    """``(consensus, confidence, agreement)`` of an item, the consensus answer-shaped
    (:meth:`TaskType.consensus`).

    Confidence is the posterior probability of the consensus (the mean over channels when
    an item has several: criteria, labels, pairs); agreement the share of answers giving
    the consensus, likewise averaged. Free text: the earliest answer, both ``None``.
    """
    if pc.free_text:
        return (dict(item.answers[0]) if item.answers else None), None, None
    view = _Item(pc, lookup, item)
    estimates: dict[str, ChannelEstimate] = {}
    for key in pc.specs:
        estimate = view.estimate(key)
        if estimate is not None:
            estimates[key] = estimate
    pairs = view.pairs()
    if not estimates and not pairs:
        return None, None, None
    consensus = pc.task.consensus(estimates, pairs, pc.config)
    if consensus is None:
        return None, None, None
    found = [*estimates.values(), *(estimate for _, _, estimate in pairs)]
    confidence = float(np.mean([e.confidence for e in found]))
    agreement = float(np.mean([e.agreement for e in found]))
    return consensus, confidence, agreement


# --- rows -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class RowOptions:
    format: str
    conversational: bool = True
    min_confidence: float | None = None
    min_agreement: float | None = None
    criterion: str | None = None


def _provenance(item: ItemRecord, confidence: float | None, fmt: str) -> dict[str, Any]:
    if fmt == "reward":  # a pair of one item: the rejected response is the same item's
        return {
            "item_id": item.item_id,
            "external_id": item.external_id,
            "rejected_item_id": item.item_id,
            "rejected_external_id": item.external_id,
            "n_answers": item.n_answers,
            "confidence": confidence,
        }
    return {
        "item_id": item.item_id,
        "external_id": item.external_id,
        "n_answers": item.n_answers,
        "confidence": confidence,
    }


def _keep(counts: RowCounts, options: RowOptions, example: TrainingExample) -> bool:
    """Whether an example passes the confidence and agreement filters (counting it where
    not). A selected free-text answer has no model, so any filter leaves it out."""
    confidence, agreement = example.confidence, example.agreement
    if confidence is None and agreement is None:
        if options.min_confidence is not None or options.min_agreement is not None:
            counts.below_confidence += 1
            return False
        return True
    if options.min_confidence is not None and (
        confidence is None or confidence < options.min_confidence
    ):
        counts.below_confidence += 1
        return False
    if options.min_agreement is not None and (
        agreement is None or agreement < options.min_agreement
    ):
        counts.below_agreement += 1
        return False
    if (
        options.min_confidence is None
        and example.chance is not None
        and confidence is not None
        and confidence <= example.chance + CHANCE_TOLERANCE
    ):
        counts.below_chance += 1
        return False
    return True


CHANCE_TOLERANCE = 1e-9
"""A confidence this close to chance is no better than chance."""


def rows_for_item(
    pc: ProjectConsensus,
    lookup: ItemLookup,
    item: ItemRecord,
    options: RowOptions,
    counts: RowCounts,
    pairs: ScorePairs | None = None,
) -> list[dict[str, Any]]:
    """The rows of one item in ``options.format`` (never ``raw``: see the service): the
    task type's training examples (:meth:`TaskType.training_examples`), ties counted,
    filtered, then written in the format. A score in ``reward`` goes to ``pairs``, to be
    paired with the other responses to its prompt once every item is read."""
    rows: list[dict[str, Any]] = []
    examples = pc.task.training_examples(
        options.format, _Item(pc, lookup, item), config=pc.config, criterion=options.criterion
    )
    for example in examples:
        if isinstance(example, Tie):
            counts.ties_dropped += 1
        elif _keep(counts, options, example):
            if options.format == "reward" and isinstance(example.content, Score):
                if pairs is None:
                    raise ValueError("reward scores need a ScorePairs to be paired in")
                pairs.add(example, item)
                continue
            provenance = {
                **pc.task.row_columns(item.payload),
                **_provenance(item, example.confidence, options.format),
            }
            rows.extend(example_rows(options.format, example, options.conversational, provenance))
    return rows


@dataclass(frozen=True, slots=True)
class _Scored:
    score: float
    completion: str
    item_id: int
    external_id: str | None
    n_answers: int
    confidence: float | None


PAIR_NEIGHBOURS = 16
"""In ``reward``, a response is paired with at most this many responses ranked just below
it (every pair, up to 17 responses to one prompt)."""


class ScorePairs:
    """The scored responses of an export (``reward``), grouped by prompt; :meth:`rows` pairs
    the responses to each prompt once every item has been read.

    Holds every kept response's text until then: memory grows with the project (rating and
    rubric projects), unlike the other formats' batch at a time."""

    def __init__(self) -> None:
        self._prompts: dict[bytes, Any] = {}
        self._groups: dict[bytes, list[_Scored]] = {}

    def add(self, example: TrainingExample, item: ItemRecord) -> None:
        content = example.content
        assert isinstance(content, Score)
        key = orjson.dumps(content.prompt, option=orjson.OPT_SORT_KEYS)
        self._prompts.setdefault(key, content.prompt)
        self._groups.setdefault(key, []).append(
            _Scored(
                content.score,
                content.completion,
                item.item_id,
                item.external_id,
                item.n_answers,
                example.confidence,
            )
        )

    def rows(self, conversational: bool, counts: RowCounts) -> list[dict[str, Any]]:
        """One row per pair of responses to a prompt whose scores differ, the higher chosen,
        ``preference_strength`` the difference (scores on 0..1), ``confidence`` the lower of
        the two responses'; pairs of equal scores (or texts) are counted as ties."""
        rows: list[dict[str, Any]] = []
        for key, group in self._groups.items():
            prompt = _prompt(self._prompts[key], conversational)
            ranked = sorted(group, key=lambda s: (-s.score, s.item_id))
            for n, better in enumerate(ranked):
                for worse in ranked[n + 1 : n + 1 + PAIR_NEIGHBOURS]:
                    gap = better.score - worse.score
                    if gap <= CHANCE_TOLERANCE or better.completion == worse.completion:
                        counts.ties_dropped += 1
                        continue
                    known = [c for c in (better.confidence, worse.confidence) if c is not None]
                    rows.append(
                        {
                            "prompt": prompt,
                            "chosen": _completion(better.completion, conversational),
                            "rejected": _completion(worse.completion, conversational),
                            "preference_strength": min(1.0, gap),
                            "item_id": better.item_id,
                            "external_id": better.external_id,
                            "rejected_item_id": worse.item_id,
                            "rejected_external_id": worse.external_id,
                            "n_answers": min(better.n_answers, worse.n_answers),
                            "confidence": min(known) if known else None,
                        }
                    )
        self._groups.clear()
        self._prompts.clear()
        return rows


def example_rows(
    fmt: str,
    example: TrainingExample,
    conv: bool = True,
    provenance: Mapping[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """A training example as rows of ``fmt``, ending with the ``provenance`` columns: a
    preference is one ``preference`` or ``reward`` row or two ``unpaired`` rows (chosen
    ``True``, then rejected ``False``); ``conv`` chooses TRL's conversational form."""
    content, provenance = example.content, provenance or {}
    if isinstance(content, Preference):
        prompt = _prompt(content.prompt, conv)
        if fmt in ("preference", "reward"):
            return [
                {
                    "prompt": prompt,
                    "chosen": _completion(content.chosen, conv),
                    "rejected": _completion(content.rejected, conv),
                    "preference_strength": content.strength,
                    **provenance,
                }
            ]
        if fmt == "unpaired":
            return [
                {
                    "prompt": _prompt(content.prompt, conv),
                    "completion": _completion(completion, conv),
                    "label": label,
                    **provenance,
                }
                for completion, label in ((content.chosen, True), (content.rejected, False))
            ]
    elif isinstance(content, Verdict) and fmt == "unpaired":
        return [
            {
                "prompt": _prompt(content.prompt, conv),
                "completion": _completion(content.completion, conv),
                "label": bool(content.label),
                **provenance,
            }
        ]
    elif isinstance(content, Score) and fmt == "scores":
        return [
            {
                "prompt": _prompt(content.prompt, conv),
                "completion": _completion(content.completion, conv),
                "criterion": content.criterion,
                "score": content.score,
                **provenance,
            }
        ]
    elif isinstance(content, Demonstration) and fmt == "sft":
        if conv:
            reply = {"role": "assistant", "content": content.reply}
            return [{"messages": [*chat_messages(content.prompt), reply], **provenance}]
        return [
            {"prompt": prompt_text(content.prompt), "completion": content.reply, **provenance}
        ]
    elif isinstance(content, Classified) and fmt == "classification":
        if isinstance(content.label, tuple):
            return [{"text": content.text, "labels": list(content.label), **provenance}]
        return [{"text": content.text, "label": content.label, **provenance}]
    elif isinstance(content, Problem) and fmt == "rubric_rl":
        return [
            {
                "prompt": _prompt(content.prompt, conv),
                "solution": content.solution,
                "rubric": [dict(r) for r in content.rubric],
                **provenance,
            }
        ]
    raise TypeError(f"a {type(content).__name__} makes no {fmt} row")


def columnar_batch_rows(
    pc: ProjectConsensus,
    items: Sequence[Sequence[Any]],
    options: RowOptions,
    counts: RowCounts,
) -> ColumnBatch:
    """The ``preference`` or ``unpaired`` rows of a batch of items of a task type that
    declares a :attr:`~expertloop.tasks.TaskType.columnar_comparison`, given as
    ``(item_id, external_id, payload_json, n_answers)``: the same rows, in the same order,
    and the same counts as :func:`rows_for_item` item by item, with the consensus looked up
    and filtered with numpy for the whole batch, only the kept items' payloads decoded, and
    the rows built as columns (no dict per row)."""
    columnar = pc.task.columnar_comparison
    if columnar is None:
        raise ValueError(f"{pc.task.name} items have no columnar preference rows")
    channel = pc.channels.get(columnar.channel_for(options.criterion))
    if channel is None or not items:
        return ColumnBatch({})
    item_col, external_col, payload_col, n_answers_col = zip(*items, strict=True)
    n = len(item_col)
    item_ids = np.asarray(item_col, dtype=np.int64)
    pos = channel.positions(item_ids)
    found = pos >= 0
    at = np.where(found, pos, 0)
    best = channel.best[at]
    post = channel.posteriors[at]
    confidence = post[np.arange(n), best]
    agreement = channel.agreement[at]
    tie = found & (best == 1)
    counts.ties_dropped += int(tie.sum())
    keep = found & ~tie
    if options.min_confidence is not None:
        low = keep & (confidence < options.min_confidence)
        counts.below_confidence += int(low.sum())
        keep &= ~low
    if options.min_agreement is not None:
        low = keep & (agreement < options.min_agreement)
        counts.below_agreement += int(low.sum())
        keep &= ~low
    if options.min_confidence is None:
        # "Chosen is better" against "it is not": a consensus must beat a coin.
        low = keep & (confidence <= 0.5 + CHANCE_TOLERANCE)
        counts.below_chance += int(low.sum())
        keep &= ~low
    index = np.flatnonzero(keep)
    prompts, chosen, rejected = _comparison_texts(
        [payload_col[k] for k in index.tolist()], (best[index] == 0).tolist(), columnar
    )
    conv = options.conversational
    provenance: dict[str, NDArray[Any] | list[Any]] = {
        "item_id": item_ids[index],
        "external_id": [external_col[k] for k in index.tolist()],
        "n_answers": np.asarray(n_answers_col, dtype=np.int64)[index],
        "confidence": confidence[index],
    }
    if options.format in ("preference", "reward"):
        if options.format == "reward":
            provenance = {
                "item_id": provenance["item_id"],
                "external_id": provenance["external_id"],
                "rejected_item_id": provenance["item_id"],
                "rejected_external_id": provenance["external_id"],
                "n_answers": provenance["n_answers"],
                "confidence": provenance["confidence"],
            }
        return ColumnBatch(
            {
                "prompt": _prompt_column(prompts, conv),
                "chosen": _completion_column(chosen, conv),
                "rejected": _completion_column(rejected, conv),
                "preference_strength": np.abs(post[index, 0] - post[index, 2]),
                **provenance,
            }
        )
    # unpaired: each item gives its chosen row (True), then its rejected row (False).
    completions = [text for pair in zip(chosen, rejected, strict=True) for text in pair]
    return ColumnBatch(
        {
            "prompt": _prompt_column([p for p in prompts for _ in (0, 1)], conv),
            "completion": _completion_column(completions, conv),
            "label": np.tile(np.array([True, False]), len(index)),
            **{name: _twice(column) for name, column in provenance.items()},
        }
    )


def _comparison_texts(
    payloads: Sequence[str], a_wins: Sequence[bool], fields: ColumnarComparison
) -> tuple[list[Any], list[str], list[str]]:
    """Prompts, chosen and rejected responses from payloads (JSON text) whose ``fields``
    the task type names."""
    decoded = list(map(loads_stored, payloads))
    a = [str(p[fields.first]) for p in decoded]
    b = [str(p[fields.second]) for p in decoded]
    chosen = [x if first else y for x, y, first in zip(a, b, a_wins, strict=True)]
    rejected = [y if first else x for x, y, first in zip(a, b, a_wins, strict=True)]
    return [p[fields.prompt] for p in decoded], chosen, rejected


def _prompt_column(prompts: Sequence[Any], conversational: bool) -> Column:
    """A column of prompts, as :func:`_prompt` gives each."""
    if conversational:
        return Messages.of_prompts(prompts)
    return [prompt_text(p) for p in prompts]


def _completion_column(texts: Sequence[str], conversational: bool) -> Column:
    """A column of completions, as :func:`_completion` gives each."""
    return Messages.single("assistant", texts) if conversational else list(texts)


def _twice(column: NDArray[Any] | list[Any]) -> NDArray[Any] | list[Any]:
    """Every row of a plain column repeated once, in place."""
    if isinstance(column, np.ndarray):
        return np.repeat(column, 2)
    return [value for value in column for _ in (0, 1)]
