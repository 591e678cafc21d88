"""Training rows from an item's payload and its fitted consensus, for every export format.

Formats (TRL's dataset formats; conversational by default, ``conversational=False`` for plain
strings):

- ``preference``: ``prompt``, ``chosen``, ``rejected``, ``margin``. Pairwise items give one
  row (the consensus of the overall choice, or of ``criterion``); ranking items one row per
  pair of responses whose pair consensus is not a tie (see :mod:`.consensus` for the
  expansion rule), the better one chosen; rewrites one row per answer, the rewrite chosen
  over the original. ``margin`` is ``P(chosen better) - P(rejected better)`` under the
  consensus model (in ``(0, 1]``; ``1.0`` for an expert's rewrite). Ties give no row and
  are counted.
- ``unpaired`` (KTO): ``prompt``, ``completion``, ``label`` (bool). From preference rows
  (chosen ``True``, rejected ``False``), rubric verdicts (``passed``), or ratings (the mean
  over criteria of the aggregated score, normalised to 0..1: above 0.5 ``True``, below
  ``False``, exactly 0.5 dropped as a tie).
- ``sft``: ``messages`` (conversational) or ``prompt`` + ``completion`` (standard), one row
  per answer of demonstration, rewrite and authoring items (problem -> solution).
- ``reward``: ``prompt``, ``completion``, ``criterion``, ``score``: a rating's aggregated
  score per criterion (posterior mean, on the criterion's scale), or a rubric's total
  (criterion ``"total"``, 0..1).
- ``raw``: every answer, with a worker pseudonym, timing and review outcome.

Every row ends with the provenance columns ``item_id``, ``external_id``, ``n_answers`` and
``confidence`` (the posterior probability of the consensus the row comes from; ``None`` for
free text, which has no model).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson
from numpy.typing import NDArray

from expertloop.exports.batch import Column, ColumnBatch, Messages
from expertloop.exports.consensus import FittedChannel, ItemLookup, ProjectConsensus
from expertloop.tasks.base import chat_messages
from expertloop.tasks.rubric import total_score

__all__ = [
    "FORMATS",
    "PROVENANCE",
    "ItemRecord",
    "RowCounts",
    "consensus_of",
    "formats_for",
    "pairwise_batch_rows",
    "prompt_text",
    "rows_for_item",
]

FORMATS = ("preference", "unpaired", "sft", "reward", "raw")
PROVENANCE = ("item_id", "external_id", "n_answers", "confidence")

_FORMATS_BY_TASK: dict[str, tuple[str, ...]] = {
    "pairwise": ("preference", "unpaired", "raw"),
    "ranking": ("preference", "unpaired", "raw"),
    "rating": ("unpaired", "reward", "raw"),
    "rubric": ("unpaired", "reward", "raw"),
    "label": ("raw",),
    "demonstration": ("sft", "raw"),
    "rewrite": ("preference", "unpaired", "sft", "raw"),
    "authoring": ("sft", "raw"),
}


def formats_for(task_type: str) -> tuple[str, ...]:
    """The export formats a task type can produce."""
    return _FORMATS_BY_TASK.get(task_type, ("raw",))


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
    items: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


def prompt_text(prompt: str | Sequence[Any]) -> str:
    """A prompt as one string: a lone user message is its content; a longer conversation is
    ``role: content`` blocks separated by blank lines."""
    if isinstance(prompt, str):
        return prompt
    messages = chat_messages(list(prompt))
    if len(messages) == 1 and messages[0]["role"] == "user":
        return messages[0]["content"]
    return "\n\n".join(f"{m['role']}: {m['content']}" for m in messages)


def _prompt(prompt: Any, conversational: bool) -> Any:
    return chat_messages(prompt) if conversational else prompt_text(prompt)


def _completion(text: str, conversational: bool) -> Any:
    return [{"role": "assistant", "content": text}] if conversational else text


def _response_texts(payload: Mapping[str, Any]) -> list[str]:
    return [r if isinstance(r, str) else str(r["text"]) for r in payload["responses"]]


# --- consensus, answer-shaped ---------------------------------------------------------------


def _channel_at(
    pc: ProjectConsensus, lookup: ItemLookup, key: str, row: int
) -> tuple[FittedChannel, int] | None:
    channel = pc.channels.get(key)
    if channel is None:
        return None
    index = lookup.index(key, row)
    return None if index < 0 else (channel, index)


def consensus_of(
    pc: ProjectConsensus, lookup: ItemLookup, item: ItemRecord
) -> tuple[dict[str, Any] | None, float | None, float | None]:
    """``(consensus, confidence, agreement)`` of an item, the consensus answer-shaped.

    Confidence is the posterior probability of the consensus (the mean over channels when
    an item has several: criteria, labels, pairs); agreement the share of answers giving
    the consensus, likewise averaged. Free text: the earliest answer, both ``None``.
    """
    name = pc.task.name
    if pc.free_text:
        return (dict(item.answers[0]) if item.answers else None), None, None
    confidences: list[float] = []
    agreements: list[float] = []

    def note(channel: FittedChannel, index: int) -> None:
        confidences.append(float(channel.confidence[index]))
        agreements.append(float(channel.agreement[index]))

    consensus: dict[str, Any] = {}
    if name == "ranking":
        pairs = lookup.pairs(item.item_id)
        if not pairs:
            return None, None, None
        channel = pc.channels["pairs"]
        score: dict[int, int] = {}
        for i, j, index in pairs:
            note(channel, index)
            best = int(channel.best[index])
            score.setdefault(i, 0)
            score.setdefault(j, 0)
            if best == 0:
                score[i] += 1
                score[j] -= 1
            elif best == 2:
                score[j] += 1
                score[i] -= 1
        # Copeland: order by pair wins minus pair losses; equal scores share a tier.
        levels = sorted(set(score.values()), reverse=True)
        consensus["ranking"] = [sorted(r for r, s in score.items() if s == lv) for lv in levels]
    else:
        found: dict[str, tuple[FittedChannel, int]] = {}
        for key in pc.specs:
            at = _channel_at(pc, lookup, key, item.row)
            if at is not None:
                found[key] = at
                note(*at)
        if not found:
            return None, None, None
        if name == "pairwise":
            if "overall" not in found:
                return None, None, None
            channel, index = found["overall"]
            consensus["choice"] = channel.spec.classes[int(channel.best[index])]
            criteria = {
                k: c.spec.classes[int(c.best[i])] for k, (c, i) in found.items() if k != "overall"
            }
            if criteria:
                consensus["criteria"] = criteria
        elif name == "rating":
            consensus["scores"] = {k: c.mean_value(i) for k, (c, i) in found.items()}
        elif name == "rubric":
            scores: dict[str, Any] = {}
            for k, (c, i) in found.items():
                if c.spec.classes == ("fail", "pass"):
                    scores[k] = float(c.posteriors[i, 1])  # the share of belief in "pass"
                else:
                    scores[k] = c.mean_value(i)
            consensus["scores"] = scores
        elif name == "label":
            if pc.config.get("multiple"):
                consensus["labels"] = [
                    k for k, (c, i) in found.items() if c.spec.classes[int(c.best[i])] == "yes"
                ]
            else:
                channel, index = found["label"]
                consensus["label"] = channel.spec.classes[int(channel.best[index])]
    return consensus, float(np.mean(confidences)), float(np.mean(agreements))


# --- rows -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class RowOptions:
    format: str
    conversational: bool = True
    min_confidence: float | None = None
    min_agreement: float | None = None
    criterion: str | None = None


def _provenance(item: ItemRecord, confidence: float | None) -> dict[str, Any]:
    return {
        "item_id": item.item_id,
        "external_id": item.external_id,
        "n_answers": item.n_answers,
        "confidence": confidence,
    }


def _keep(
    counts: RowCounts, options: RowOptions, confidence: float | None, agreement: float | None
) -> bool:
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
    return True


def _preference_candidates(
    pc: ProjectConsensus, lookup: ItemLookup, item: ItemRecord, options: RowOptions,
    counts: RowCounts,
) -> list[tuple[Any, str, str, float, float | None, float | None]]:
    """``(prompt, chosen, rejected, margin, confidence, agreement)`` before filters."""
    name = pc.task.name
    payload = item.payload
    out: list[tuple[Any, str, str, float, float | None, float | None]] = []
    if name == "pairwise":
        at = _channel_at(pc, lookup, options.criterion or "overall", item.row)
        if at is None:
            return out
        channel, index = at
        post = channel.posteriors[index]
        best = int(channel.best[index])
        if best == 1:
            counts.ties_dropped += 1
            return out
        a, b = str(payload["response_a"]), str(payload["response_b"])
        chosen, rejected = (a, b) if best == 0 else (b, a)
        margin = float(abs(post[0] - post[2]))
        out.append(
            (payload["prompt"], chosen, rejected, margin, float(post[best]),
             float(channel.agreement[index]))
        )
    elif name == "ranking":
        pairs = pc.channels.get("pairs")
        if pairs is None:
            return out
        channel = pairs
        texts = _response_texts(payload)
        for i, j, index in lookup.pairs(item.item_id):
            best = int(channel.best[index])
            if best == 1:
                counts.ties_dropped += 1
                continue
            post = channel.posteriors[index]
            better, worse = (i, j) if best == 0 else (j, i)
            out.append(
                (payload["prompt"], texts[better], texts[worse], float(abs(post[0] - post[2])),
                 float(post[best]), float(channel.agreement[index]))
            )
    elif name == "rewrite":
        for answer in item.answers:
            out.append(
                (payload["prompt"], str(answer["rewrite"]), str(payload["response"]), 1.0,
                 None, None)
            )
    return out


def rows_for_item(
    pc: ProjectConsensus,
    lookup: ItemLookup,
    item: ItemRecord,
    options: RowOptions,
    counts: RowCounts,
) -> list[dict[str, Any]]:
    """The rows of one item in ``options.format`` (never ``raw``: see the service)."""
    fmt, conv = options.format, options.conversational
    rows: list[dict[str, Any]] = []
    name = pc.task.name
    if fmt in ("preference", "unpaired") and name in ("pairwise", "ranking", "rewrite"):
        for prompt, chosen, rejected, margin, conf, agree in _preference_candidates(
            pc, lookup, item, options, counts
        ):
            if name != "rewrite" and not _keep(counts, options, conf, agree):
                continue
            if name == "rewrite" and (
                options.min_confidence is not None or options.min_agreement is not None
            ):
                counts.below_confidence += 1
                continue
            if fmt == "preference":
                rows.append(
                    {
                        "prompt": _prompt(prompt, conv),
                        "chosen": _completion(chosen, conv),
                        "rejected": _completion(rejected, conv),
                        "margin": margin,
                        **_provenance(item, conf),
                    }
                )
            else:
                for completion, label in ((chosen, True), (rejected, False)):
                    rows.append(
                        {
                            "prompt": _prompt(prompt, conv),
                            "completion": _completion(completion, conv),
                            "label": label,
                            **_provenance(item, conf),
                        }
                    )
        return rows
    if fmt == "sft":
        for answer in item.answers:
            if options.min_confidence is not None or options.min_agreement is not None:
                counts.below_confidence += 1
                continue
            if name == "authoring":
                question: Any = str(answer["problem"])
                reply = str(answer["solution"])
            else:
                question = item.payload["prompt"]
                reply = str(answer["response"] if name == "demonstration" else answer["rewrite"])
            if conv:
                reply_message = {"role": "assistant", "content": reply}
                row: dict[str, Any] = {"messages": [*chat_messages(question), reply_message]}
            else:
                row = {"prompt": prompt_text(question), "completion": reply}
            rows.append({**row, **_provenance(item, None)})
        return rows
    consensus, confidence, agreement = consensus_of(pc, lookup, item)
    if consensus is None:
        return rows
    prompt, completion = item.payload["prompt"], str(item.payload["response"])
    if fmt == "reward":
        if name == "rating":
            for key, score in consensus["scores"].items():
                at = _channel_at(pc, lookup, key, item.row)
                assert at is not None
                channel, index = at
                conf = float(channel.confidence[index])
                if not _keep(counts, options, conf, float(channel.agreement[index])):
                    continue
                rows.append(
                    {
                        "prompt": _prompt(prompt, conv),
                        "completion": _completion(completion, conv),
                        "criterion": key,
                        "score": float(score),
                        **_provenance(item, conf),
                    }
                )
        elif name == "rubric" and _complete_rubric(pc, consensus) and _keep(
            counts, options, confidence, agreement
        ):
            rows.append(
                {
                    "prompt": _prompt(prompt, conv),
                    "completion": _completion(completion, conv),
                    "criterion": "total",
                    "score": total_score(consensus, pc.config),
                    **_provenance(item, confidence),
                }
            )
        return rows
    if fmt == "unpaired":
        if name == "rubric":
            if not _complete_rubric(pc, consensus):
                return rows
            total = total_score(consensus, pc.config)
            label = total >= float(pc.config.get("pass_threshold", 0.5)) - 1e-9
        else:  # rating
            fractions = []
            for criterion in pc.config["criteria"]:
                if criterion["name"] in consensus["scores"]:
                    low, high = criterion.get("min", 1), criterion.get("max", 5)
                    value = consensus["scores"][criterion["name"]]
                    fractions.append((value - low) / (high - low))
            mean = float(np.mean(fractions))
            if abs(mean - 0.5) < 1e-9:
                counts.ties_dropped += 1
                return rows
            label = mean > 0.5
        if _keep(counts, options, confidence, agreement):
            rows.append(
                {
                    "prompt": _prompt(prompt, conv),
                    "completion": _completion(completion, conv),
                    "label": bool(label),
                    **_provenance(item, confidence),
                }
            )
    return rows


def pairwise_batch_rows(
    pc: ProjectConsensus,
    items: Sequence[Sequence[Any]],
    options: RowOptions,
    counts: RowCounts,
) -> ColumnBatch:
    """The ``preference`` or ``unpaired`` rows of a batch of pairwise items, given as
    ``(item_id, external_id, payload_json, n_answers)``: the same rows, in the same order,
    and the same counts as :func:`rows_for_item` item by item, with the consensus looked up
    and filtered with numpy for the whole batch, only the kept items' payloads decoded, and
    the rows built as columns (no dict per row)."""
    channel = pc.channels.get(options.criterion or "overall")
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
    index = np.flatnonzero(keep)
    prompts, chosen, rejected = _pairwise_texts(
        [payload_col[k] for k in index.tolist()], (best[index] == 0).tolist()
    )
    conv = options.conversational
    provenance: dict[str, NDArray[Any] | list[Any]] = {
        "item_id": item_ids[index],
        "external_id": [external_col[k] for k in index.tolist()],
        "n_answers": np.asarray(n_answers_col, dtype=np.int64)[index],
        "confidence": confidence[index],
    }
    if options.format == "preference":
        return ColumnBatch(
            {
                "prompt": _prompt_column(prompts, conv),
                "chosen": _completion_column(chosen, conv),
                "rejected": _completion_column(rejected, conv),
                "margin": np.abs(post[index, 0] - post[index, 2]),
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


def _pairwise_texts(
    payloads: Sequence[str], a_wins: Sequence[bool]
) -> tuple[list[Any], list[str], list[str]]:
    """Prompts, chosen and rejected responses from pairwise payloads (JSON text)."""
    decoded = list(map(orjson.loads, payloads))
    a = [str(p["response_a"]) for p in decoded]
    b = [str(p["response_b"]) for p in decoded]
    chosen = [x if first else y for x, y, first in zip(a, b, a_wins, strict=True)]
    rejected = [y if first else x for x, y, first in zip(a, b, a_wins, strict=True)]
    return [p["prompt"] for p in decoded], chosen, rejected


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


def _complete_rubric(pc: ProjectConsensus, consensus: Mapping[str, Any]) -> bool:
    return all(c["name"] in consensus["scores"] for c in pc.config["criteria"])
