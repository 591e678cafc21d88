"""Importing a file of items, as the console's import page and ``POST .../imports`` do.

The whole file is validated before anything is stored (every line and field, and every
external id against the project's items), and a file with any problem is refused whole:
its import is recorded as ``rejected`` with its problems (the first
:data:`MAX_STORED_ERRORS`, by line and field, and how many there were).

A small file is imported within the request, in one transaction. A large one (more bytes
than ``import_job_threshold_bytes`` or more records than ``import_job_threshold_rows``), and
every import through the API, is saved under ``data_dir/imports/`` and imported by an
``items.import`` job: it validates the whole file, then stores it :data:`BATCH` items per
transaction, each batch moving the import's ``items_done`` in the same transaction
(:func:`expertloop.store.imports.store_batch`), so a job run again after a crash resumes
after the last stored batch and stores no item twice.

JSON and NDJSON are told apart by content (a file that starts with ``[`` is a JSON array, one
that starts with ``{`` has an object per line), never by the file's name.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

from expertloop.domain import ImportFormat, ImportStatus, Project, SuggestionSource, User
from expertloop.domain.policies import can_import_items
from expertloop.errors import (
    ImportFailed,
    InputInvalid,
    NotFound,
    PayloadTooLarge,
    PermissionDenied,
)
from expertloop.jobs import JobContext, PermanentJobError, job_kind
from expertloop.services import redundancy
from expertloop.services.interchange import foreign_records
from expertloop.services.item_sources import parse_csv_bytes, parse_json_array, parse_ndjson
from expertloop.services.items import check_can_import, store_labels, validate_items
from expertloop.services.jobs import JobRow, get_job, queue_job
from expertloop.services.projects import load_project
from expertloop.settings import Settings
from expertloop.store import Database, audit
from expertloop.store import imports as import_store
from expertloop.store import items as item_store
from expertloop.store import users as user_store
from expertloop.store.imports import ImportRow

__all__ = [
    "AUTO",
    "BATCH",
    "IMPORT_KIND",
    "MAX_STORED_ERRORS",
    "ImportView",
    "UploadSink",
    "check_can_import",
    "detect_format",
    "get_import",
    "import_upload",
    "list_imports",
    "new_upload_path",
    "run_import_job",
]

IMPORT_KIND = "items.import"
AUTO = "auto"
BATCH = 1000
MAX_STORED_ERRORS = 100
_SNIFF_BYTES = 4096

_BOMS = (
    (b"\xff\xfe\x00\x00", "UTF-32"),
    (b"\x00\x00\xfe\xff", "UTF-32"),
    (b"\xff\xfe", "UTF-16"),
    (b"\xfe\xff", "UTF-16"),
)


@dataclass(frozen=True)
class ImportView:
    """An import with its job, if it has one (its progress while it runs)."""

    row: ImportRow
    job: JobRow | None

    @property
    def status(self) -> str:
        """The import's status; ``failed`` for one whose job stopped for good before it
        could record an outcome (cancelled, or its workers lost it every time)."""
        job = self.job
        terminal = (ImportStatus.SUCCEEDED, ImportStatus.REJECTED, ImportStatus.FAILED)
        if self.row.status not in terminal and job is not None and job.status in (
            "failed", "cancelled"
        ):
            return ImportStatus.FAILED.value
        return self.row.status

    @property
    def message(self) -> str | None:
        if self.row.message:
            return self.row.message
        if self.status == ImportStatus.FAILED and self.job is not None:
            return self.job.error or f"its job was {self.job.status}"
        return None

    @property
    def phase(self) -> str:
        """What the import is doing: ``queued``, ``validating``, ``storing`` or ``done``."""
        if self.status in (ImportStatus.SUCCEEDED, ImportStatus.REJECTED, ImportStatus.FAILED):
            return "done"
        if self.row.status == ImportStatus.IMPORTING:
            return "storing"
        if self.job is not None and self.job.status == "running":
            return "validating"
        return "queued"

    def as_dict(self) -> dict[str, Any]:
        r = self.row
        return {
            "id": r.id,
            "project_id": r.project_id,
            "job_id": r.job_id,
            "created_by": r.created_by,
            "created_by_name": r.created_by_name,
            "filename": r.filename,
            "format": r.format,
            "size_bytes": r.size_bytes,
            "status": self.status,
            "phase": self.phase,
            "items_total": r.items_total,
            "items_done": r.items_done,
            "total_errors": r.total_errors,
            "errors": r.errors,
            "message": self.message,
            "created_at": r.created_at,
            "finished_at": r.finished_at,
        }


# --- the file ----------------------------------------------------------------------------


def new_upload_path(settings: Settings) -> Path:
    """A fresh path under ``data_dir/imports/incoming`` to save an upload to."""
    directory = settings.data_dir / "imports" / "incoming"
    directory.mkdir(parents=True, exist_ok=True)
    return directory / f"{uuid.uuid4().hex}.upload"


class UploadSink:
    """Writes an upload to :func:`new_upload_path` chunk by chunk, refusing (413) one larger
    than ``max_import_bytes`` as soon as it is; :meth:`discard` deletes what was written."""

    def __init__(self, settings: Settings) -> None:
        self.limit = settings.max_import_bytes
        self.path = new_upload_path(settings)
        self.size = 0
        self._handle = self.path.open("wb")

    def write(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.size > self.limit:
            self.discard()
            raise PayloadTooLarge(
                f"the file is larger than {self.limit} bytes (EXPERTLOOP_MAX_IMPORT_BYTES); "
                "split it into smaller files",
                details=[{"field": "file", "message": "too large"}],
            )
        self._handle.write(chunk)

    def close(self) -> Path:
        self._handle.close()
        return self.path

    def discard(self) -> None:
        self._handle.close()
        self.path.unlink(missing_ok=True)


def _job_file(settings: Settings, import_id: int) -> Path:
    return settings.data_dir / "imports" / f"import-{import_id}.upload"


def detect_format(head: bytes, *, filename: str, chosen: str = AUTO) -> ImportFormat:
    """The format of a file from its first bytes (``chosen`` when it is not ``auto``).

    Refuses (422, field ``file``) an empty file and one in UTF-16 or UTF-32, and (field
    ``format``) a file whose format its content does not tell.
    """
    if not head.strip():
        raise InputInvalid.on_field("file", f"{filename} is empty: there is nothing to import")
    for bom, encoding in _BOMS:
        if head.startswith(bom):
            raise InputInvalid.on_field(
                "file", f"{filename} is encoded as {encoding}; save it as UTF-8 and upload it again"
            )
    if chosen != AUTO:
        try:
            return ImportFormat(chosen)
        except ValueError:
            choices = ", ".join([AUTO, *(f.value for f in ImportFormat)])
            raise InputInvalid.on_field(
                "format", f"unknown format {chosen!r}; use one of {choices}"
            ) from None
    start = head.removeprefix(b"\xef\xbb\xbf").lstrip()
    if start.startswith(b"["):
        return ImportFormat.JSON
    if start.startswith(b"{"):
        return ImportFormat.NDJSON
    if filename.lower().endswith((".csv", ".tsv")) or b"," in start.split(b"\n", 1)[0]:
        return ImportFormat.CSV
    raise InputInvalid.on_field(
        "format",
        f"cannot tell the format of {filename} from its content (not a JSON array, JSON "
        "lines or CSV with a header row): choose the format",
    )


def _origin(file_format: ImportFormat) -> SuggestionSource:
    """Who the labels a file brings came from (imported annotators are named after it)."""
    try:
        return SuggestionSource(file_format.value)
    except ValueError:
        return SuggestionSource.IMPORT


def _records(
    path: Path, file_format: ImportFormat, project: Project
) -> Iterator[tuple[int, Any]]:
    if file_format is ImportFormat.NDJSON:
        with path.open("rb") as handle:
            yield from parse_ndjson(handle)
        return
    body = path.read_bytes()
    if file_format is ImportFormat.JSON:
        yield from parse_json_array(body)
    elif file_format is ImportFormat.CSV:
        yield from parse_csv_bytes(body)
    else:
        yield from foreign_records(body, source=file_format.value, project=project)


@dataclass
class _Checked:
    items: list[dict[str, Any]]
    errors: list[dict[str, Any]]


def _check(
    db: Database, project: Project, records: Iterator[tuple[int, Any]], *, check_ids: bool
) -> _Checked:
    """Every problem of the file: its lines and fields, then its external ids that the
    project's items already have."""
    items, lines, errors = validate_items(project, records)
    if not errors and not items:
        errors = [{"line": 0, "field": "", "message": "no items found in the file"}]
    if not errors and check_ids:
        wanted = [i["external_id"] for i in items if i["external_id"] is not None]
        with db.read() as conn:
            taken = import_store.existing_external_ids(conn, project.id, wanted)
        errors = [
            {
                "line": line,
                "field": "external_id",
                "message": f"external_id {items[index]['external_id']!r} already exists in "
                "this project",
            }
            for line, index in lines
            if items[index]["external_id"] in taken
        ]
    errors.sort(key=lambda e: e["line"])
    return _Checked(items, errors)


