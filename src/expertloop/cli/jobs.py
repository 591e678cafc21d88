"""``expertloop jobs list|show|cancel`` and ``expertloop worker``: background jobs.

``expertloop worker`` runs job workers on their own, beside (or instead of) the ones each
server process runs (``EXPERTLOOP_JOB_WORKERS``). On PostgreSQL run as many as you like, on
any hosts; they take distinct jobs. Stop one with Ctrl-C or SIGTERM: it finishes its running
jobs first; a worker killed outright leaves its job to be run again after its lease.
"""

from __future__ import annotations

import json
import signal
import threading
from datetime import datetime
from typing import Annotated, Any

import typer

from expertloop.cli.common import database as _database
from expertloop.cli.common import err, refused
from expertloop.cli.common import fail as _fail
from expertloop.cli.common import operator as _operator
from expertloop.cli.common import settings as _settings
from expertloop.services.clock import iso_utc
from expertloop.services.jobs import JobRow

__all__ = ["jobs_app", "register", "worker"]

jobs_app = typer.Typer(help="Background jobs (exports, consensus refreshes).", no_args_is_help=True)


def _job_json(job: JobRow) -> dict[str, Any]:
    """The job as the API shows it: no lease owner (the workers' business), times in UTC."""
    out: dict[str, Any] = {}
    for name in JobRow.__slots__:
        if name in ("lease_owner", "lease_expires_at", "dedupe_key"):
            continue
        value = getattr(job, name)
        out[name] = iso_utc(value) if isinstance(value, datetime) else value
    return out


@jobs_app.command("list")
def jobs_list(
    status: Annotated[
        str | None,
        typer.Option(help="Only these: queued, running, succeeded, failed or cancelled."),
    ] = None,
    kind: Annotated[str | None, typer.Option(help="Only this kind, e.g. export.dataset.")] = None,
    project: Annotated[int | None, typer.Option(help="Only this project's jobs.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="At most this many.")] = 50,
    as_user: Annotated[str | None, typer.Option("--as", help="Act as this user.")] = None,
) -> None:
    """Print jobs as NDJSON, newest first."""
    from expertloop.services import jobs

    with _database(_settings()) as database:
        actor = _operator(database, as_user)
        with refused():
            found = jobs.list_jobs(
                database, actor=actor, status=status, kind=kind, project_id=project, limit=limit
            )
    for job in found:
        typer.echo(json.dumps(_job_json(job)))


@jobs_app.command("show")
def jobs_show(
    job_id: Annotated[int, typer.Argument(help="Job id.")],
    as_user: Annotated[str | None, typer.Option("--as", help="Act as this user.")] = None,
) -> None:
    """Print one job (status, progress, result or error) as JSON."""
    from expertloop.services import jobs

    with _database(_settings()) as database:
        actor = _operator(database, as_user)
        with refused():
            job = jobs.get_job(database, actor=actor, job_id=job_id)
    typer.echo(json.dumps(_job_json(job), indent=2))


@jobs_app.command("cancel")
def jobs_cancel(
    job_id: Annotated[int, typer.Argument(help="Job id.")],
    as_user: Annotated[str | None, typer.Option("--as", help="Act as this user.")] = None,
) -> None:
    """Cancel a queued or running job (a running one stops at its next heartbeat)."""
    from expertloop.services import jobs

    with _database(_settings()) as database:
        actor = _operator(database, as_user)
        with refused():
            job = jobs.cancel_job(database, actor=actor, job_id=job_id)
    err.print(f"job {job.id} is {job.status}", highlight=False)


def worker(
    threads: Annotated[int, typer.Option(min=1, help="Jobs to run at once.")] = 1,
) -> None:
    """Run background job workers until stopped (Ctrl-C or SIGTERM)."""
    from expertloop.jobs import JobRunner
    from expertloop.services.jobs import chosen_job_kinds

    settings = _settings()
    stop = threading.Event()

    def on_signal(_signum: int, _frame: Any) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    with _database(settings) as database:
        try:
            kinds = chosen_job_kinds(settings)
        except ValueError as exc:
            _fail(str(exc))
        runner = JobRunner(database, settings, threads=threads, kinds=kinds)
        runner.start()
        err.print(
            f"job worker running {threads} thread(s) for: {', '.join(sorted(kinds))}",
            highlight=False,
        )
        while not stop.wait(0.5):
            pass
        err.print("stopping: finishing running jobs", highlight=False)
        runner.stop()


def register(app: typer.Typer) -> None:
    app.add_typer(jobs_app, name="jobs")
    app.command("worker")(worker)
