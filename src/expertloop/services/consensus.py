"""Consensus snapshots: each project's consensus, refitted by jobs as answers arrive.

Pages and endpoints read the snapshot; they never refit a large project per request.

- ``consensus.refresh`` (a job per project, deduplicated) fits the consensus as an export
  does (:func:`expertloop.services.export_passes.first_pass`, the same lines as
  :func:`expertloop.services.exports.iter_consensus`) and stores it as a new generation of
  the snapshot. It first compares the project's :class:`~expertloop.store.consensus.
  Fingerprint` (newest answer id, decided reviews) with the snapshot's, and skips the refit
  when nothing arrived since: that is the incremental part. The models themselves (Dawid-
  Skene, GLAD, Bradley-Terry...) are refitted whole when something did arrive: each new
  answer can move every worker's estimated reliability and so every item's posterior.
- ``consensus.watch`` (periodic, every ``consensus_refresh_seconds``) queues a refresh for
  each project whose fingerprint moved past its snapshot. The annotator loop does nothing
  for it: no statement, no lock on the per-answer path. A project is not refitted more
  often than ten times its last refit took, so refits of a large project take at most a
  tenth of a worker while annotation goes on.
- :func:`read_consensus` serves the snapshot to the project's managers, with when it was
  computed and how many answers it is behind. A small project (at most
  ``export_job_threshold_items`` answered items) whose snapshot is missing or stale is
  refreshed in the request, so it is always current; a large one is served as it stands
  while a refresh job runs (``202`` with the job when there is no snapshot yet).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from expertloop.domain import User
from expertloop.domain.policies import can_read_gold
from expertloop.errors import NotFound, PermissionDenied
from expertloop.jobs import JobContext, job_kind
from expertloop.services.counters import refresh_counters
from expertloop.services.export_passes import first_pass
from expertloop.services.exports import PreparedConsensus
from expertloop.services.projects import load_project
from expertloop.services.snapshot_stats import snapshot_stats
from expertloop.store import Database
from expertloop.store import consensus as snapshot_store
from expertloop.store import dashboard as dashboard_store
from expertloop.store import exports as export_store
from expertloop.store import jobs as job_store
from expertloop.store import projects as project_store
from expertloop.store.consensus import SnapshotRow
from expertloop.store.jobs import JobRow

__all__ = [
    "REFRESH_KIND",
    "WATCH_KIND",
    "ConsensusView",
    "queue_refresh",
    "queue_stale_refreshes",
    "read_consensus",
    "refresh_snapshot",
]

log = logging.getLogger("expertloop.consensus")

REFRESH_KIND = "consensus.refresh"
WATCH_KIND = "consensus.watch"
# A project is refitted at most once per this many times its last refit took.
_PACING = 10


def _dedupe_key(project_id: int, include_gold: bool) -> str:
    return f"{REFRESH_KIND}:{project_id}:{'gold' if include_gold else 'default'}"


def queue_refresh(
    db: Database, project_id: int, *, include_gold: bool, run_after: datetime | None = None
) -> JobRow:
    """Queue a refresh of the project's snapshot (once: a queued or running one is reused)."""
    params = {"include_gold": include_gold}
    with db.write() as conn:
        job, _ = job_store.enqueue_job(
            conn, kind=REFRESH_KIND, params=params, now=db.clock.now(), project_id=project_id,
            dedupe_key=_dedupe_key(project_id, include_gold), max_attempts=3,
            run_after=run_after,
        )
    return job


def refresh_snapshot(
    db: Database,
    project_id: int,
    *,
    include_gold: bool,
    on_answers: Any = None,
    on_items: Any = None,
) -> dict[str, Any]:
    """Refit and store the project's consensus unless no answer or review decision arrived
    since the snapshot. Idempotent: an interrupted refresh leaves the old snapshot in place
    and its half-written generation is replaced by the next run."""
    started = time.monotonic()
    with db.read() as conn:
        seen = snapshot_store.fingerprint(conn, project_id)
        current = snapshot_store.load_snapshot(conn, project_id, include_gold)
        # Any user id that is no member: the project as the system sees it.
        project = project_store.project_for_user(conn, project_id, -1)
        if project is None:
            raise NotFound(f"project {project_id} not found")
        reviews = export_store.review_scope(conn, project_id, reviewed_only=False)
    if current is not None and current.fingerprint == seen:
        return {"skipped": True, "generation": current.generation}
    consensus, _ = first_pass(
        db, project, include_gold=include_gold, reviews=reviews, on_answers=on_answers
    )
    # The dashboard's numbers, while the fit still holds the answers' codes.
    stats, worker_rows, counts = snapshot_stats(db, project, consensus)
    prepared = PreparedConsensus(project, consensus, include_gold, db, reviews)
    with db.write() as conn:
        generation = snapshot_store.next_generation(
            conn, project_id, include_gold, now_us=time.time_ns() // 1000
        )
        dashboard_store.write_worker_rows(conn, project_id, include_gold, generation, worker_rows)
    n_items = 0
    batch: list[dict[str, Any]] = []
    for line in prepared.lines(with_agreement=True):
        batch.append(line)
        if len(batch) == snapshot_store.WRITE_BATCH:
            n_items += _write(db, project_id, include_gold, generation, batch, on_items)
            batch = []
    n_items += _write(db, project_id, include_gold, generation, batch, on_items)
    duration_ms = int((time.monotonic() - started) * 1000)
    with db.write() as conn:
        switched, previous = snapshot_store.switch_snapshot(
            conn, project_id=project_id, include_gold=include_gold, generation=generation,
            computed_at=db.clock.now(), seen=seen, n_items=n_items, duration_ms=duration_ms,
            method=consensus.method, agreement=consensus.alphas(),
            fallbacks=consensus.fallbacks, stats=stats,
        )
    if not include_gold:
        # Answers per hour for the dashboard, from the answers this refit saw (its own
        # transaction: the first roll-up of a large project reads all of its answers).
        with db.write() as conn:
            dashboard_store.roll_up_answers(
                conn, project_id, upto=seen.last_answer_id, now=db.clock.now(),
                items_complete=counts.complete,
            )
        # The project's counters too (one more pass over its items, beside a whole refit).
        refresh_counters(db, project_id)
    # The generation just replaced stays one more round, for readers still streaming it;
    # older ones (and those of refreshes that died half-way) go. A refresh that lost a race
    # to a newer one removes its own rows.
    if switched:
        cleanup = {"below": previous if previous is not None else generation}
    else:
        cleanup = {"only": generation}
    with db.write() as conn:
        dashboard_store.delete_worker_generations(conn, project_id, include_gold, **cleanup)
    while True:
        with db.write() as conn:
            deleted = snapshot_store.delete_generations(
                conn, project_id, include_gold, **cleanup
            )
        if deleted < snapshot_store.WRITE_BATCH:
            break
    return {"skipped": False, "switched": switched, "generation": generation,
            "items": n_items,
            "last_answer_id": seen.last_answer_id, "duration_ms": duration_ms}