def _summary(filename: str, errors: list[dict[str, Any]]) -> str:
    first = errors[0]
    where = f"line {first['line']}" if first["line"] else "the file"
    if first["field"]:
        where += f", field {first['field']}"
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{filename}: {where}: {first['message']}{more}; nothing was imported"


# --- starting an import ------------------------------------------------------------------


def import_upload(
    db: Database,
    settings: Settings,
    *,
    actor: User,
    project_id: int,
    path: Path,
    filename: str,
    chosen_format: str = AUTO,
    background: bool | None = None,
) -> ImportView:
    """Import the file saved at ``path`` (this takes it over: it is moved or deleted).

    ``background=None`` imports a small file now and a large one with a job; ``True``
    always with a job. Raises :class:`InputInvalid` for a file that cannot be read at all
    (empty, not UTF-8 by its byte order mark, of no format we can tell); a file with
    invalid lines is recorded as a ``rejected`` import with its errors.
    """
    try:
        project = check_can_import(db, actor=actor, project_id=project_id)
        size = path.stat().st_size
        with path.open("rb") as handle:
            head = handle.read(_SNIFF_BYTES)
        file_format = detect_format(head, filename=filename, chosen=chosen_format)
        records: list[tuple[int, Any]] | None = None
        if background is None:
            background = size > settings.import_job_threshold_bytes
            if not background:
                records = list(_records(path, file_format, project))
                background = len(records) > settings.import_job_threshold_rows
        if background:
            return _start_job(db, settings, actor, project, path, filename, file_format, size)
        assert records is not None
        return _import_now(db, actor, project, records, filename, file_format, size)
    finally:
        path.unlink(missing_ok=True)


