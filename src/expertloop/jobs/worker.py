"""Workers that claim jobs, run their handlers, keep their leases alive and record outcomes.

A :class:`Worker` loops: claim the oldest due job of the kinds it knows (``store.jobs``),
run its handler while a heartbeat thread extends the lease and writes progress, then mark
the job succeeded, queue it again with exponential backoff, or fail it after
``max_attempts``. A worker killed mid-job simply stops heartbeating; once the lease expires
another worker claims the job and runs it again, which is why handlers are idempotent.

:class:`JobRunner` runs workers on threads: in every server process (started by the app's
lifespan, ``job_workers`` of them) and in ``expertloop worker``. Periodic kinds (the lease
sweep) are kept queued once, under their kind's name as dedupe key, so however many
processes run workers, one runs each periodic job at a time.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import traceback
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

from expertloop.errors import ExpertloopError
from expertloop.jobs.registry import (
    JobContext,
    JobInterrupted,
    JobKind,
    PermanentJobError,
    job_kinds,
)
from expertloop.settings import Settings
from expertloop.store import Database
from expertloop.store import jobs as job_store
from expertloop.store.jobs import JobRow

__all__ = ["JobRunner", "Worker", "backoff_seconds"]

log = logging.getLogger("expertloop.jobs")


def backoff_seconds(base: float, attempts: int) -> float:
    """Delay before attempt ``attempts + 1``: ``base``, then doubling, capped at an hour."""
    return float(min(base * 2 ** max(attempts - 1, 0), 3600.0))


class Worker:
    """Claims and runs jobs of ``kinds`` (default: every registered kind)."""

    def __init__(
        self,
        database: Database,
        settings: Settings,
        *,
        kinds: dict[str, JobKind] | None = None,
        clock: Callable[[], datetime] | None = None,
        name: str | None = None,
    ) -> None:
        self.database = database
        self.settings = settings
        self.kinds = kinds if kinds is not None else job_kinds()
        self._clock = clock
        self.owner = name or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._periodic = {n: k for n, k in self.kinds.items() if k.every is not None}

    def clock(self) -> datetime:
        """Now: from ``clock`` if one was given, else from the database's clock as it is at
        this moment (read each time, so a test that swaps in a fake clock moves every
        runner already started on that database, such as a shared test server's)."""
        return self._clock() if self._clock is not None else self.database.clock.now()

    # --- one step ------------------------------------------------------------------------

    def run_one(self) -> JobRow | None:
        """Claim one due job and run it to an outcome; the claimed job, or ``None``."""
        with self.database.read() as conn:
            due = job_store.next_due_time(conn, kinds=list(self.kinds))
        if due is None or due > self.clock():
            return None
        with self.database.write() as conn:
            job = job_store.claim_next_job(
                conn,
                kinds=list(self.kinds),
                owner=self.owner,
                now=self.clock(),
                lease_seconds=self.settings.job_lease_seconds,
            )
        if job is None:
            return None
        if job.attempts > job.max_attempts:
            # Its workers died (or stalled past the lease) on every attempt: stop trying.
            self._fail(job, f"interrupted {job.max_attempts} times (worker lost its lease)")
            return job
        self._run(job)
        return job

    def _run(self, job: JobRow) -> None:
        kind = self.kinds[job.kind]
        context = JobContext(job=job, database=self.database, settings=self.settings)
        beat_stop = threading.Event()
        beat = threading.Thread(
            target=self._heartbeat, args=(context, beat_stop), name=f"job-{job.id}-heartbeat",
            daemon=True,
        )
        beat.start()
        try:
            result = kind.handler(context)
        except JobInterrupted:
            log.info("job %d (%s) stopped: cancelled or lease lost", job.id, job.kind)
            return
        except (ExpertloopError, PermanentJobError) as exc:
            self._fail(job, str(exc))
            return
        except Exception as exc:
            log.exception("job %d (%s) attempt %d failed", job.id, job.kind, job.attempts)
            self._retry_or_fail(job, f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}")
            return
        finally:
            beat_stop.set()
            beat.join()
        self._succeed(job, kind, context, result)

    def _heartbeat(self, context: JobContext, stop: threading.Event) -> None:
        interval = max(self.settings.job_lease_seconds / 3, 0.05)
        while not stop.wait(interval):
            try:
                with self.database.write() as conn:
                    ours = job_store.heartbeat_job(
                        conn,
                        context.job.id,
                        owner=self.owner,
                        now=self.clock(),
                        lease_seconds=self.settings.job_lease_seconds,
                        done=context.done,
                        total=context.total,
                    )
            except Exception:  # a transient database error: try again at the next beat
                log.exception("heartbeat of job %d failed", context.job.id)
                continue
            if not ours:
                context.interrupt()
                return

    def _succeed(
        self, job: JobRow, kind: JobKind, context: JobContext, result: dict | None
    ) -> None:
        now = self.clock()
        with self.database.write() as conn:
            if kind.every is not None and job.dedupe_key == kind.name:
                finished = job_store.reschedule_job(
                    conn, job.id, owner=self.owner, now=now, result=result,
                    run_after=now + timedelta(seconds=kind.every(self.settings)),
                )
            else:
                finished = job_store.finish_job(
                    conn, job.id, owner=self.owner, now=now, result=result,
                    done=context.done, total=context.total,
                )
        if not finished:
            log.warning("job %d finished after it stopped being ours; result dropped", job.id)

    def _retry_or_fail(self, job: JobRow, error: str) -> None:
        if job.attempts >= job.max_attempts:
            self._fail(job, error)
            return
        delay = backoff_seconds(self.settings.job_retry_seconds, job.attempts)
        with self.database.write() as conn:
            job_store.retry_job(
                conn, job.id, owner=self.owner, error=error,
                run_after=self.clock() + timedelta(seconds=delay),
            )

    def _fail(self, job: JobRow, error: str) -> None:
        with self.database.write() as conn:
            job_store.fail_job(conn, job.id, owner=self.owner, error=error, now=self.clock())

    # --- the loop ------------------------------------------------------------------------

    def ensure_periodic(self) -> None:
        """Queue each periodic kind that has no queued or running job (on start, and again
        if one failed for good or was cancelled)."""
        if not self._periodic:
            return
        with self.database.read() as conn:
            live = job_store.live_dedupe_keys(conn, list(self._periodic))
        missing = [kind for name, kind in self._periodic.items() if name not in live]
        if not missing:
            return
        with self.database.write() as conn:
            for kind in missing:
                job_store.enqueue_job(
                    conn, kind=kind.name, params={}, now=self.clock(), dedupe_key=kind.name,
                    max_attempts=kind.max_attempts,
                )

    def wait_seconds(self) -> float:
        """How long to sleep when no job is due: until the next one is, at most the poll."""
        poll = self.settings.job_poll_seconds
        with self.database.read() as conn:
            due = job_store.next_due_time(conn, kinds=list(self.kinds))
        if due is None:
            return poll
        return min(poll, max((due - self.clock()).total_seconds(), 0.01))

    def run_until(self, stop: threading.Event, wake: threading.Event | None = None) -> None:
        """Run jobs until ``stop`` is set; sleeps between them, woken early by ``wake``."""
        wake = wake or threading.Event()
        while not stop.is_set():
            try:
                self.ensure_periodic()
                while not stop.is_set() and self.run_one() is not None:
                    pass
                delay = self.wait_seconds()
            except Exception:  # the database went away for a moment: keep the worker alive
                log.exception("job worker %s: database error", self.owner)
                delay = self.settings.job_poll_seconds
            if wake.wait(delay):
                wake.clear()


class JobRunner:
    """``threads`` workers on daemon threads of this process."""

    def __init__(
        self,
        database: Database,
        settings: Settings,
        *,
        threads: int = 1,
        kinds: dict[str, JobKind] | None = None,
    ) -> None:
        self.workers = [Worker(database, settings, kinds=kinds) for _ in range(threads)]
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        self._stop.clear()
        self._threads = [
            threading.Thread(
                target=w.run_until, args=(self._stop, self._wake), name=f"job-worker-{i}",
                daemon=True,
            )
            for i, w in enumerate(self.workers)
        ]
        for thread in self._threads:
            thread.start()

    def wake(self) -> None:
        """Look for due jobs now (after queueing one in this process)."""
        self._wake.set()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop taking jobs and wait for running ones (up to ``timeout``); a job still
        running then is picked up again elsewhere after its lease."""
        self._stop.set()
        self._wake.set()
        for thread in self._threads:
            thread.join(timeout=timeout)
