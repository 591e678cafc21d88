"""Ranking: order 2 to 9 responses to one prompt, best first, ties allowed if configured.

Payload (extra fields are kept and shown)::

    {"prompt": "Explain TCP slow start." | [{"role": "user", "content": "..."}, ...],
     "responses": ["first answer", {"id": "model-b", "text": "second answer"}, "third"]}

A response is a string or ``{"id": str, "text": str}``; ids, when given, are distinct. Ids
are never shown to the worker (they often name the model): the shown payload's
``responses`` is a list of strings.

Config (optional; ``{}`` is valid)::

    {"allow_ties": false}

Answer: ``ranking`` is a list of tiers, best first; each tier lists response indices
(0-based, as shown). Every response appears exactly once. Without ``allow_ties`` each tier
holds exactly one response::

    {"ranking": [[2], [0], [1]]}                 # 2 best, then 0, then 1
    {"ranking": [[2], [0, 1]], "rationale": "..."}  # 0 and 1 tied (needs allow_ties)

Presentation: each assignment shows the responses in a random order, recorded as
``{"order": [...]}``, a permutation of 0..8; an item with ``n`` responses shows canonical
response ``order`` filtered to indices below ``n``, in that order (which is a uniformly
random permutation of its ``n`` responses). Shown index ``j`` is canonical index
``shown_order[j]``; answers are stored with canonical indices and tiers sorted ascending.

Observations: ``ranking`` ``"overall"`` -> tuple of tiers (canonical indices), then
``text`` ``"rationale"`` when given.

Consensus: ``{"ranking": [[...], ...]}`` in canonical indices (may hold ties even when the
project does not allow them), the Copeland order of the per-pair consensus: every pair of
responses is one unit of a per-pair comparison channel. Export formats: ``preference``, one
row for every pair whose consensus is not a tie, the better response chosen, pairs in index
order; ``unpaired``, its two sides. (:func:`ranking_pairs` lists the pairs one ranking
orders, best-ranked first.)
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from typing import Annotated, Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, StrictInt, field_validator

from expertloop.tasks.base import (
    ChoiceMade,
    FieldError,
    Observation,
    Prompt,
    StrictModel,
    TaskType,
    TaskValidationError,
)
from expertloop.tasks.training import (
    COMPARISON_LABELS,
    TIE,
    ChannelSpec,
    Estimate,
    ExampleProject,
    ItemView,
    Preference,
    Tie,
    TrainingExample,
)

__all__ = [
    "MAX_RESPONSES",
    "TASK",
    "RankedResponse",
    "RankingAnswer",
    "RankingConfig",
    "RankingPayload",
    "ranking_pairs",
]

MAX_RESPONSES = 9


class RankedResponse(StrictModel):
    id: str = Field(min_length=1, max_length=255)
    text: str


class RankingPayload(BaseModel):
    model_config = ConfigDict(extra="allow")

    prompt: Prompt
    responses: list[str | RankedResponse] = Field(min_length=2, max_length=MAX_RESPONSES)

    @field_validator("responses")
    @classmethod
    def _distinct_ids(cls, responses: list[str | RankedResponse]) -> list[str | RankedResponse]:
        ids = [r.id for r in responses if isinstance(r, RankedResponse)]
        if len(set(ids)) != len(ids):
            raise ValueError("response ids must be distinct")
        return responses


class RankingConfig(StrictModel):
    allow_ties: bool = False


class RankingAnswer(StrictModel):
    ranking: list[list[Annotated[StrictInt, Field(ge=0)]]] = Field(
        min_length=1, max_length=MAX_RESPONSES
    )
    rationale: str | None = Field(None, max_length=20_000)


def _texts(payload: Mapping[str, Any]) -> list[str]:
    return [r if isinstance(r, str) else str(r["text"]) for r in payload["responses"]]


def shown_order(presentation: Mapping[str, Any] | None, n: int) -> list[int]:
    """Canonical indices in the order an assignment shows an item's ``n`` responses."""
    if not presentation:
        return list(range(n))
    return [i for i in presentation["order"] if i < n]


