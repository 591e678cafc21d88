"""Storing the labels an import brings along (another tool's annotations, predictions and
metadata), and reading them back for an export to that tool.

Imported answers belong to imported annotator accounts: inactive workers named
``<source>:<original id>`` that cannot sign in, so the answers keep who gave them without
ever being mistaken for a live worker's. Each answer gets a finished assignment (answers
point at one), its original time and duration, and the idempotency key
``<source>:<original annotation id>``. The items' counters are set in the same transaction
so the claim's invariant (answers + open slots <= target) holds: an item imported with more
answers than the project asks for has its target raised to its answers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, case, insert, select, update

from expertloop.domain import AssignmentStatus, Role
from expertloop.store import tables as t

__all__ = [
    "ImportedAnswer",
    "ImportedSuggestion",
    "LabelledItem",
    "ensure_annotators",
    "insert_answers",
    "insert_suggestions",
    "item_ids_by_external_id",
    "labelled_items_after",
]

# An imported annotator's password hash: no argon2 hash looks like this, so no password
# verifies against it (and the account is inactive besides).
UNUSABLE_PASSWORD = "!imported-annotator"


@dataclass(frozen=True, slots=True)
class ImportedAnswer:
    item_id: int
    worker_id: int
    value: dict[str, Any]
    created_at: datetime
    duration_ms: int
    key: str | None


@dataclass(frozen=True, slots=True)
class ImportedSuggestion:
    item_id: int
    source: str
    agent: str
    value: dict[str, Any]
    score: float | None


def item_ids_by_external_id(
    conn: Connection, project_id: int, external_ids: Sequence[str]
) -> dict[str, int]:
    ids: dict[str, int] = {}
    for start in range(0, len(external_ids), 5000):
        chunk = list(external_ids[start : start + 5000])
        rows = conn.execute(
            select(t.Item.external_id, t.Item.id).where(
                t.Item.project_id == project_id, t.Item.external_id.in_(chunk)
            )
        )
        ids.update({r.external_id: r.id for r in rows})
    return ids


def ensure_annotators(
    conn: Connection, usernames: Sequence[str], *, now: datetime
) -> dict[str, int]:
    """The ids of imported annotator accounts by username, creating the missing ones
    (inactive workers that cannot sign in)."""
    wanted = sorted(set(usernames))
    existing = {
        r.username: r.id
        for r in conn.execute(select(t.User.username, t.User.id).where(t.User.username.in_(wanted)))
    }
    missing = [name for name in wanted if name not in existing]
    if missing:
        conn.execute(
            insert(t.User),
            [
                {
                    "username": name,
                    "password_hash": UNUSABLE_PASSWORD,
                    "role": Role.WORKER.value,
                    "is_active": False,
                    "created_at": now,
                }
                for name in missing
            ],
        )
        existing.update(
            {
                r.username: r.id
                for r in conn.execute(
                    select(t.User.username, t.User.id).where(t.User.username.in_(missing))
                )
            }
        )
    return existing


def insert_answers(conn: Connection, project_id: int, answers: Sequence[ImportedAnswer]) -> None:
    """Store imported answers, each with a finished assignment, and set the items' counters."""
    per_item: dict[int, int] = {}
    for answer in answers:
        assignment_id = conn.execute(
            insert(t.Assignment)
            .values(
                project_id=project_id,
                item_id=answer.item_id,
                worker_id=answer.worker_id,
                status=AssignmentStatus.ANSWERED.value,
                presentation=None,
                leased_at=answer.created_at,
                expires_at=answer.created_at,
                finished_at=answer.created_at,
            )
            .returning(t.Assignment.id)
        ).scalar_one()
        conn.execute(
            insert(t.Answer).values(
                project_id=project_id,
                item_id=answer.item_id,
                worker_id=answer.worker_id,
                assignment_id=assignment_id,
                value=answer.value,
                idempotency_key=answer.key,
                duration_ms=answer.duration_ms,
                created_at=answer.created_at,
            )
        )
        per_item[answer.item_id] = per_item.get(answer.item_id, 0) + 1
    if per_item:
        # Fresh items: no answers and no leases yet. SET reads the old target throughout.
        n: Any = bindparam("n")
        conn.execute(
            update(t.Item)
            .where(t.Item.id == bindparam("item"))
            .values(
                n_answers=n,
                target=_greatest(t.Item.target, n),
                open_slots=_greatest(t.Item.target, n) - n,
            ),
            [{"item": item, "n": count} for item, count in per_item.items()],
        )


def _greatest(column: Any, value: Any) -> Any:
    return case((column < value, value), else_=column)


def insert_suggestions(
    conn: Connection, project_id: int, suggestions: Sequence[ImportedSuggestion], *, now: datetime
) -> None:
    if suggestions:
        conn.execute(
            insert(t.Suggestion),
            [
                {
                    "project_id": project_id,
                    "item_id": s.item_id,
                    "source": s.source,
                    "agent": s.agent,
                    "value": s.value,
                    "score": s.score,
                    "created_at": now,
                }
                for s in suggestions
            ],
        )


@dataclass(frozen=True, slots=True)
class LabelledItem:
    """An item with everything an export to another tool carries."""

    id: int
    external_id: str | None
    payload: dict[str, Any]
    gold: dict[str, Any] | None
    meta: dict[str, Any] | None
    answers: list[Mapping[str, Any]]
    suggestions: list[Mapping[str, Any]]


def labelled_items_after(
    conn: Connection, project_id: int, *, after: int, limit: int = 1000
) -> list[LabelledItem]:
    """Up to ``limit`` of the project's items (not deleted) with ids above ``after``, in id
    order, with their answers (annotator's username, value, time, duration) and
    suggestions."""
    items = conn.execute(
        select(t.Item.id, t.Item.external_id, t.Item.payload, t.Item.gold, t.Item.meta)
        .where(t.Item.project_id == project_id, t.Item.id > after, t.Item.deleted_at.is_(None))
        .order_by(t.Item.id)
        .limit(limit)
    ).all()
    if not items:
        return []
    ids = [r.id for r in items]
    answers: dict[int, list[Mapping[str, Any]]] = {}
    for r in conn.execute(
        select(
            t.Answer.item_id,
            t.Answer.id,
            t.Answer.value,
            t.Answer.created_at,
            t.Answer.duration_ms,
            t.User.username,
        )
        .join(t.User, t.User.id == t.Answer.worker_id)
        .where(t.Answer.item_id.in_(ids))
        .order_by(t.Answer.id)
    ):
        answers.setdefault(r.item_id, []).append(dict(r._mapping))
    suggestions: dict[int, list[Mapping[str, Any]]] = {}
    for r in conn.execute(
        select(t.Suggestion.item_id, t.Suggestion.agent, t.Suggestion.value, t.Suggestion.score)
        .where(t.Suggestion.item_id.in_(ids))
        .order_by(t.Suggestion.id)
    ):
        suggestions.setdefault(r.item_id, []).append(dict(r._mapping))
    return [
        LabelledItem(
            id=r.id,
            external_id=r.external_id,
            payload=r.payload,
            gold=r.gold,
            meta=r.meta,
            answers=answers.get(r.id, []),
            suggestions=suggestions.get(r.id, []),
        )
        for r in items
    ]
