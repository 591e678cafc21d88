"""Judge verdicts (model suggestions about items) and a project's model settings."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, select
from sqlalchemy.dialects import postgresql, sqlite

from expertloop.store import tables as t

__all__ = [
    "ItemToJudge",
    "LlmSettingsRow",
    "VerdictRow",
    "count_items",
    "get_settings",
    "items_after",
    "judge_names",
    "judge_task_types",
    "judged_item_ids",
    "save_settings",
    "save_verdict",
    "verdicts_after",
    "verdicts_for_items",
]


@dataclass(frozen=True, slots=True)
class ItemToJudge:
    id: int
    external_id: str | None
    payload: dict[str, Any]
    gold: dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class VerdictRow:
    id: int
    project_id: int
    item_id: int
    judge: str
    provider: str
    model: str
    value: dict[str, Any] | None
    unsure: bool
    details: dict[str, Any]
    call_ids: list[Any]
    created_at: datetime


@dataclass(frozen=True, slots=True)
class LlmSettingsRow:
    project_id: int
    show_verdicts: bool
    triage: dict[str, Any] | None
    updated_at: datetime
    updated_by: int | None


_VERDICT_COLUMNS = [getattr(t.LlmVerdict, name) for name in VerdictRow.__slots__]


def _insert(conn: Connection) -> Any:
    return (postgresql if conn.dialect.name == "postgresql" else sqlite).insert


def items_after(
    conn: Connection, project_id: int, after_id: int, limit: int,
    item_ids: Sequence[int] | None = None,
) -> list[ItemToJudge]:
    """The project's live items (not deleted) after ``after_id``, in id order."""
    query = select(t.Item.id, t.Item.external_id, t.Item.payload, t.Item.gold).where(
        t.Item.project_id == project_id, t.Item.id > after_id, t.Item.deleted_at.is_(None)
    )
    if item_ids is not None:
        query = query.where(t.Item.id.in_(list(item_ids)))
    rows = conn.execute(query.order_by(t.Item.id).limit(limit))
    return [ItemToJudge(r.id, r.external_id, r.payload, r.gold) for r in rows]


def count_items(conn: Connection, project_id: int, item_ids: Sequence[int] | None = None) -> int:
    query = select(func.count()).select_from(t.Item).where(
        t.Item.project_id == project_id, t.Item.deleted_at.is_(None)
    )
    if item_ids is not None:
        query = query.where(t.Item.id.in_(list(item_ids)))
    return int(conn.execute(query).scalar_one())


def judged_item_ids(
    conn: Connection, project_id: int, judge: str, item_ids: Sequence[int]
) -> set[int]:
    rows = conn.execute(
        select(t.LlmVerdict.item_id).where(
            t.LlmVerdict.project_id == project_id,
            t.LlmVerdict.judge == judge,
            t.LlmVerdict.item_id.in_(list(item_ids)),
        )
    )
    return {r[0] for r in rows}


def save_verdict(conn: Connection, **values: Any) -> None:
    """Insert the item's verdict by this judge, or replace the one it had."""
    stmt = _insert(conn)(t.LlmVerdict).values(**values)
    replaced = {
        key: values[key]
        for key in ("provider", "model", "value", "unsure", "details", "call_ids", "created_at")
    }
    conn.execute(stmt.on_conflict_do_update(index_elements=["item_id", "judge"], set_=replaced))


def verdicts_after(
    conn: Connection, project_id: int, *, judge: str | None = None, after_id: int = 0,
    limit: int = 1000,
) -> list[VerdictRow]:
    """The project's verdicts by item id (then judge), after item ``after_id``."""
    query = select(*_VERDICT_COLUMNS).where(
        t.LlmVerdict.project_id == project_id, t.LlmVerdict.item_id > after_id
    )
    if judge is not None:
        query = query.where(t.LlmVerdict.judge == judge)
    rows = conn.execute(query.order_by(t.LlmVerdict.item_id, t.LlmVerdict.judge).limit(limit))
    return [VerdictRow(**r._mapping) for r in rows]


def verdicts_for_items(conn: Connection, item_ids: Sequence[int]) -> list[VerdictRow]:
    rows = conn.execute(
        select(*_VERDICT_COLUMNS)
        .where(t.LlmVerdict.item_id.in_(list(item_ids)))
        .order_by(t.LlmVerdict.item_id, t.LlmVerdict.judge)
    )
    return [VerdictRow(**r._mapping) for r in rows]


def get_settings(conn: Connection, project_id: int) -> LlmSettingsRow | None:
    row = conn.execute(
        select(
            t.LlmProjectSettings.project_id, t.LlmProjectSettings.show_verdicts,
            t.LlmProjectSettings.triage, t.LlmProjectSettings.updated_at,
            t.LlmProjectSettings.updated_by,
        ).where(t.LlmProjectSettings.project_id == project_id)
    ).one_or_none()
    return LlmSettingsRow(**row._mapping) if row is not None else None


def save_settings(
    conn: Connection, project_id: int, *, show_verdicts: bool,
    triage: dict[str, Any] | None, by: int | None, now: datetime,
) -> None:
    values = {
        "show_verdicts": show_verdicts, "triage": triage, "updated_at": now, "updated_by": by,
    }
    stmt = _insert(conn)(t.LlmProjectSettings).values(project_id=project_id, **values)
    conn.execute(stmt.on_conflict_do_update(index_elements=["project_id"], set_=values))


def judge_names(conn: Connection, project_id: int, names: Sequence[str]) -> set[str]:
    """Those of ``names`` that have verdicts in the project (the index finds each)."""
    found: set[str] = set()
    for name in names:
        hit = conn.execute(
            select(t.LlmVerdict.id)
            .where(t.LlmVerdict.project_id == project_id, t.LlmVerdict.judge == name)
            .limit(1)
        ).first()
        if hit is not None:
            found.add(name)
    return found


def judge_task_types(conn: Connection, name: str, *, limit: int = 5) -> list[str]:
    """The task types of the projects where a judge of this name gave verdicts."""
    rows = conn.execute(
        select(t.Project.task_type)
        .where(
            select(t.LlmVerdict.id)
            .where(t.LlmVerdict.project_id == t.Project.id, t.LlmVerdict.judge == name)
            .exists()
        )
        .distinct()
        .order_by(t.Project.task_type)
        .limit(limit)
    )
    return [r[0] for r in rows]
