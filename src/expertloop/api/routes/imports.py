"""Importing a file of items as a background job, and following it (the project's managers).

``POST /projects/{id}/imports`` takes the file as the request body and answers 202 with the
import and its job at once; ``GET .../imports/{import_id}`` shows its progress and, once
done, how it ended: ``succeeded`` (every item stored), ``rejected`` (nothing stored; the
problems by line and field) or ``failed``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, status
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from expertloop.api.deps import CurrentUser, DatabaseDep, SettingsDep
from expertloop.api.openapi import error_responses
from expertloop.api.schemas import Id, SmallId, UtcDatetime
from expertloop.services import imports

router = APIRouter(tags=["items"])

FormatChoice = Literal["auto", "json", "ndjson", "csv", "label-studio", "argilla"]


class ImportProblem(BaseModel):
    line: int
    field: str
    message: str


class ImportPublic(BaseModel):
    """An import: its file, how far it got, and its problems if it was refused."""

    id: int
    project_id: int
    job_id: int | None
    created_by: int | None
    created_by_name: str | None
    filename: str
    format: str
    size_bytes: int
    status: Literal["queued", "importing", "succeeded", "rejected", "failed"]
    phase: Literal["queued", "validating", "storing", "done"]
    items_total: int | None
    items_done: int
    total_errors: int
    errors: list[ImportProblem]
    message: str | None
    created_at: UtcDatetime
    finished_at: UtcDatetime | None


def import_public(view: imports.ImportView) -> ImportPublic:
    fields: dict[str, Any] = view.as_dict()
    return ImportPublic(**fields)


_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
            "application/json": {"schema": {"type": "array", "items": {"type": "object"}}},
            "application/x-ndjson": {"schema": {"type": "string"}},
            "text/csv": {"schema": {"type": "string"}},
        },
    }
}


@router.post(
    "/projects/{project_id}/imports",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Import a file of items with a background job: all or nothing (managers)",
    responses=error_responses(413),
    openapi_extra=_BODY,
)
async def start_import(
    project_id: SmallId,
    request: Request,
    db: DatabaseDep,
    settings: SettingsDep,
    actor: CurrentUser,
    file_format: Annotated[
        FormatChoice,
        Query(
            alias="format",
            description="auto: a JSON array or JSON lines by content, CSV by a header row",
        ),
    ] = "auto",
    filename: Annotated[str, Query(min_length=1, max_length=255)] = "upload",
) -> ImportPublic:
    # Permission first: nobody but the project's managers makes the server take the body.
    await run_in_threadpool(
        lambda: imports.check_can_import(db, actor=actor, project_id=project_id)
    )
    sink = imports.UploadSink(settings)
    try:
        async for chunk in request.stream():
            sink.write(chunk)
    except BaseException:
        sink.discard()
        raise
    path = sink.close()
    view = await run_in_threadpool(
        lambda: imports.import_upload(
            db, settings, actor=actor, project_id=project_id, path=path, filename=filename,
            chosen_format=file_format, background=True,
        )
    )
    request.app.state.job_runner.wake()
    return import_public(view)


@router.get("/projects/{project_id}/imports", summary="The project's imports, newest first")
def list_imports(
    project_id: SmallId,
    db: DatabaseDep,
    actor: CurrentUser,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> list[ImportPublic]:
    found = imports.list_imports(db, actor=actor, project_id=project_id, limit=limit)
    return [import_public(view) for view in found]


@router.get(
    "/projects/{project_id}/imports/{import_id}",
    summary="An import's progress, and its outcome and problems once done (managers)",
)
def get_import(
    project_id: SmallId, import_id: Id, db: DatabaseDep, actor: CurrentUser
) -> ImportPublic:
    view = imports.get_import(db, actor=actor, project_id=project_id, import_id=import_id)
    return import_public(view)