def _write(
    db: Database, project_id: int, include_gold: bool, generation: int,
    batch: list[dict[str, Any]], on_items: Any,
) -> int:
    with db.write() as conn:
        snapshot_store.write_lines(conn, project_id, include_gold, generation, batch)
    if on_items is not None:
        on_items(len(batch))
    return len(batch)


@job_kind(REFRESH_KIND, max_attempts=3)
def run_refresh(context: JobContext) -> dict[str, Any]:
    """Refresh one project's snapshot (see :func:`refresh_snapshot`)."""
    assert context.job.project_id is not None
    return refresh_snapshot(
        context.database,
        context.job.project_id,
        include_gold=bool(context.params.get("include_gold", False)),
        on_answers=context.advance,
        on_items=context.advance,
    )


@job_kind(WATCH_KIND, max_attempts=1, every=lambda settings: settings.consensus_refresh_seconds)
def watch_snapshots(context: JobContext) -> dict[str, Any]:
    """The periodic watch: :func:`queue_stale_refreshes`."""
    return queue_stale_refreshes(context.database)


def queue_stale_refreshes(db: Database) -> dict[str, Any]:
    """Queue a refresh for every snapshot whose project moved on (or that is missing),
    due no sooner than ten times its last refit took after it."""
    queued = 0
    with db.read() as conn:
        states = snapshot_store.snapshot_states(conn)
        stale = []
        for project_id, include_gold, snapshot in states:
            if snapshot is None or snapshot.fingerprint != snapshot_store.fingerprint(
                conn, project_id
            ):
                stale.append((project_id, include_gold, snapshot))
    for project_id, include_gold, snapshot in stale:
        run_after = None
        if snapshot is not None:
            pause = timedelta(milliseconds=snapshot.duration_ms * _PACING)
            run_after = max(snapshot.computed_at + pause, db.clock.now())
        queue_refresh(db, project_id, include_gold=include_gold, run_after=run_after)
        queued += 1
    return {"checked": len(states), "queued": queued}


@dataclass
class ConsensusView:
    """A snapshot as served: its lines, when it was computed, how far behind it is, and the
    refresh job running meanwhile (if any). ``snapshot`` is ``None`` when there is none yet
    and ``job`` computes it."""

    snapshot: SnapshotRow | None
    stale: bool
    answers_behind: int
    job: JobRow | None
    db: Database

    def lines(self) -> Iterator[dict[str, Any]]:
        if self.snapshot is None:
            return
        snap = self.snapshot
        with self.db.read() as conn:
            for batch in snapshot_store.iter_snapshot_lines(
                conn, snap.project_id, snap.include_gold, snap.generation
            ):
                yield from batch


def read_consensus(
    db: Database, *, actor: User, project_id: int, include_gold: bool, inline_max_items: int
) -> ConsensusView:
    """The project's consensus snapshot for its managers (see the module docstring)."""
    with db.read() as conn:
        project = load_project(conn, actor=actor, project_id=project_id)
        if not can_read_gold(actor, is_member=project.is_member):
            raise PermissionDenied("only the project's managers can read its consensus")
        snapshot = snapshot_store.load_snapshot(conn, project_id, include_gold)
        seen = snapshot_store.fingerprint(conn, project_id)
        if snapshot is not None and snapshot.fingerprint == seen:
            return ConsensusView(snapshot, False, 0, None, db)
        if snapshot is not None:
            size = snapshot.n_items
        else:
            scope = export_store.review_scope(conn, project_id, reviewed_only=False)
            size = export_store.count_answered_items(
                conn, project_id, include_gold=include_gold, scope=scope
            )
    if size <= inline_max_items:
        refresh_snapshot(db, project_id, include_gold=include_gold)
        with db.read() as conn:
            fresh = snapshot_store.load_snapshot(conn, project_id, include_gold)
        return ConsensusView(fresh, False, 0, None, db)
    job = queue_refresh(db, project_id, include_gold=include_gold)
    behind = 0
    if snapshot is not None:
        with db.read() as conn:
            behind = snapshot_store.answers_behind(conn, project_id, snapshot.last_answer_id)
    return ConsensusView(snapshot, True, behind, job, db)
