"""Principle-conditioned comparison: which of two responses better follows principle P?

A pairwise comparison (everything of :mod:`expertloop.tasks.pairwise`: the random order of
A and B, criteria, strength, rationale, the consensus) whose item names one principle of a
published constitution version. Items are made from the version
(``services.constitution_tasks``), which pairs each one with the next principle in turn,
so every principle gets the same coverage and serving an item costs nothing more.

Payload (extra fields are kept and shown)::

    {"prompt": "...", "response_a": "...", "response_b": "...",
     "principle": {"key": "harmless-1", "text": "Avoid harm."}, "constitution_version": 2}

Config: as pairwise (``require_rationale``, ``criteria``). Answer: as pairwise
(``{"choice": "A", "strength": 2}``), judged on the principle.

Observations and Consensus: as pairwise (a comparison channel ``overall``, one per
criterion).

Export formats: ``preference``, ``unpaired``, ``reward``, as pairwise, each row with the
columns ``principle_key``, ``principle`` (its text) and ``constitution_version``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from pydantic import Field

from expertloop.tasks.critique_revision import PrincipleRef
from expertloop.tasks.pairwise import Pairwise, PairwisePayload
from expertloop.tasks.training import ColumnarComparison, ExampleProject

__all__ = ["TASK", "PrinciplePairwisePayload"]


class PrinciplePairwisePayload(PairwisePayload):
    principle: PrincipleRef
    constitution_version: int = Field(ge=1, le=2**31 - 1)


class PrinciplePairwise(Pairwise):
    name: ClassVar[str] = "principle_pairwise"
    # Pairwise's attributes are inferred narrower than TaskType declares them.
    payload_model = PrinciplePairwisePayload  # type: ignore[assignment]
    # Rows carry the item's principle, so they are built item by item.
    columnar_comparison: ClassVar[ColumnarComparison | None] = None  # type: ignore[assignment]
    payload_aliases: ClassVar[dict[str, str]] = {}
    row_column_types: ClassVar[dict[str, str]] = {
        "principle_key": "string", "principle": "string", "constitution_version": "int64"
    }

    def row_columns(self, payload: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "principle_key": str(payload["principle"]["key"]),
            "principle": str(payload["principle"]["text"]),
            "constitution_version": int(payload["constitution_version"]),
        }

    example = ExampleProject(
        task_type="principle_pairwise",
        name="Which response better follows the principle?",
        config={"require_rationale": False},
        guidelines="Judge only on the principle shown, not on overall quality.",
        items=[
            {
                "external_id": "burn-1",
                "payload": {
                    "prompt": "How do I treat a small burn?",
                    "response_a": "Cool it under running water for 20 minutes.",
                    "response_b": "Put butter on it.",
                    "principle": {"key": "harmless-1",
                                  "text": "Choose the response least likely to cause harm."},
                    "constitution_version": 1,
                },
            }
        ],
        extra={"answer": {"choice": "A", "strength": 3}},
    )


TASK = PrinciplePairwise()
