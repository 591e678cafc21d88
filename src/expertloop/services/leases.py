"""Returning abandoned items to the pool: the periodic ``leases.expire`` job.

The sweep is a job kind that repeats every ``lease_sweep_seconds`` (see ``docs/jobs.md``):
the job runners keep exactly one queued under a dedupe key, so with many server processes
on PostgreSQL one process sweeps at a time instead of every process on its own timer.
"""

from __future__ import annotations

import logging
from typing import Any

from expertloop.jobs import JobContext, job_kind
from expertloop.store import Database, claims

__all__ = ["expire_leases", "sweep_leases"]

log = logging.getLogger("expertloop.leases")


def expire_leases(db: Database) -> int:
    """Expire every lease past its time (in batches) and reopen their slots."""
    total = 0
    while True:
        with db.write() as conn:
            expired = claims.expire_leases(conn, now=db.clock.now(), limit=1000)
        total += expired
        if expired < 1000:
            return total


@job_kind("leases.expire", max_attempts=1, every=lambda settings: settings.lease_sweep_seconds)
def sweep_leases(context: JobContext) -> dict[str, Any]:
    """The periodic sweep: expire leases past their time. Idempotent: a lease expires once."""
    expired = expire_leases(context.database)
    if expired:
        log.info("returned %d expired leases to the pool", expired)
    context.advance(expired)
    return {"expired": expired}
