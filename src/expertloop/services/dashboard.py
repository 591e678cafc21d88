"""The project overview a manager watches: progress over time, agreement, distributions,
position bias and a per-worker table, all read from small tables the snapshot job keeps
(``consensus_snapshots.stats``, ``consensus_workers``, ``answer_hours``).

A page costs a handful of index look-ups whatever the project's size. A small project (at
most ``inline_max_items`` answered items) whose snapshot is missing or behind is refreshed
in the request, so it is always current; a large one is shown as its last snapshot left it,
with how many answers arrived since (the ``consensus.watch`` job refreshes it).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from expertloop.domain import Project, User
from expertloop.services.consensus import refresh_snapshot
from expertloop.services.console_items import managed_project
from expertloop.services.exports import worker_pseudonym
from expertloop.store import Database
from expertloop.store import consensus as snapshot_store
from expertloop.store import dashboard as dashboard_store
from expertloop.store.consensus import SnapshotRow
from expertloop.store.dashboard import WorkerRow
from expertloop.tasks import get_task_type

__all__ = [
    "BEHIND_CAP",
    "HISTORY_HOURS",
    "RATE_HOURS",
    "DashboardData",
    "dashboard",
    "fresh_snapshot",
]

HISTORY_HOURS = 7 * 24  # hours of progress shown
RATE_HOURS = 24  # the ETA's rate: answers per hour over the last day (or since the start)
BEHIND_CAP = 100_000  # answers since the snapshot are counted up to this many ("100000+")


@dataclass(frozen=True)
class WorkerLine:
    row: WorkerRow
    username: str
    pseudonym: str


@dataclass(frozen=True)
class DashboardData:
    project: Project
    snapshot: SnapshotRow | None
    stats: dict[str, Any] | None
    answers_behind: int
    workers: list[WorkerLine]
    hours: list[tuple[datetime, int, int | None]]
    rate_per_hour: float | None
    remaining_answers: int | None
    eta_hours: float | None
    has_positions: bool


def fresh_snapshot(
    db: Database, project_id: int, *, inline_max_items: int
) -> tuple[SnapshotRow | None, int]:
    """The project's snapshot (without gold) and the answers stored since it; refitted in
    the request first when it is missing or behind and the project is small."""
    with db.read() as conn:
        snapshot = snapshot_store.load_snapshot(conn, project_id, False)
        seen = snapshot_store.fingerprint(conn, project_id)
        if snapshot is not None and snapshot.fingerprint == seen:
            return snapshot, 0
        if seen.last_answer_id == 0:
            return snapshot, 0
        small = (
            snapshot.n_items <= inline_max_items
            if snapshot is not None
            else dashboard_store.answers_since(conn, project_id, 0, cap=inline_max_items + 1)
            <= inline_max_items
        )
        behind = 0 if small else dashboard_store.answers_since(
            conn, project_id, snapshot.last_answer_id if snapshot else 0, cap=BEHIND_CAP
        )
    if not small:
        return snapshot, behind
    refresh_snapshot(db, project_id, include_gold=False)
    with db.read() as conn:
        return snapshot_store.load_snapshot(conn, project_id, False), 0


def dashboard(
    db: Database, *, actor: User, project_id: int, secret_key: str, inline_max_items: int
) -> DashboardData:
    with db.read() as conn:
        project = managed_project(conn, actor=actor, project_id=project_id)
    snapshot, behind = fresh_snapshot(db, project_id, inline_max_items=inline_max_items)
    now = db.clock.now()
    since = now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=HISTORY_HOURS - 1)
    with db.read() as conn:
        stats = snapshot_store.snapshot_stats(conn, project_id, False) if snapshot else None
        workers = (
            dashboard_store.worker_rows(conn, project_id, False, snapshot.generation)
            if snapshot
            else []
        )
        hours = dashboard_store.answer_hours(conn, project_id, since=since)
        mark = dashboard_store.rollup_mark(conn, project_id)
        unrolled = (
            dashboard_store.answers_since(conn, project_id, mark, cap=BEHIND_CAP) if mark else 0
        )
    rate = _rate(hours, now, unrolled)
    remaining = None
    eta = None
    if stats is not None:
        remaining = max(0, int(stats["items"]["remaining_answers"]) - behind)
        if rate:
            eta = remaining / rate
    return DashboardData(
        project=project,
        snapshot=snapshot,
        stats=stats,
        answers_behind=behind,
        workers=[
            WorkerLine(row, name, worker_pseudonym(secret_key, project_id, row.worker_id))
            for row, name in workers
        ],
        hours=hours,
        rate_per_hour=rate,
        remaining_answers=remaining,
        eta_hours=eta,
        has_positions=get_task_type(project.task_type).has_positions,
    )


def _rate(
    hours: list[tuple[datetime, int, int | None]], now: datetime, unrolled: int
) -> float | None:
    """Answers per hour over the last :data:`RATE_HOURS` (or since the first answer, if
    later), counting answers not yet rolled up as the current hour's."""
    start = now - timedelta(hours=RATE_HOURS)
    recent = [(h, n) for h, n, _ in hours if h + timedelta(hours=1) > start and n]
    total = sum(n for _, n in recent) + unrolled
    if not total:
        return None
    first = min((h for h, _ in recent), default=now.replace(minute=0, second=0, microsecond=0))
    span = (now - max(first, start)).total_seconds() / 3600
    return total / max(span, 1.0)
