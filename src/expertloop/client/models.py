"""Plain value objects the SDK returns: users, progress counts, stored answers."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

__all__ = ["Progress", "SubmittedAnswer", "User", "WorkerItem", "parse_time"]


def parse_time(value: str) -> datetime:
    """An API time (UTC ISO 8601 with a trailing ``Z``) as an aware ``datetime``."""
    return datetime.fromisoformat(value)


@dataclass(frozen=True, slots=True)
class User:
    """An account, as ``GET /api/v1/me`` and ``/users`` return it.

    Example::

        me = client.me()
        me.username, me.role   # ('alice', 'worker')
    """

    id: int
    username: str
    role: str
    is_active: bool

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> User:
        return cls(
            id=body["id"],
            username=body["username"],
            role=body["role"],
            is_active=body["is_active"],
        )


@dataclass(frozen=True, slots=True)
class Progress:
    """Counts of a project: items, answers, complete items and live leases.

    Example::

        p = project.progress()
        print(f"{p.items_complete}/{p.items} items complete")
        p.complete   # True once every item has all its answers
    """

    items: int
    answers: int
    items_complete: int
    active_leases: int

    @property
    def complete(self) -> bool:
        """Whether the project has items and every one reached its answer target."""
        return self.items > 0 and self.items_complete == self.items

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> Progress:
        return cls(
            items=body["items"],
            answers=body["answers"],
            items_complete=body["items_complete"],
            active_leases=body["active_leases"],
        )


@dataclass(frozen=True, slots=True)
class WorkerItem:
    """An item as shown to a worker: its id and payload (never its gold)."""

    id: int
    payload: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SubmittedAnswer:
    """The server's receipt for an answer.

    ``replayed`` is true when the server had already stored this answer under the same
    idempotency key (a retried submission), i.e. nothing new was stored.
    """

    answer_id: int
    assignment_id: int
    item_id: int
    answer: dict[str, Any]
    created_at: datetime
    replayed: bool = False

    @classmethod
    def from_json(cls, body: dict[str, Any], *, replayed: bool) -> SubmittedAnswer:
        return cls(
            answer_id=body["answer_id"],
            assignment_id=body["assignment_id"],
            item_id=body["item_id"],
            answer=body["answer"],
            created_at=parse_time(body["created_at"]),
            replayed=replayed,
        )
