"""The console's import page: ``/manage/projects/{id}/import``.

A manager uploads a file (JSON, JSON lines, CSV, Label Studio tasks, Argilla records); the
whole file is checked before anything is stored, and the page lists its problems by line
and field. A small file is imported within the request; a large one by a background job
whose progress the page follows (``static/console_jobs.js`` polls
``GET /api/v1/projects/{id}/imports/{import_id}``). See ``services/imports.py``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI, Request, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from expertloop.api.deps import DatabaseDep
from expertloop.api.schemas import Id, SmallId
from expertloop.domain import ImportFormat, Project, User
from expertloop.errors import ExpertloopError, InputInvalid, NotFound, PayloadTooLarge
from expertloop.services import imports
from expertloop.services.runtime import Runtime
from expertloop.settings import Settings
from expertloop.store import Database
from expertloop.tasks import get_task_type
from expertloop.web.console_access import Refused
from expertloop.web.ops_pages import (
    console_context,
    human_bytes,
    human_time,
    managed_page,
    managed_post,
)
from expertloop.web.pages import check_form_csrf, error_page, redirect
from expertloop.web.rendering import render_page

__all__ = ["install", "router"]

router = APIRouter(include_in_schema=False)

FORMAT_CHOICES = (
    (imports.AUTO, "JSON or JSON lines (told apart by content), or CSV"),
    (ImportFormat.JSON.value, "JSON array"),
    (ImportFormat.NDJSON.value, "JSON lines (one item per line)"),
    (ImportFormat.CSV.value, "CSV with a header row"),
    (ImportFormat.LABEL_STUDIO.value, "Label Studio tasks (JSON export)"),
    (ImportFormat.ARGILLA.value, "Argilla records"),
)
# The multipart envelope around the file (boundaries, headers, the CSRF and format fields).
FORM_OVERHEAD_BYTES = 64 * 1024


def _settings(request: Request) -> Settings:
    return request.app.state.settings


def _example_line(project: Project) -> str:
    example = get_task_type(project.task_type).example
    item = dict(example.items[0]) if example.items else {"payload": {}}
    return json.dumps(item, ensure_ascii=False)


def _import_view(view: imports.ImportView) -> dict[str, Any]:
    data = view.as_dict()
    data["when"] = human_time(view.row.created_at)
    data["size"] = human_bytes(view.row.size_bytes)
    data["more_errors"] = max(view.row.total_errors - len(view.row.errors), 0)
    return data


def _page(
    request: Request,
    db: Database,
    user: User,
    project: Project,
    *,
    current_id: int | None = None,
    error: str | None = None,
    chosen: str = imports.AUTO,
    status_code: int = 200,
) -> Response:
    settings = _settings(request)
    history = imports.list_imports(db, actor=user, project_id=project.id, limit=20)
    current = None
    if current_id is not None:
        current = _import_view(
            imports.get_import(db, actor=user, project_id=project.id, import_id=current_id)
        )
    return render_page(
        request,
        "console/import.html",
        {
            **console_context(request, user, project, "import"),
            "formats": FORMAT_CHOICES,
            "chosen": chosen,
            "current": current,
            "history": [_import_view(v) for v in history],
            "error": error,
            "max_bytes": human_bytes(settings.max_import_bytes),
            "job_bytes": human_bytes(settings.import_job_threshold_bytes),
            "job_rows": settings.import_job_threshold_rows,
            "example": _example_line(project),
            "max_errors": imports.MAX_STORED_ERRORS,
        },
        status_code=status_code,
    )


@router.get("/manage/projects/{project_id}/import")
def import_page(
    project_id: SmallId, request: Request, db: DatabaseDep, show: Id | None = None
) -> Response:
    """The upload form, the import ``show`` (its progress or outcome), past imports."""

    def render(user: User, project: Project) -> Response:
        return _page(request, db, user, project, current_id=show)

    return managed_page(request, db, project_id, render)


async def _limited_form(request: Request, limit: int) -> Any:
    """The form, refusing (413) a body over ``limit`` bytes as it arrives."""
    received = 0

    async def receive() -> Any:
        nonlocal received
        message = await request.receive()
        if message.get("type") == "http.request":
            received += len(message.get("body", b""))
            if received > limit:
                raise PayloadTooLarge(_too_large(limit - FORM_OVERHEAD_BYTES))
        return message

    limited = Request(request.scope, receive)
    return await limited.form(max_files=1, max_fields=8)


def _too_large(limit: int) -> str:
    return (
        f"The file is larger than {human_bytes(limit)}, the most one import takes "
        "(EXPERTLOOP_MAX_IMPORT_BYTES): split it into smaller files."
    )


@router.post("/manage/projects/{project_id}/import")
async def upload(project_id: SmallId, request: Request, db: DatabaseDep) -> Response:
    """Take the upload (managers only, checked before the body is read), then import it
    now or start its job, and show the import."""
    try:
        user, project = await managed_post(request, db, project_id)
    except Refused as refused:
        return refused.response
    settings = _settings(request)
    limit = settings.max_import_bytes + FORM_OVERHEAD_BYTES
    chosen = imports.AUTO
    try:
        declared = int(request.headers.get("content-length") or 0)
        if declared > limit:
            raise PayloadTooLarge(_too_large(settings.max_import_bytes))
        form = await _limited_form(request, limit)
        try:
            check_form_csrf(request, form)
            chosen = str(form.get("format") or imports.AUTO)
            path, filename = await _save_upload(settings, form.get("file"))
        finally:
            await form.close()
        view = await run_in_threadpool(
            lambda: imports.import_upload(
                db, settings, actor=user, project_id=project.id, path=path,
                filename=filename, chosen_format=chosen,
            )
        )
    except NotFound as exc:
        return error_page(request, user, exc)
    except ExpertloopError as exc:
        if exc.status == 403:
            return error_page(request, user, exc)
        failure = exc
        return await run_in_threadpool(
            lambda: _page(
                request, db, user, project, error=failure.message, chosen=chosen,
                status_code=failure.status,
            )
        )
    if view.job is not None:
        request.app.state.job_runner.wake()
    return redirect(f"/manage/projects/{project.id}/import?show={view.row.id}")


async def _save_upload(settings: Settings, upload_file: Any) -> tuple[Path, str]:
    """The form's file, copied under the data directory (at most ``max_import_bytes``)."""
    if not isinstance(upload_file, UploadFile) or not upload_file.filename:
        raise InputInvalid.on_field("file", "Choose a file to upload.")
    sink = imports.UploadSink(settings)
    try:
        while chunk := await upload_file.read(1 << 20):
            sink.write(chunk)
    except BaseException:
        sink.discard()
        raise
    return sink.close(), upload_file.filename


def install(app: FastAPI, _runtime: Runtime) -> None:
    app.include_router(router)