def _start_job(
    db: Database,
    settings: Settings,
    actor: User,
    project: Project,
    path: Path,
    filename: str,
    file_format: ImportFormat,
    size: int,
) -> ImportView:
    now = db.clock.now()
    with db.write() as conn:
        import_id = import_store.create_import(
            conn, project_id=project.id, created_by=actor.id, filename=filename,
            format=file_format.value, size_bytes=size, status=ImportStatus.QUEUED, now=now,
        )
    target = _job_file(settings, import_id)
    os.replace(path, target)
    job, _ = queue_job(
        db, kind=IMPORT_KIND, params={"import_id": import_id}, project_id=project.id,
        created_by=actor.id,
    )
    with db.write() as conn:
        import_store.set_job(conn, import_id, job.id)
        row = import_store.load_import(conn, import_id)
    assert row is not None
    return ImportView(row, job)


class _Rollback(Exception):
    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__("external ids taken")
        self.errors = errors


def _import_now(
    db: Database,
    actor: User,
    project: Project,
    records: list[tuple[int, Any]],
    filename: str,
    file_format: ImportFormat,
    size: int,
) -> ImportView:
    checked = _check(db, project, iter(records), check_ids=True)
    now = db.clock.now()
    errors = checked.errors
    if not errors:
        try:
            with db.write() as conn:
                import_id = import_store.create_import(
                    conn, project_id=project.id, created_by=actor.id, filename=filename,
                    format=file_format.value, size_bytes=size, status=ImportStatus.IMPORTING,
                    now=now,
                )
                new_ids: list[int] = []
                taken = item_store.insert_items(
                    conn, project.id, checked.items,
                    target=redundancy.initial_target(conn, project), now=now, ids=new_ids,
                )
                if taken:  # another import stored them since the check: refuse the file
                    raise _Rollback([
                        {"line": 0, "field": "external_id",
                         "message": f"external_id {x!r} already exists in this project"}
                        for x in sorted(taken)
                    ])
                redundancy.audit_new_items(conn, project, new_ids)
                store_labels(conn, project.id, checked.items, origin=_origin(file_format), now=now)
                import_store.finish_import(
                    conn, import_id, status=ImportStatus.SUCCEEDED, now=now,
                    items_total=len(checked.items),
                )
                _audit(conn, actor.id, project.id, import_id, filename, len(checked.items), now)
        except _Rollback as exc:
            errors = exc.errors
    if errors:
        with db.write() as conn:
            import_id = import_store.create_import(
                conn, project_id=project.id, created_by=actor.id, filename=filename,
                format=file_format.value, size_bytes=size, status=ImportStatus.QUEUED, now=now,
            )
            import_store.finish_import(
                conn, import_id, status=ImportStatus.REJECTED, now=now,
                errors=errors[:MAX_STORED_ERRORS], total_errors=len(errors),
                message=_summary(filename, errors),
            )
    with db.read() as conn:
        row = import_store.load_import(conn, import_id)
    assert row is not None
    return ImportView(row, None)