def ranking_pairs(ranking: Sequence[Sequence[int]]) -> list[tuple[int, int]]:
    """``(better, worse)`` for every pair of responses in different tiers.

    Ordered by the better one's tier, then the worse one's tier, then index within a tier:
    ``[[2], [0, 1]]`` gives ``[(2, 0), (2, 1)]``.
    """
    pairs = []
    for t, tier in enumerate(ranking):
        for better in tier:
            for lower in ranking[t + 1 :]:
                pairs += [(better, worse) for worse in lower]
    return pairs


class Ranking(TaskType):
    name: ClassVar[str] = "ranking"
    config_model = RankingConfig
    payload_model = RankingPayload
    answer_model = RankingAnswer

    def answer_errors(
        self,
        answer: dict[str, Any],
        config: Mapping[str, Any],
        *,
        payload: Mapping[str, Any] | None,
    ) -> list[FieldError]:
        tiers: list[list[int]] = answer["ranking"]
        errors = [
            FieldError(f"ranking.{t}", "a tier must hold at least one response index")
            for t, tier in enumerate(tiers)
            if not tier
        ]
        if not config.get("allow_ties"):
            errors += [
                FieldError(
                    f"ranking.{t}",
                    "ties are not allowed in this project: each tier holds exactly one response",
                )
                for t, tier in enumerate(tiers)
                if len(tier) > 1
            ]
        indices = [i for tier in tiers for i in tier]
        counts = Counter(indices)
        seen = set(counts)
        repeated = sorted(i for i, count in counts.items() if count > 1)
        if repeated:
            errors.append(
                FieldError("ranking", f"each response is ranked once; repeated: {repeated}")
            )
        n = len(payload["responses"]) if payload is not None else max(indices, default=-1) + 1
        beyond = sorted({i for i in indices if not 0 <= i < n})
        if beyond:
            errors.append(
                FieldError(
                    "ranking",
                    f"no such response: {beyond}; the item's {n} responses are numbered "
                    f"0 to {n - 1}",
                )
            )
        missing = sorted(set(range(n)) - seen)
        if missing:
            errors.append(
                FieldError("ranking", f"the ranking must place every response; missing: {missing}")
            )
        if not errors and n < 2:
            errors.append(FieldError("ranking", "rank at least 2 responses"))
        return errors

    def validate_answer(
        self,
        answer: Any,
        config: dict[str, Any],
        *,
        payload: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        value = super().validate_answer(answer, config, payload=payload)
        value["ranking"] = [sorted(tier) for tier in value["ranking"]]
        return value

    def new_presentation(self, rng: random.Random) -> dict[str, Any]:
        order = list(range(MAX_RESPONSES))
        rng.shuffle(order)
        return {"order": order}

    def present(
        self, payload: dict[str, Any], presentation: dict[str, Any] | None
    ) -> dict[str, Any]:
        texts = _texts(payload)
        return {**payload, "responses": [texts[i] for i in shown_order(presentation, len(texts))]}

    def _mapped(
        self, answer: dict[str, Any], presentation: dict[str, Any] | None, *, to_canonical: bool
    ) -> dict[str, Any]:
        if not presentation:
            return answer
        n = sum(len(tier) for tier in answer["ranking"])
        order = shown_order(presentation, n)
        if to_canonical:
            mapping = dict(enumerate(order))
        else:
            mapping = {canonical: shown for shown, canonical in enumerate(order)}
        try:
            tiers = [sorted(mapping[i] for i in tier) for tier in answer["ranking"]]
        except KeyError as exc:
            raise TaskValidationError(
                [FieldError("ranking", f"no such response: {exc.args[0]}")]
            ) from None
        return {**answer, "ranking": tiers}

    def to_canonical(
        self, answer: dict[str, Any], presentation: dict[str, Any] | None
    ) -> dict[str, Any]:
        return self._mapped(answer, presentation, to_canonical=True)

    def to_shown(
        self, answer: dict[str, Any], presentation: dict[str, Any] | None
    ) -> dict[str, Any]:
        return self._mapped(answer, presentation, to_canonical=False)

    has_positions = True

    def position_choices(
        self, answer: Mapping[str, Any], presentation: Mapping[str, Any] | None
    ) -> list[str]:
        """Every pair of shown positions: ``A`` where the response shown earlier is ranked
        above the later one."""
        shown = self.to_shown(dict(answer), dict(presentation) if presentation else None)
        tier_of = {int(i): n for n, tier in enumerate(shown["ranking"]) for i in tier}
        positions = sorted(tier_of)
        out = []
        for k, i in enumerate(positions):
            for j in positions[k + 1 :]:
                out.append("A" if tier_of[i] < tier_of[j] else "B" if tier_of[j] < tier_of[i]
                           else "tie")
        return out

    def choices_made(
        self,
        answer: Mapping[str, Any],
        presentation: Mapping[str, Any] | None,
        config: Mapping[str, Any],
    ) -> list[ChoiceMade]:
        # The place on screen of the response ranked best (alone in the first tier).
        tiers = answer.get("ranking") or []
        n = sum(len(tier) for tier in tiers)
        if n < 2 or len(tiers[0]) != 1:
            return []
        order = shown_order(presentation, n)
        return [ChoiceMade(f"position {order.index(tiers[0][0]) + 1}", n, by_position=True)]

    def observations(
        self, answer: Mapping[str, Any], *, config: Mapping[str, Any] | None = None
    ) -> list[Observation]:
        tiers = tuple(tuple(sorted(int(i) for i in tier)) for tier in answer["ranking"])
        found = [Observation("ranking", "overall", tiers)]
        if answer.get("rationale"):
            found.append(Observation("text", "rationale", str(answer["rationale"])))
        return found

    export_formats = ("preference", "unpaired", "reward", "raw")

    def consensus_channels(self, config: Mapping[str, Any]) -> dict[str, ChannelSpec]:
        return {"pairs": ChannelSpec("comparison", COMPARISON_LABELS, per_pair=True)}

    def consensus(
        self,
        estimates: Mapping[str, Estimate],
        pairs: Sequence[tuple[int, int, Estimate]],
        config: Mapping[str, Any],
    ) -> dict[str, Any] | None:
        if not pairs:
            return None
        score: dict[int, int] = {}
        for i, j, estimate in pairs:
            score.setdefault(i, 0)
            score.setdefault(j, 0)
            if estimate.best == "A":
                score[i] += 1
                score[j] -= 1
            elif estimate.best == "B":
                score[j] += 1
                score[i] -= 1
        # Copeland: order by pair wins minus pair losses; equal scores share a tier.
        levels = sorted(set(score.values()), reverse=True)
        return {"ranking": [sorted(r for r, s in score.items() if s == lv) for lv in levels]}

    def training_examples(
        self,
        format: str,
        item: ItemView,
        *,
        config: Mapping[str, Any],
        criterion: str | None = None,
    ) -> Iterator[TrainingExample | Tie]:
        texts = _texts(item.payload)
        for i, j, estimate in item.pairs():
            if estimate.best == "tie":
                yield TIE
                continue
            better, worse = (i, j) if estimate.best == "A" else (j, i)
            strength = abs(estimate.probability("A") - estimate.probability("B"))
            yield TrainingExample(
                Preference(item.payload["prompt"], texts[better], texts[worse], strength),
                estimate.confidence,
                estimate.agreement,
                chance=0.5,
            )

    example = ExampleProject(
        task_type="ranking",
        name="Rank explanations of TCP slow start",
        config={"allow_ties": False},
        guidelines="Rank from the explanation you would most like a junior engineer to "
        "read to the one you would least like them to read.",
        items=[
            {
                "external_id": "tcp-1",
                "payload": {
                    "prompt": "Explain TCP slow start in a short paragraph.",
                    "responses": [
                        "TCP slow start grows the congestion window **exponentially**: it "
                        "starts small (a few segments) and adds one segment per ACK, so "
                        "the window doubles every round trip until it reaches `ssthresh` "
                        "or sees loss.",
                        "Slow start means TCP sends slowly at first to be polite.",
                        "The sender begins with a small congestion window and increases "
                        "it for each acknowledged segment. After a loss it halves "
                        "`ssthresh` and restarts, which keeps new flows from flooding "
                        "the network.",
                    ],
                },
            }
        ],
        extra={"answer": {"ranking": [[0], [2], [1]]}},
        in_progress=(("press", "1"), ("press", "3")),
    )


TASK = Ranking()
