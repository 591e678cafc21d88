"""Red-teaming's SQL: the turns of a conversation held during an assignment, and a
project's attempts (answers with their item and review) for the campaign numbers."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, exists, insert, select, update
from sqlalchemy.exc import IntegrityError

from expertloop.store import tables as t

__all__ = [
    "Attempt",
    "CampaignRow",
    "LiveAssignment",
    "StoredTurn",
    "TurnTaken",
    "add_turn",
    "conversation",
    "drop_turn",
    "iter_attempts",
    "live_assignment",
    "load_campaign",
    "projects_with_answers",
    "retake_turn",
    "save_campaign",
]


class TurnTaken(Exception):
    """A turn is already stored at this place of the conversation."""


@dataclass(frozen=True, slots=True)
class StoredTurn:
    id: int
    idx: int
    role: str
    content: str
    call_id: int | None
    provider: str | None
    model: str | None
    created_at: datetime

    def message(self) -> dict[str, Any]:
        """The turn as it is attached to an answer (provenance where there is some)."""
        found: dict[str, Any] = {"role": self.role, "content": self.content}
        for key in ("call_id", "provider", "model"):
            value = getattr(self, key)
            if value is not None:
                found[key] = value
        return found


@dataclass(frozen=True, slots=True)
class LiveAssignment:
    """What taking a turn needs to know of an assignment."""

    assignment_id: int
    project_id: int
    item_id: int
    worker_id: int
    status: str
    expires_at: datetime
    task_type: str
    config: dict[str, Any]
    payload: dict[str, Any]


def live_assignment(conn: Connection, assignment_id: int) -> LiveAssignment | None:
    row = conn.execute(
        select(
            t.Assignment.id,
            t.Assignment.project_id,
            t.Assignment.item_id,
            t.Assignment.worker_id,
            t.Assignment.status,
            t.Assignment.expires_at,
            t.Project.task_type,
            t.Project.config,
            t.Item.payload,
        )
        .join(t.Project, t.Project.id == t.Assignment.project_id)
        .join(t.Item, t.Item.id == t.Assignment.item_id)
        .where(t.Assignment.id == assignment_id)
    ).one_or_none()
    return None if row is None else LiveAssignment(*row)


def conversation(conn: Connection, assignment_id: int) -> list[StoredTurn]:
    """The assignment's turns in order."""
    rows = conn.execute(
        select(
            t.RedteamTurn.id,
            t.RedteamTurn.idx,
            t.RedteamTurn.role,
            t.RedteamTurn.content,
            t.RedteamTurn.call_id,
            t.RedteamTurn.provider,
            t.RedteamTurn.model,
            t.RedteamTurn.created_at,
        )
        .where(t.RedteamTurn.assignment_id == assignment_id)
        .order_by(t.RedteamTurn.idx)
    )
    return [StoredTurn(*row) for row in rows]


def add_turn(
    conn: Connection,
    *,
    assignment_id: int,
    idx: int,
    role: str,
    content: str,
    now: datetime,
    call_id: int | None = None,
    provider: str | None = None,
    model: str | None = None,
) -> int:
    """Store a turn; raises :class:`TurnTaken` (the caller's transaction is then unusable
    on PostgreSQL: roll it back) when the place is taken."""
    try:
        return int(
            conn.execute(
                insert(t.RedteamTurn)
                .values(
                    assignment_id=assignment_id,
                    idx=idx,
                    role=role,
                    content=content,
                    call_id=call_id,
                    provider=provider,
                    model=model,
                    created_at=now,
                )
                .returning(t.RedteamTurn.id)
            ).scalar_one()
        )
    except IntegrityError:
        raise TurnTaken from None


def retake_turn(conn: Connection, *, turn_id: int, seen_at: datetime, now: datetime) -> bool:
    """Take over a stale turn awaiting its reply (its request died): whoever moves its time
    from ``seen_at`` first fetches the reply."""
    done = conn.execute(
        update(t.RedteamTurn)
        .where(t.RedteamTurn.id == turn_id, t.RedteamTurn.created_at == seen_at)
        .values(created_at=now)
    )
    return done.rowcount == 1


def drop_turn(conn: Connection, turn_id: int) -> None:
    """Forget an expert's turn whose reply could not be fetched, so it can be sent again."""
    conn.execute(delete(t.RedteamTurn).where(t.RedteamTurn.id == turn_id))


@dataclass(frozen=True, slots=True)
class Attempt:
    """One answer of a red-team project, with its item and its review (if any)."""

    answer_id: int
    item_id: int
    external_id: str | None
    worker_id: int
    value: dict[str, Any]
    payload: dict[str, Any]
    created_at: datetime
    review_outcome: str | None
    fixed_value: dict[str, Any] | None


def iter_attempts(conn: Connection, project_id: int) -> Iterator[Attempt]:
    """Every answer of the project in id order, streamed."""
    query = (
        select(
            t.Answer.id,
            t.Answer.item_id,
            t.Item.external_id,
            t.Answer.worker_id,
            t.Answer.value,
            t.Item.payload,
            t.Answer.created_at,
            t.Review.outcome,
            t.Review.fixed_value,
        )
        .join(t.Item, t.Item.id == t.Answer.item_id)
        .outerjoin(t.Review, t.Review.answer_id == t.Answer.id)
        .where(t.Answer.project_id == project_id)
        .order_by(t.Answer.id)
        .execution_options(yield_per=1000)
    )
    for row in conn.execute(query):
        yield Attempt(*row)


@dataclass(frozen=True, slots=True)
class CampaignRow:
    """A project's stored campaign numbers and what they have seen."""

    project_id: int
    computed_at: datetime
    last_answer_id: int
    decided_reviews: int
    config_hash: str
    attempts: int
    duration_ms: int
    numbers: dict[str, Any]


_CAMPAIGN_COLUMNS = tuple(getattr(t.RedteamCampaign, name) for name in CampaignRow.__slots__)


def load_campaign(conn: Connection, project_id: int) -> CampaignRow | None:
    row = conn.execute(
        select(*_CAMPAIGN_COLUMNS).where(t.RedteamCampaign.project_id == project_id)
    ).first()
    return None if row is None else CampaignRow(*row)


def save_campaign(conn: Connection, row: CampaignRow) -> None:
    """Store the project's campaign numbers in place of the previous ones (an upsert:
    running it twice has the effect of once)."""
    values = {name: getattr(row, name) for name in CampaignRow.__slots__}
    del values["project_id"]
    done = conn.execute(
        update(t.RedteamCampaign)
        .where(t.RedteamCampaign.project_id == row.project_id)
        .values(**values)
    )
    if done.rowcount == 1:
        return
    try:
        with conn.begin_nested():
            conn.execute(insert(t.RedteamCampaign).values(project_id=row.project_id, **values))
    except IntegrityError:
        # Another refresh inserted it meanwhile: ours is as recent, so overwrite.
        conn.execute(
            update(t.RedteamCampaign)
            .where(t.RedteamCampaign.project_id == row.project_id)
            .values(**values)
        )


def projects_with_answers(conn: Connection) -> list[tuple[int, str]]:
    """``(project id, task type)`` of every project that has answers, for the watcher."""
    rows = conn.execute(
        select(t.Project.id, t.Project.task_type)
        .where(exists().where(t.Answer.project_id == t.Project.id))
        .order_by(t.Project.id)
    )
    return [(int(pid), str(task_type)) for pid, task_type in rows]
