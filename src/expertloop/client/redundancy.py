"""Adaptive redundancy (``client.redundancy``): stop collecting answers on an item once its
consensus is confident, ask for more where the answers disagree (see docs/quality.md).
Results are the API's JSON objects as dicts."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from expertloop.client._http import Http

__all__ = ["Redundancy"]


def _id(value: Any) -> int:
    return value if isinstance(value, int) else int(value.id)


class Redundancy:
    """Example::

        client.redundancy.set(project, min_answers=3, max_answers=9, target_confidence=0.99)
        client.redundancy.set(project, min_answers=1, target_confidence=0.95, audit_share=0.1)
        client.redundancy.get(project)  # {"adaptive": True, "min_answers": 3, ...}
        client.redundancy.remove(project)  # back to answers_per_item on every item
    """

    def __init__(self, http: Http) -> None:
        self._http = http

    def get(self, project: Any) -> dict[str, Any]:
        """The project's settings; ``adaptive`` false: answers_per_item on every item."""
        return dict(self._http.json("GET", f"projects/{_id(project)}/redundancy"))

    def set(
        self,
        project: Any,
        *,
        min_answers: int = 3,
        max_answers: int = 40,
        target_confidence: float = 0.999,
        audit_share: float = 0.0,
    ) -> dict[str, Any]:
        """Turn adaptive redundancy on or change it (managers); existing items follow in
        the background. ``audit_share`` (0 to 1): the share of items that get one answer
        more than ``min_answers`` whatever their confidence, so workers and triage judges
        are measured where experts overlap (0.1 with ``min_answers=1`` and triage).
        :class:`~expertloop.client.InvalidInput` names a bad field."""
        body = {
            "min_answers": min_answers,
            "max_answers": max_answers,
            "target_confidence": target_confidence,
            "audit_share": audit_share,
        }
        return dict(self._http.json("PUT", f"projects/{_id(project)}/redundancy", json_body=body))

    def remove(self, project: Any) -> None:
        """Back to the project's answers_per_item on every item (managers)."""
        self._http.json("DELETE", f"projects/{_id(project)}/redundancy")
