"""Background jobs: a jobs table claimed by workers in any number of processes.

Feature modules register job kinds (:func:`job_kind`); :class:`Worker` claims, runs and
records them; :class:`JobRunner` runs workers on threads of a server process or of
``expertloop worker``. See ``docs/jobs.md``.
"""

from expertloop.jobs.registry import (
    JobContext,
    JobInterrupted,
    JobKind,
    PermanentJobError,
    job_kind,
    job_kinds,
)
from expertloop.jobs.worker import JobRunner, Worker, backoff_seconds

__all__ = [
    "JobContext",
    "JobInterrupted",
    "JobKind",
    "JobRunner",
    "PermanentJobError",
    "Worker",
    "backoff_seconds",
    "job_kind",
    "job_kinds",
]
