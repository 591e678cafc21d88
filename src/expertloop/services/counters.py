"""Project counters: each project's item and answer counts, kept off the hot path.

Counting a project's items reads all of them (half a second at a million items), so no page
does it for a large project. The counts live in ``project_counters`` and are recounted in one
pass by

- ``counters.refresh`` (a job per project, deduplicated), queued by the periodic
  ``counters.watch`` for the projects whose counts are behind;
- the consensus snapshot job, beside each refit.

A count records the project's *marks* (its newest answer and item, and its edit counter) as
they stood just before it. The counts are behind when a mark moved: an answer or an item
arrived, or an edit (disabling, deleting, gold, a reopened slot) bumped the edit counter in
its own transaction. Submitting an answer adds nothing: its newest id is the mark.

:func:`project_counts` serves pages: a project of at most :data:`INLINE_MAX_ITEMS` items is
recounted in the request when behind (so small projects are always exact), and a project
never counted is counted by the first page that shows it; a larger one is served as counted,
with when, until the watch's job recounts it. Pages write nothing else (a large project
under way is always a little behind: queueing from every page view would make each one a
write).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from expertloop.jobs import JobContext, job_kind
from expertloop.store import Database
from expertloop.store import counters as counter_store
from expertloop.store import jobs as job_store
from expertloop.store.counters import CountersRow, Counts, Marks
from expertloop.store.jobs import JobRow

__all__ = [
    "INLINE_MAX_ITEMS",
    "MAX_AGE_SECONDS",
    "REFRESH_KIND",
    "WATCH_KIND",
    "ProjectCounts",
    "project_counts",
    "queue_counters_refresh",
    "queue_stale_counters",
    "refresh_counters",
]

REFRESH_KIND = "counters.refresh"
WATCH_KIND = "counters.watch"
# Projects this small are recounted by the page that finds their counts behind.
INLINE_MAX_ITEMS = 20_000
# The watch recounts an active project at least this often, whatever its marks say (an edit
# that changes counts without bumping them is then shown within this time).
MAX_AGE_SECONDS = 600.0
# A project is recounted at most once per this many times its last count took.
_PACING = 10


@dataclass(frozen=True, slots=True)
class ProjectCounts:
    """A project's counts as a page shows them: ``behind`` when something changed since
    ``counted_at`` (a refresh job is then queued)."""

    project_id: int
    counts: Counts
    counted_at: datetime
    behind: bool


def _behind(row: CountersRow | None, marks: Marks) -> bool:
    return row is None or row.marks != marks or row.changes != marks.changes


def refresh_counters(db: Database, project_id: int) -> dict[str, Any]:
    """Recount the project's items in one pass and store the counts (idempotent)."""
    started = time.monotonic()
    with db.read() as conn:
        marks = counter_store.read_marks(conn, project_id)
        counts = counter_store.count_project(conn, project_id)
    duration_ms = int((time.monotonic() - started) * 1000)
    with db.write() as conn:
        counter_store.write_counters(
            conn, project_id, counts, marks, now=db.clock.now(), duration_ms=duration_ms
        )
    return {"project_id": project_id, "items": counts.items, "duration_ms": duration_ms}


def queue_counters_refresh(
    db: Database, project_id: int, *, run_after: datetime | None = None
) -> JobRow:
    """Queue a recount of the project (once: a queued or running one is reused)."""
    with db.write() as conn:
        job, _ = job_store.enqueue_job(
            conn, kind=REFRESH_KIND, params={}, now=db.clock.now(), project_id=project_id,
            dedupe_key=f"{REFRESH_KIND}:{project_id}", max_attempts=3, run_after=run_after,
        )
    return job


def project_counts(db: Database, project_ids: Iterable[int]) -> dict[int, ProjectCounts]:
    """The counts of these projects for a page (see the module docstring): one read of the
    counters and three index probes per project; small projects behind are recounted."""
    ids = sorted(set(project_ids))
    with db.read() as conn:
        rows = counter_store.load_counters(conn, ids)
        marks = {p: counter_store.read_marks(conn, p) for p in ids}
    out: dict[int, ProjectCounts] = {}
    for project_id in ids:
        row = rows.get(project_id)
        if _behind(row, marks[project_id]):
            if row is None or row.counts.items <= INLINE_MAX_ITEMS:
                refresh_counters(db, project_id)
                with db.read() as conn:
                    row = counter_store.load_counters(conn, [project_id]).get(project_id)
                assert row is not None
                out[project_id] = ProjectCounts(project_id, row.counts, row.counted_at, False)
                continue
            out[project_id] = ProjectCounts(project_id, row.counts, row.counted_at, True)
        else:
            assert row is not None
            out[project_id] = ProjectCounts(project_id, row.counts, row.counted_at, False)
    return out


def _paced(db: Database, row: CountersRow) -> datetime:
    pause = timedelta(milliseconds=row.duration_ms * _PACING)
    return max(row.counted_at + pause, db.clock.now())


def queue_stale_counters(db: Database) -> dict[str, Any]:
    """Queue a recount of each active project whose counts are behind, missing, or older
    than :data:`MAX_AGE_SECONDS` (paced like the consensus refits)."""
    now = db.clock.now()
    stale: list[tuple[int, CountersRow | None]] = []
    with db.read() as conn:
        ids = counter_store.active_project_ids(conn)
        rows = counter_store.load_counters(conn, ids)
        for project_id in ids:
            row = rows.get(project_id)
            old = row is not None and now - row.counted_at > timedelta(seconds=MAX_AGE_SECONDS)
            if old or _behind(row, counter_store.read_marks(conn, project_id)):
                stale.append((project_id, row))
    for project_id, row in stale:
        queue_counters_refresh(
            db, project_id, run_after=None if row is None else _paced(db, row)
        )
    return {"checked": len(ids), "queued": len(stale)}


@job_kind(REFRESH_KIND, max_attempts=3)
def run_refresh(context: JobContext) -> dict[str, Any]:
    """Recount one project (see :func:`refresh_counters`)."""
    assert context.job.project_id is not None
    return refresh_counters(context.database, context.job.project_id)


@job_kind(WATCH_KIND, max_attempts=1, every=lambda settings: settings.consensus_refresh_seconds)
def watch_counters(context: JobContext) -> dict[str, Any]:
    """The periodic watch: :func:`queue_stale_counters`."""
    return queue_stale_counters(context.database)