def _audit(
    conn: Any, actor_id: int, project_id: int, import_id: int, filename: str, count: int,
    now: Any,
) -> None:
    audit.record_event(
        conn,
        action="items.imported",
        actor_id=actor_id,
        project_id=project_id,
        now=now,
        details={"count": count, "source": filename, "import_id": import_id},
    )


# --- the job -----------------------------------------------------------------------------


@job_kind(IMPORT_KIND, max_attempts=3)
def run_import_job(context: JobContext) -> dict[str, Any]:
    """Validate the whole file, then store it a batch at a time (resuming after a crash)."""
    db, settings = context.database, context.settings
    import_id = int(context.params["import_id"])
    with db.read() as conn:
        row = import_store.load_import(conn, import_id)
        actor = (
            user_store.user_by_id(conn, row.created_by)
            if row is not None and row.created_by is not None
            else None
        )
    if row is None:
        raise PermanentJobError(f"import {import_id} is gone (its project was deleted)")
    if row.status in (ImportStatus.SUCCEEDED, ImportStatus.REJECTED, ImportStatus.FAILED):
        return {"import_id": import_id, "status": row.status, "items": row.items_done}
    path = _job_file(settings, import_id)
    if actor is None or not actor.is_active:
        return _fail(db, row, path, "the account that started this import is gone or disabled")
    try:
        with db.read() as conn:
            project = load_project(conn, actor=actor, project_id=row.project_id)
        if not can_import_items(actor, is_member=project.is_member):
            raise PermissionDenied("only the project's managers can import items")
    except (NotFound, PermissionDenied) as exc:
        return _fail(db, row, path, f"{actor.username} may no longer import here: {exc}")
    if not path.is_file():
        return _fail(db, row, path, "the uploaded file was removed from the server")
    resuming = row.status == ImportStatus.IMPORTING
    # Nothing is stored until the whole file is valid. A resumed job checks the file again
    # (it is the same file) but not its external ids: its own first batches hold them now.
    checked = _check(
        db, project, _records(path, ImportFormat(row.format), project), check_ids=not resuming
    )
    if checked.errors:
        errors = checked.errors
        message = _summary(row.filename, errors)
        with db.write() as conn:
            import_store.finish_import(
                conn, import_id, status=ImportStatus.REJECTED, now=db.clock.now(),
                errors=errors[:MAX_STORED_ERRORS], total_errors=len(errors), message=message,
            )
        path.unlink(missing_ok=True)
        raise ImportFailed(message)
    items = checked.items
    total = len(items)
    if not resuming:
        with db.write() as conn:
            import_store.start_storing(conn, import_id, items_total=total)
    done = row.items_done if resuming else 0
    context.set_total(total)
    context.done = done
    while done < total:
        context.check()
        batch = items[done : done + BATCH]
        try:
            with db.write() as conn:
                new_ids: list[int] = []
                taken = import_store.store_batch(
                    conn, import_id, project.id, batch, done_before=done,
                    target=redundancy.initial_target(conn, project), now=db.clock.now(),
                    ids=new_ids,
                )
                if taken:
                    raise _Rollback([])
                if taken is not None:
                    redundancy.audit_new_items(conn, project, new_ids)
                    store_labels(
                        conn, project.id, batch, origin=_origin(ImportFormat(row.format)),
                        now=db.clock.now(),
                    )
        except _Rollback:
            return _fail(
                db, row, path,
                f"external ids of this file were stored by another import meanwhile; the "
                f"first {done} of its {total} items were stored",
            )
        if taken is None:  # another run of this job stored it: carry on from there
            with db.read() as conn:
                current = import_store.load_import(conn, import_id)
            assert current is not None
            done = current.items_done
        else:
            done += len(batch)
        context.done = done
    now = db.clock.now()
    with db.write() as conn:
        import_store.finish_import(
            conn, import_id, status=ImportStatus.SUCCEEDED, now=now, items_total=total
        )
        _audit(conn, actor.id, project.id, import_id, row.filename, total, now)
    path.unlink(missing_ok=True)
    return {"import_id": import_id, "status": ImportStatus.SUCCEEDED.value, "items": total}


