"""Generated responses become items, per task type: pairs of responses (pairwise), one
ranking of all responses (ranking), one item per response (rating, rubric, rewrite), or a
model draft for the expert to edit (demonstration).

Every item's ``external_id`` is a deterministic function of the prompt's id and the samples
it holds (``<provider>#<sample index>``), so generating again after a crash inserts
nothing twice. Which model wrote what goes in the item's ``meta`` (for managers and
exports), never in the payload the expert sees.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations, pairwise
from typing import Any

from expertloop.tasks.base import TaskType

__all__ = [
    "PAIRINGS",
    "GeneratedItem",
    "ItemMaker",
    "Sample",
    "edit_size",
    "item_maker_for",
]

PAIRINGS: tuple[str, ...] = ("all", "adjacent", "random")
_MAX_EXTERNAL_ID = 255


@dataclass(frozen=True, slots=True)
class Sample:
    """One generated response: by ``provider`` (model ``model``), sample ``index``."""

    provider: str
    model: str
    index: int
    text: str
    call_id: int | None

    @property
    def key(self) -> str:
        return f"{self.provider}#{self.index}"

    def provenance(self) -> dict[str, Any]:
        return {"provider": self.provider, "model": self.model, "sample": self.index,
                "call_id": self.call_id}


@dataclass(frozen=True, slots=True)
class GeneratedItem:
    external_id: str
    payload: dict[str, Any]
    meta: dict[str, Any]


def _external_id(prompt_id: str, keys: Sequence[str]) -> str:
    wanted = f"gen:{prompt_id}:{'|'.join(keys)}"
    if len(wanted) <= _MAX_EXTERNAL_ID:
        return wanted
    digest = hashlib.sha256(wanted.encode()).hexdigest()[:32]
    return f"gen:{prompt_id[:150]}:{digest}"


def _base(prompt: Any, extra: dict[str, Any]) -> dict[str, Any]:
    return {**extra, "prompt": prompt}


class ItemMaker:
    """How one task type makes items of a prompt's samples."""

    #: Responses one item holds at most (``None``: no limit); generation refuses more.
    max_samples: int | None = None

    def items(
        self, prompt_id: str, prompt: Any, extra: dict[str, Any], samples: Sequence[Sample], *,
        pairing: str = "all", pairs: int = 1, seed: int = 0,
    ) -> list[GeneratedItem]:
        raise NotImplementedError


class PairMaker(ItemMaker):
    def items(
        self, prompt_id: str, prompt: Any, extra: dict[str, Any], samples: Sequence[Sample], *,
        pairing: str = "all", pairs: int = 1, seed: int = 0,
    ) -> list[GeneratedItem]:
        ordered = sorted(samples, key=lambda s: (s.provider, s.index))
        indices = list(range(len(ordered)))
        if pairing == "all":
            chosen = list(combinations(indices, 2))
        elif pairing == "adjacent":
            chosen = list(pairwise(indices))
        else:  # random: k distinct pairs, the same for the same prompt and seed
            every = list(combinations(indices, 2))
            digest = hashlib.sha256(f"{seed}:{prompt_id}".encode()).digest()
            rng = random.Random(int.from_bytes(digest[:8], "big"))
            chosen = sorted(rng.sample(every, min(pairs, len(every))))
        out = []
        for i, j in chosen:
            a, b = ordered[i], ordered[j]
            out.append(GeneratedItem(
                _external_id(prompt_id, [a.key, b.key]),
                {**_base(prompt, extra), "response_a": a.text, "response_b": b.text},
                {"generated": {"prompt_id": prompt_id, "response_a": a.provenance(),
                               "response_b": b.provenance()}},
            ))
        return out


class RankingMaker(ItemMaker):
    max_samples = 9

    def items(
        self, prompt_id: str, prompt: Any, extra: dict[str, Any], samples: Sequence[Sample], *,
        pairing: str = "all", pairs: int = 1, seed: int = 0,
    ) -> list[GeneratedItem]:
        ordered = sorted(samples, key=lambda s: (s.provider, s.index))
        return [GeneratedItem(
            _external_id(prompt_id, [s.key for s in ordered]),
            {**_base(prompt, extra),
             "responses": [{"id": s.key, "text": s.text} for s in ordered]},
            {"generated": {"prompt_id": prompt_id,
                           "responses": [s.provenance() for s in ordered]}},
        )]


class SingleMaker(ItemMaker):
    """One item per response (rating, rubric, rewrite)."""

    def items(
        self, prompt_id: str, prompt: Any, extra: dict[str, Any], samples: Sequence[Sample], *,
        pairing: str = "all", pairs: int = 1, seed: int = 0,
    ) -> list[GeneratedItem]:
        return [
            GeneratedItem(
                _external_id(prompt_id, [s.key]),
                {**_base(prompt, extra), "response": s.text},
                {"generated": {"prompt_id": prompt_id, "response": s.provenance()}},
            )
            for s in sorted(samples, key=lambda s: (s.provider, s.index))
        ]


class DraftMaker(ItemMaker):
    """Demonstration: the prompt with a model's draft (``draft``) that the expert edits into
    the ideal reply; one item per draft."""

    def items(
        self, prompt_id: str, prompt: Any, extra: dict[str, Any], samples: Sequence[Sample], *,
        pairing: str = "all", pairs: int = 1, seed: int = 0,
    ) -> list[GeneratedItem]:
        return [
            GeneratedItem(
                _external_id(prompt_id, [s.key]),
                {**_base(prompt, extra), "draft": s.text},
                {"generated": {"prompt_id": prompt_id, "draft": s.provenance()}},
            )
            for s in sorted(samples, key=lambda s: (s.provider, s.index))
        ]


def edit_size(draft: str, final: str) -> dict[str, float | int]:
    """How much an expert changed a model draft: characters inserted plus deleted (a
    line-then-character diff, as ``difflib`` finds it) and that as a share of the longer
    text (0: kept as is; 1: rewritten whole)."""
    import difflib

    matcher = difflib.SequenceMatcher(None, draft, final, autojunk=False)
    kept = sum(block.size for block in matcher.get_matching_blocks())
    changed = (len(draft) - kept) + (len(final) - kept)
    longest = max(len(draft), len(final), 1)
    return {"chars_changed": changed, "share_changed": round(min(1.0, changed / longest), 4)}


_MAKERS: dict[str, ItemMaker] = {
    "pairwise": PairMaker(),
    "ranking": RankingMaker(),
    "rating": SingleMaker(),
    "rubric": SingleMaker(),
    "rewrite": SingleMaker(),
    "demonstration": DraftMaker(),
}


def item_maker_for(task: TaskType) -> ItemMaker | None:
    """How ``task``'s type makes items of generated responses, or ``None``."""
    return _MAKERS.get(task.name)
