"""Your own work (``client.my_work``): your answers with their reviews, and your numbers.

A worker sees only their own answers and numbers here, as on the web UI's My work page.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from expertloop.client.models import parse_time

if TYPE_CHECKING:
    from expertloop.client._http import Http

__all__ = ["REPORT_REASONS", "MyAnswer", "MyStats", "MyWork"]

#: Why an item can be reported (``Assignment.report``).
REPORT_REASONS = ("broken", "ambiguous", "harmful", "outside_expertise")


def _time(value: str | None) -> datetime | None:
    return None if value is None else parse_time(value)


@dataclass(frozen=True, slots=True)
class MyAnswer:
    """One of your answers, in the terms you were shown, with its review.

    ``review`` is ``None`` (not reviewed), ``"pending"``, ``"accepted"``, ``"rejected"``
    or ``"fixed"``; ``review_comment`` is the reviewer's reason or note; for a fix,
    ``fixed_answer`` is the corrected answer and ``changes`` lists ``(field, before,
    after)`` for each field the reviewer changed.
    """

    answer_id: int
    item_id: int
    external_id: str | None
    summary: str
    answer: dict[str, Any]
    duration_ms: int
    created_at: datetime
    review: str | None
    review_comment: str
    fixed_answer: dict[str, Any] | None
    changes: list[tuple[str, Any, Any]]
    reviewed_at: datetime | None

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> MyAnswer:
        return cls(
            answer_id=body["answer_id"],
            item_id=body["item_id"],
            external_id=body.get("external_id"),
            summary=body["summary"],
            answer=body["answer"],
            duration_ms=body["duration_ms"],
            created_at=parse_time(body["created_at"]),
            review=body.get("review"),
            review_comment=body.get("review_comment", ""),
            fixed_answer=body.get("fixed_answer"),
            changes=[(c["field"], c["before"], c["after"]) for c in body.get("changes", [])],
            reviewed_at=_time(body.get("reviewed_at")),
        )


@dataclass(frozen=True, slots=True)
class MyStats:
    """Your numbers in one project.

    ``reviews`` counts your reviewed answers by outcome (and ``pending``). ``agreement`` is
    ``{compared, agreed, share, computed_at}`` against the project's consensus snapshot, or
    ``None`` before one is computed; ``gold`` is ``{answers, correct, accuracy, lower,
    upper}`` (a Beta posterior mean with its 95% interval), or ``None`` without gold
    answers. Both count your latest ``window`` answers.
    """

    project_id: int
    answers: int
    reviews: dict[str, int]
    agreement: dict[str, Any] | None
    gold: dict[str, float] | None
    window: int

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> MyStats:
        return cls(
            project_id=body["project_id"],
            answers=body["answers"],
            reviews=dict(body["reviews"]),
            agreement=body.get("agreement"),
            gold=body.get("gold"),
            window=body["window"],
        )


class MyWork:
    """``client.my_work``: your answers and numbers, project by project.

    Example::

        for answer in client.my_work.answers(project_id):
            if answer.review == "rejected":
                print(answer.item_id, answer.review_comment)
        print(client.my_work.stats(project_id).gold)
    """

    def __init__(self, http: Http) -> None:
        self._http = http

    def answers(self, project: int | Any, *, page_size: int = 100) -> Iterator[MyAnswer]:
        """Your answers in the project, newest first, fetched a page at a time."""
        project_id = project if isinstance(project, int) else project.id
        before: int | None = None
        while True:
            params: dict[str, Any] = {"project_id": project_id, "limit": page_size}
            if before is not None:
                params["before"] = before
            page = self._http.json("GET", "me/answers", params=params)
            for body in page:
                yield MyAnswer.from_json(body)
            if len(page) < page_size:
                return
            before = page[-1]["answer_id"]

    def stats(self, project: int | Any) -> MyStats:
        """Your numbers in the project."""
        project_id = project if isinstance(project, int) else project.id
        return MyStats.from_json(
            self._http.json("GET", "me/stats", params={"project_id": project_id})
        )
