"""Red-team campaign snapshots: each campaign's numbers, recomputed by jobs as answers arrive.

Pages and endpoints read the snapshot; they never recompute a large campaign per request
(the near-duplicate search alone takes seconds at a few thousand attempts).

- ``redteam.campaign`` (a job per project, deduplicated) computes the numbers
  (:func:`expertloop.services.redteam.compute_campaign`) and stores them in place of the
  previous ones. It first compares the project's fingerprint (newest answer id, decided
  reviews: :func:`expertloop.store.consensus.fingerprint`) and its taxonomy with the
  snapshot's, and does nothing when none moved: running it twice is running it once.
- ``redteam.watch`` (periodic, every ``consensus_refresh_seconds``) queues a refresh for
  each red-team project with answers whose snapshot is missing or behind, due no sooner
  than ten times its last computation took after it.
- :func:`read_campaign` serves the snapshot with when it was computed and how many answers
  it is behind. A small campaign (at most :data:`INLINE_MAX_ATTEMPTS` attempts) whose
  snapshot is missing or behind is recomputed in the request, so it is always exact; a
  large one is served as it stands while a refresh job runs (no numbers yet, only the job,
  when there is no snapshot).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson

from expertloop.domain import User
from expertloop.jobs import JobContext, job_kind
from expertloop.services.redteam import (
    Campaign,
    DuplicateGroup,
    Highlight,
    RateRow,
    compute_campaign,
    conversational_config,
)
from expertloop.store import Database
from expertloop.store import consensus as consensus_store
from expertloop.store import jobs as job_store
from expertloop.store import projects as project_store
from expertloop.store import redteam as store
from expertloop.store.jobs import JobRow
from expertloop.tasks import get_task_type

__all__ = [
    "INLINE_MAX_ATTEMPTS",
    "REFRESH_KIND",
    "WATCH_KIND",
    "CampaignView",
    "campaign_from_dict",
    "queue_refresh",
    "queue_stale_refreshes",
    "read_campaign",
    "refresh_campaign",
]

REFRESH_KIND = "redteam.campaign"
WATCH_KIND = "redteam.watch"
# Campaigns of at most this many attempts are recomputed in the request when behind
# (about a tenth of a second: bench/redteam.py).
INLINE_MAX_ATTEMPTS = 250
# A campaign is recomputed at most once per this many times its last computation took.
_PACING = 10


def _config_hash(config: Mapping[str, Any]) -> str:
    return hashlib.sha256(orjson.dumps(config, option=orjson.OPT_SORT_KEYS)).hexdigest()


def queue_refresh(db: Database, project_id: int, *, run_after: datetime | None = None) -> JobRow:
    """Queue a refresh of the project's campaign (once: a queued or running one is reused)."""
    with db.write() as conn:
        job, _ = job_store.enqueue_job(
            conn, kind=REFRESH_KIND, params={}, now=db.clock.now(), project_id=project_id,
            dedupe_key=f"{REFRESH_KIND}:{project_id}", max_attempts=3, run_after=run_after,
        )
    return job


def refresh_campaign(db: Database, project_id: int) -> dict[str, Any]:
    """Compute and store the project's campaign numbers unless no answer, review decision
    or taxonomy change arrived since the snapshot."""
    started = time.monotonic()
    with db.read() as conn:
        # Any user id that is no member: the project as the system sees it.
        project = project_store.project_for_user(conn, project_id, -1)
        if project is None:
            return {"skipped": True, "reason": "no such project"}
        task = get_task_type(project.task_type)
        if not task.conversational:
            return {"skipped": True, "reason": f"a {project.task_type} project"}
        config = task.validate_config(project.config)
        seen = consensus_store.fingerprint(conn, project_id)
        current = store.load_campaign(conn, project_id)
    digest = _config_hash(config)
    if current is not None and _fingerprint(current) == (seen, digest):
        return {"skipped": True, "last_answer_id": current.last_answer_id}
    numbers = compute_campaign(db, project_id, config)
    duration_ms = int((time.monotonic() - started) * 1000)
    row = store.CampaignRow(
        project_id=project_id, computed_at=db.clock.now(), last_answer_id=seen.last_answer_id,
        decided_reviews=seen.decided_reviews, config_hash=digest, attempts=numbers.attempts,
        duration_ms=duration_ms, numbers=numbers.to_dict(),
    )
    with db.write() as conn:
        store.save_campaign(conn, row)
    return {"skipped": False, "attempts": numbers.attempts,
            "last_answer_id": seen.last_answer_id, "duration_ms": duration_ms}


def _fingerprint(row: store.CampaignRow) -> tuple[consensus_store.Fingerprint, str]:
    return consensus_store.Fingerprint(row.last_answer_id, row.decided_reviews), row.config_hash


