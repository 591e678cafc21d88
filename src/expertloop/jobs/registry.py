"""Job kinds: what each kind of background job does, registered by the feature that owns it.

A feature module declares its kinds with :func:`job_kind` next to the code they run
(``services/export_jobs.py`` declares ``export.dataset``), so adding a kind edits no central
file; :func:`expertloop.services.jobs.load_job_kinds` imports the modules that declare them.

A handler must be idempotent: a job interrupted by a crash is run again from the start once
its lease expires, and running it twice must have the effect of running it once (write to a
temporary file and rename it into place; upsert rather than insert).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from expertloop.settings import Settings
    from expertloop.store import Database
    from expertloop.store.jobs import JobRow

__all__ = [
    "JobContext",
    "JobInterrupted",
    "JobKind",
    "PermanentJobError",
    "job_kind",
    "job_kinds",
]


class JobInterrupted(Exception):
    """Raised inside a handler when its job was cancelled or its lease was lost: stop now."""


class PermanentJobError(Exception):
    """A handler's failure that retrying cannot mend (fail the job at once)."""


@dataclass
class JobContext:
    """What a handler gets: its job, the database and settings, and a progress meter.

    :meth:`advance` and :meth:`set_total` only update memory; the worker's heartbeat writes
    them to the job row. :meth:`check` raises :class:`JobInterrupted` once the job is no
    longer this worker's, so long handlers call it between batches.
    """

    job: JobRow
    database: Database
    settings: Settings
    done: int = 0
    total: int | None = None
    _stop: threading.Event = field(default_factory=threading.Event)

    @property
    def params(self) -> dict[str, Any]:
        return self.job.params

    def set_total(self, total: int | None) -> None:
        self.total = total

    def advance(self, n: int = 1) -> None:
        self.done += n
        self.check()

    def check(self) -> None:
        if self._stop.is_set():
            raise JobInterrupted(f"job {self.job.id} was cancelled or its lease was lost")

    def interrupt(self) -> None:
        self._stop.set()


Handler = Callable[[JobContext], "dict[str, Any] | None"]


@dataclass(frozen=True)
class JobKind:
    """A kind of job. ``every`` makes it periodic: the runner keeps one queued, due that many
    seconds after the previous run finished (a function of the settings)."""

    name: str
    handler: Handler
    max_attempts: int = 3
    every: Callable[[Settings], float] | None = None


_KINDS: dict[str, JobKind] = {}


def job_kind(
    name: str, *, max_attempts: int = 3, every: Callable[[Settings], float] | None = None
) -> Callable[[Handler], Handler]:
    """Register the decorated function as the handler of job kind ``name``."""

    def register(handler: Handler) -> Handler:
        existing = _KINDS.get(name)
        # The same function registering again (its module reloaded) is fine; another is not.
        if existing is not None and _qualified(existing.handler) != _qualified(handler):
            raise ValueError(
                f"job kind {name!r} is already registered by {_qualified(existing.handler)}"
            )
        _KINDS[name] = JobKind(name, handler, max_attempts, every)
        return handler

    return register


def _qualified(handler: Handler) -> str:
    return f"{handler.__module__}.{handler.__qualname__}"


def job_kinds() -> dict[str, JobKind]:
    """The registered kinds by name."""
    return dict(_KINDS)
