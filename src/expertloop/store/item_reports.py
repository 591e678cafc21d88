"""Item reports: workers' "Report a problem with this item", and managers resolving them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, select, update

from expertloop.domain import ItemReportReason, ItemReportResolution
from expertloop.store import tables as t
from expertloop.store.dialects import insert_ignoring_conflicts

__all__ = [
    "FlaggedItem",
    "ReportRow",
    "count_open_items",
    "flagged_items",
    "insert_report",
    "list_reports",
    "report_of",
    "resolve_reports",
]


@dataclass(frozen=True, slots=True)
class ReportRow:
    id: int
    project_id: int
    item_id: int
    external_id: str | None
    worker_id: int
    worker_username: str
    reason: str
    note: str
    created_at: datetime
    resolved_at: datetime | None
    resolved_by: int | None
    resolution: str | None


@dataclass(frozen=True, slots=True)
class FlaggedItem:
    """An item with open reports: how many, the latest, and the reports themselves."""

    item_id: int
    external_id: str | None
    disabled: bool
    count: int
    last_reported_at: datetime
    reports: list[ReportRow]


_COLUMNS = (
    t.ItemReport.id,
    t.ItemReport.project_id,
    t.ItemReport.item_id,
    t.Item.external_id,
    t.ItemReport.worker_id,
    t.User.username,
    t.ItemReport.reason,
    t.ItemReport.note,
    t.ItemReport.created_at,
    t.ItemReport.resolved_at,
    t.ItemReport.resolved_by,
    t.ItemReport.resolution,
)


def _select() -> Any:
    return (
        select(*_COLUMNS)
        .join(t.Item, t.Item.id == t.ItemReport.item_id)
        .join(t.User, t.User.id == t.ItemReport.worker_id)
    )


def insert_report(
    conn: Connection,
    *,
    project_id: int,
    item_id: int,
    worker_id: int,
    assignment_id: int,
    reason: ItemReportReason,
    note: str,
    now: datetime,
) -> bool:
    """Store the report; ``False`` when this worker had reported the item already (the
    first report stands)."""
    result = conn.execute(
        insert_ignoring_conflicts(conn, t.ItemReport, ["item_id", "worker_id"]).values(
            project_id=project_id,
            item_id=item_id,
            worker_id=worker_id,
            assignment_id=assignment_id,
            reason=reason.value,
            note=note,
            created_at=now,
        )
        .returning(t.ItemReport.id)
    )
    return result.first() is not None


def report_of(conn: Connection, *, item_id: int, worker_id: int) -> ReportRow | None:
    query = _select().where(
        t.ItemReport.item_id == item_id, t.ItemReport.worker_id == worker_id
    )
    row = conn.execute(query).first()
    return None if row is None else ReportRow(*row)


def list_reports(
    conn: Connection,
    project_id: int,
    *,
    open_only: bool,
    after_id: int = 0,
    limit: int = 100,
    item_id: int | None = None,
) -> list[ReportRow]:
    """A page of the project's reports, oldest first, after ``after_id``."""
    query = (
        _select()
        .where(t.ItemReport.project_id == project_id, t.ItemReport.id > after_id)
        .order_by(t.ItemReport.id)
        .limit(limit)
    )
    if open_only:
        query = query.where(t.ItemReport.resolved_at.is_(None))
    if item_id is not None:
        query = query.where(t.ItemReport.item_id == item_id)
    return [ReportRow(*row) for row in conn.execute(query)]


def count_open_items(conn: Connection, project_id: int) -> int:
    """How many items of the project have open reports."""
    return int(
        conn.execute(
            select(func.count(func.distinct(t.ItemReport.item_id))).where(
                t.ItemReport.project_id == project_id, t.ItemReport.resolved_at.is_(None)
            )
        ).scalar_one()
    )


def flagged_items(
    conn: Connection, project_id: int, *, limit: int, offset: int = 0
) -> list[FlaggedItem]:
    """Items with open reports, most reported first (then most recently reported), each
    with its open reports. Reads the open-reports index only."""
    open_reports = t.ItemReport.resolved_at.is_(None)
    last = func.max(t.ItemReport.created_at)
    count = func.count()
    groups = conn.execute(
        select(t.ItemReport.item_id, count.label("n"), last.label("last"))
        .where(t.ItemReport.project_id == project_id, open_reports)
        .group_by(t.ItemReport.item_id)
        .order_by(count.desc(), last.desc(), t.ItemReport.item_id)
        .limit(limit)
        .offset(offset)
    ).all()
    if not groups:
        return []
    ids = [g.item_id for g in groups]
    reports: dict[int, list[ReportRow]] = {i: [] for i in ids}
    query = (
        _select()
        .where(t.ItemReport.item_id.in_(ids), open_reports)
        .order_by(t.ItemReport.id)
    )
    for row in conn.execute(query):
        reports[row.item_id].append(ReportRow(*row))
    disabled = dict(
        conn.execute(
            select(t.Item.id, t.Item.disabled_at.is_not(None)).where(t.Item.id.in_(ids))
        ).all()
    )
    return [
        FlaggedItem(
            item_id=g.item_id,
            external_id=reports[g.item_id][0].external_id if reports[g.item_id] else None,
            disabled=bool(disabled.get(g.item_id)),
            count=int(g.n),
            last_reported_at=g.last,
            reports=reports[g.item_id],
        )
        for g in groups
    ]


def resolve_reports(
    conn: Connection,
    *,
    project_id: int,
    item_ids: Sequence[int],
    resolved_by: int,
    resolution: ItemReportResolution,
    now: datetime,
) -> int:
    """Close the open reports of the items; how many were closed."""
    if not item_ids:
        return 0
    result = conn.execute(
        update(t.ItemReport)
        .where(
            t.ItemReport.project_id == project_id,
            t.ItemReport.item_id.in_(list(item_ids)),
            t.ItemReport.resolved_at.is_(None),
        )
        .values(resolved_at=now, resolved_by=resolved_by, resolution=resolution.value)
    )
    return int(result.rowcount)