@job_kind(REFRESH_KIND, max_attempts=3)
def run_refresh(context: JobContext) -> dict[str, Any]:
    """Refresh one project's campaign (see :func:`refresh_campaign`)."""
    assert context.job.project_id is not None
    return refresh_campaign(context.database, context.job.project_id)


@job_kind(WATCH_KIND, max_attempts=1, every=lambda settings: settings.consensus_refresh_seconds)
def watch_campaigns(context: JobContext) -> dict[str, Any]:
    """The periodic watch: :func:`queue_stale_refreshes`."""
    return queue_stale_refreshes(context.database)


def queue_stale_refreshes(db: Database) -> dict[str, Any]:
    """Queue a refresh for every red-team project with answers whose campaign snapshot is
    missing or behind (its answers or review decisions; a taxonomy change is noticed by
    the next refresh or page)."""
    stale: list[tuple[int, store.CampaignRow | None]] = []
    checked = 0
    with db.read() as conn:
        for project_id, task_type in store.projects_with_answers(conn):
            if not get_task_type(task_type).conversational:
                continue
            checked += 1
            current = store.load_campaign(conn, project_id)
            seen = consensus_store.fingerprint(conn, project_id)
            if current is None or _fingerprint(current)[0] != seen:
                stale.append((project_id, current))
    for project_id, current in stale:
        run_after = None
        if current is not None:
            pause = timedelta(milliseconds=current.duration_ms * _PACING)
            run_after = max(current.computed_at + pause, db.clock.now())
        queue_refresh(db, project_id, run_after=run_after)
    return {"checked": checked, "queued": len(stale)}


@dataclass(frozen=True)
class CampaignView:
    """A campaign snapshot as served: its numbers (``None`` when there is none yet and
    ``job`` computes it), when they were computed, whether answers or review decisions
    arrived since (``stale``, ``answers_behind``), and the refresh job meanwhile."""

    campaign: Campaign | None
    computed_at: datetime | None
    stale: bool
    answers_behind: int
    job: JobRow | None


def read_campaign(
    db: Database, *, actor: User, project_id: int,
    inline_max_attempts: int | None = INLINE_MAX_ATTEMPTS,
) -> CampaignView:
    """The project's campaign snapshot for its managers and reviewers (see the module
    docstring). ``inline_max_attempts=None`` recomputes a stale campaign of any size now."""
    config = conversational_config(db, actor, project_id)
    digest = _config_hash(config)
    with db.read() as conn:
        current = store.load_campaign(conn, project_id)
        seen = consensus_store.fingerprint(conn, project_id)
        if current is not None and _fingerprint(current) == (seen, digest):
            return _view(current, False, 0, None)
        size = consensus_store.answers_behind(
            conn, project_id, 0 if current is None else current.last_answer_id
        ) + (0 if current is None else current.attempts)
    if inline_max_attempts is None or size <= inline_max_attempts:
        refresh_campaign(db, project_id)
        with db.read() as conn:
            fresh = store.load_campaign(conn, project_id)
        assert fresh is not None
        return _view(fresh, False, 0, None)
    job = queue_refresh(db, project_id)
    if current is None:
        return CampaignView(None, None, True, size, job)
    with db.read() as conn:
        behind = consensus_store.answers_behind(conn, project_id, current.last_answer_id)
    return _view(current, True, behind, job)


def _view(
    row: store.CampaignRow, stale: bool, behind: int, job: JobRow | None
) -> CampaignView:
    return CampaignView(campaign_from_dict(row.numbers), row.computed_at, stale, behind, job)


def _rate(found: Mapping[str, Any]) -> RateRow:
    interval = found["interval"]
    return RateRow(
        found["key"], found["name"], found["attempts"], found["successes"], found["confirmed"],
        found["rejected"], found["success_rate"],
        None if interval is None else interval[0], None if interval is None else interval[1],
    )


def campaign_from_dict(numbers: Mapping[str, Any]) -> Campaign:
    """A campaign back from :meth:`Campaign.to_dict` (as stored in its snapshot)."""
    return Campaign(
        project_id=numbers["project_id"],
        attempts=numbers["attempts"],
        successes=numbers["successes"],
        confirmed=numbers["confirmed"],
        rejected=numbers["rejected"],
        by_category=[_rate(r) for r in numbers["by_category"]],
        by_target=[_rate(r) for r in numbers["by_target"]],
        covered=list(numbers["coverage"]["covered"]),
        uncovered=list(numbers["coverage"]["uncovered"]),
        duplicate_groups=[
            DuplicateGroup(tuple(g["answer_ids"]), g["similarity"], g["snippet"])
            for g in numbers["duplicate_groups"]
        ],
        recent_successes=[
            Highlight(
                h["answer_id"], h["external_id"], h["category"], h["severity"], h["review"],
                h["attack"], h["reply"],
            )
            for h in numbers["recent_successes"]
        ],
    )