def _fail(db: Database, row: ImportRow, path: Path, message: str) -> NoReturn:
    with db.write() as conn:
        import_store.finish_import(
            conn, row.id, status=ImportStatus.FAILED, now=db.clock.now(), message=message
        )
    path.unlink(missing_ok=True)
    raise PermanentJobError(message)


# --- looking at imports ------------------------------------------------------------------


def _view(db: Database, actor: User, row: ImportRow) -> ImportView:
    job = None
    finished = row.status in (ImportStatus.SUCCEEDED, ImportStatus.REJECTED, ImportStatus.FAILED)
    if row.job_id is not None and not finished:
        try:
            job = get_job(db, actor=actor, job_id=row.job_id)
        except NotFound:
            job = None
    return ImportView(row, job)


def get_import(db: Database, *, actor: User, project_id: int, import_id: int) -> ImportView:
    """One import of the project, for its managers."""
    check_can_import(db, actor=actor, project_id=project_id)
    with db.read() as conn:
        row = import_store.load_import(conn, import_id)
    if row is None or row.project_id != project_id:
        raise NotFound(f"import {import_id} not found in project {project_id}")
    return _view(db, actor, row)


def list_imports(
    db: Database, *, actor: User, project_id: int, limit: int = 50
) -> list[ImportView]:
    """The project's imports, newest first, for its managers."""
    check_can_import(db, actor=actor, project_id=project_id)
    with db.read() as conn:
        rows = import_store.list_imports(conn, project_id, limit=limit)
    return [_view(db, actor, row) for row in rows]
