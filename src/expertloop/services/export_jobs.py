"""Exports as background jobs: queue one, let a worker write the file, download it.

``POST /api/v1/projects/{id}/exports`` queues an ``export.dataset`` job; a worker runs the
export (:func:`expertloop.services.exports.prepare_export`, unchanged) into
``data_dir/exports/job-<id>/``: the dataset file and its Hugging Face dataset card
(``README.md``, :func:`expertloop.exports.card.card_markdown`). Both are written to
temporary names and renamed into place, so a job killed half-way and run again by another
worker leaves the same two complete files, once.

Projects with more answered items than ``export_job_threshold_items`` export only this way;
:func:`check_streamable` says so to the streaming route.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from expertloop.domain import Project, User
from expertloop.domain.policies import can_read_gold
from expertloop.errors import (
    InputInvalid,
    JobNotFinished,
    NotFound,
    PermissionDenied,
    TooLargeToStream,
)
from expertloop.exports.rows import FORMATS
from expertloop.exports.writers import write_rows
from expertloop.jobs import JobContext, PermanentJobError, job_kind
from expertloop.services.exports import (
    ExportOptions,
    count_answers,
    prepare_export,
    validate_card_fields,
)
from expertloop.services.jobs import get_job, queue_job
from expertloop.services.projects import load_project
from expertloop.settings import Settings
from expertloop.store import Database
from expertloop.store import exports as export_store
from expertloop.store import users as user_store
from expertloop.store.jobs import JobRow
from expertloop.tasks import get_task_type

__all__ = [
    "EXPORT_KIND",
    "ExportDownload",
    "check_streamable",
    "export_download",
    "export_job_directory",
    "run_export_job",
    "start_export_job",
]

EXPORT_KIND = "export.dataset"
OUTPUT_TYPES = {"jsonl": "application/x-ndjson", "parquet": "application/vnd.apache.parquet"}
CARD_NAME = "README.md"


def export_job_directory(settings: Settings, job_id: int) -> Path:
    return settings.data_dir / "exports" / f"job-{job_id}"


def _check_manager(db: Database, actor: User, project_id: int) -> Project:
    with db.read() as conn:
        project = load_project(conn, actor=actor, project_id=project_id)
    if not can_read_gold(actor, is_member=project.is_member):
        raise PermissionDenied("only the project's managers can export it")
    return project


def start_export_job(
    db: Database, *, actor: User, project_id: int, options: ExportOptions, output: str
) -> JobRow:
    """Queue an export of the project. Permission and the format are checked now (4xx before
    anything is queued); the rest of the options when the job runs (the job then fails with
    the same message the streaming route would give)."""
    if output not in OUTPUT_TYPES:
        raise InputInvalid.on_field("output", f"output must be jsonl or parquet, not {output!r}")
    task_type = _check_manager(db, actor, project_id).task_type
    offered = get_task_type(task_type).export_formats
    if options.format not in FORMATS or options.format not in offered:
        raise InputInvalid.on_field(
            "format",
            f"a {task_type} project exports as {', '.join(offered)}, not "
            f"{options.format}",
        )
    validate_card_fields(options)
    job, _ = queue_job(
        db,
        kind=EXPORT_KIND,
        params={"options": asdict(options), "output": output},
        project_id=project_id,
        created_by=actor.id,
    )
    return job


def check_streamable(
    db: Database,
    *,
    actor: User,
    project_id: int,
    include_gold: bool,
    reviewed_only: bool,
    threshold: int,
) -> None:
    """Refuse (409) a streaming export of more than ``threshold`` answered items."""
    with db.read() as conn:
        load_project(conn, actor=actor, project_id=project_id)
        scope = export_store.review_scope(conn, project_id, reviewed_only=reviewed_only)
        n_items = export_store.count_answered_items(
            conn, project_id, include_gold=include_gold, scope=scope
        )
    if n_items > threshold:
        raise TooLargeToStream(
            f"project {project_id} has {n_items} answered items, more than the "
            f"{threshold} a streaming export serves (export_job_threshold_items): start an "
            f"export job with POST /api/v1/projects/{project_id}/exports and download its "
            "file when it has finished"
        )


def _fsync_write(path: Path, write: Any) -> None:
    with path.open("wb") as sink:
        write(sink)
        sink.flush()
        os.fsync(sink.fileno())


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as source:
        while chunk := source.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


@job_kind(EXPORT_KIND, max_attempts=3)
def run_export_job(context: JobContext) -> dict[str, Any]:
    """Write the export and its card into the job's directory (idempotent, see above)."""
    job, db, settings = context.job, context.database, context.settings
    assert job.project_id is not None
    assert job.created_by is not None
    with db.read() as conn:
        actor = user_store.user_by_id(conn, job.created_by)
    if actor is None or not actor.is_active:
        raise PermanentJobError("the account that started this export is gone or disabled")
    params = dict(job.params["options"])
    params["language"] = tuple(params.get("language") or ())
    options = ExportOptions(**params)
    output = job.params["output"]
    directory = export_job_directory(settings, job.id)
    directory.mkdir(parents=True, exist_ok=True)
    for leftover in directory.glob(".tmp-*"):  # from an attempt that was killed
        leftover.unlink(missing_ok=True)

    # Progress: every answer (the consensus fit), then every answered item (the rows).
    with db.read() as conn:
        scope = export_store.review_scope(
            conn, job.project_id, reviewed_only=options.reviewed_only
        )
        n_items = export_store.count_answered_items(
            conn, job.project_id, include_gold=options.include_gold, scope=scope
        )
    context.set_total(count_answers(db, job.project_id) + n_items)
    prepared = prepare_export(
        db,
        actor=actor,
        project_id=job.project_id,
        options=options,
        secret_key=settings.secret_key,
        on_answers=context.advance,
    )
    name = f"project-{job.project_id}-{options.format}.{output}"
    token = uuid.uuid4().hex
    data_tmp = directory / f".tmp-{token}-{name}"
    card_tmp = directory / f".tmp-{token}-{CARD_NAME}"
    batches = prepared.batches(on_items=context.advance)
    _fsync_write(
        data_tmp, lambda sink: write_rows(batches, sink, output=output, schema=prepared.schema)
    )
    stats = prepared.card_stats().as_dict()
    card_tmp.write_text(prepared.card(name), encoding="utf-8")
    context.check()  # cancelled at the last moment: leave no file behind
    os.replace(data_tmp, directory / name)
    os.replace(card_tmp, directory / CARD_NAME)
    return {
        "file": name,
        "output": output,
        "bytes": (directory / name).stat().st_size,
        "sha256": _sha256(directory / name),
        "card": CARD_NAME,
        "rows": stats["counts"]["rows"],
        "stats": stats,
    }


@dataclass(frozen=True)
class ExportDownload:
    path: Path
    filename: str
    media_type: str


def export_download(
    db: Database, *, actor: User, job_id: int, settings: Settings, part: str
) -> ExportDownload:
    """The finished file (``part="file"``) or dataset card (``"card"``) of an export job,
    for the project's managers and admins."""
    job = get_job(db, actor=actor, job_id=job_id)
    if job.kind != EXPORT_KIND or job.project_id is None:
        raise NotFound(f"job {job_id} is not an export")
    _check_manager(db, actor, job.project_id)
    if job.status != "succeeded" or job.result is None:
        raise JobNotFinished(
            f"export job {job_id} is {job.status}, not finished: poll GET /api/v1/jobs/{job_id}"
            " until its status is succeeded"
        )
    directory = export_job_directory(settings, job.id)
    if part == "card":
        path = directory / job.result["card"]
        download = ExportDownload(path, f"project-{job.project_id}-README.md", "text/markdown")
    else:
        path = directory / job.result["file"]
        download = ExportDownload(path, job.result["file"], OUTPUT_TYPES[job.result["output"]])
    if not path.is_file():
        raise NotFound(f"the files of export job {job_id} were removed from the server")
    return download
