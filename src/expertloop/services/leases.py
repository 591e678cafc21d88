"""Returning abandoned items to the pool: a background sweeper of expired leases."""

from __future__ import annotations

import logging
import threading

from expertloop.store import Database, claims

__all__ = ["LeaseSweeper", "expire_leases"]

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


class LeaseSweeper:
    """Runs :func:`expire_leases` every ``interval_seconds`` on a daemon thread.

    Every server process runs one; on PostgreSQL they take disjoint rows (SKIP LOCKED).
    """

    def __init__(self, db: Database, *, interval_seconds: float) -> None:
        self._db = db
        self._interval = interval_seconds
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="lease-sweeper", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                if expired := expire_leases(self._db):
                    log.info("returned %d expired leases to the pool", expired)
            except Exception:  # keep sweeping after a transient database error
                log.exception("lease sweep failed")
