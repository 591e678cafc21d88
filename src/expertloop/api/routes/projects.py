from __future__ import annotations

from collections.abc import Iterator

from fastapi import APIRouter, Request, status
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from expertloop.api.deps import CurrentUser, DatabaseDep, RuntimeDep, SettingsDep
from expertloop.api.openapi import error_responses
from expertloop.api.schemas import (
    GuidelinesHistory,
    GuidelinesVersionPublic,
    ImportResult,
    MemberPublic,
    MembersAdd,
    ProgressPublic,
    ProjectCreate,
    ProjectPublic,
    ProjectUpdate,
    SmallId,
)
from expertloop.api.workforce_schemas import WORKFORCE_FIELDS
from expertloop.domain import SuggestionSource
from expertloop.errors import InputInvalid, PayloadTooLarge
from expertloop.services import answers, items, project_setup, projects
from expertloop.services.interchange import SOURCES, foreign_records
from expertloop.services.item_sources import records_from_bytes
from expertloop.services.items import ItemIn

router = APIRouter(tags=["projects"])


@router.post(
    "/projects",
    status_code=status.HTTP_201_CREATED,
    summary="Create a project (manager)",
    responses=error_responses(422),
)
def create_project(body: ProjectCreate, db: DatabaseDep, actor: CurrentUser) -> ProjectPublic:
    fields = body.model_dump(exclude={"rules", "redundancy"})
    given = {name: fields.pop(name) for name in WORKFORCE_FIELDS}
    project = project_setup.create_configured_project(
        db,
        actor=actor,
        fields=fields,
        workforce={name: v for name, v in given.items() if name in body.model_fields_set},
        adaptive_redundancy=None if body.redundancy is None else body.redundancy.model_dump(),
        rules=body.rules,
    )
    return ProjectPublic.of(project)


@router.get("/projects", summary="Projects the caller belongs to (admins: all)")
def list_projects(db: DatabaseDep, actor: CurrentUser) -> list[ProjectPublic]:
    return [ProjectPublic.of(p) for p in projects.list_projects(db, actor=actor)]


@router.get("/projects/{project_id}", summary="One project")
def get_project(project_id: SmallId, db: DatabaseDep, actor: CurrentUser) -> ProjectPublic:
    return ProjectPublic.of(projects.get_project(db, actor=actor, project_id=project_id))


@router.patch(
    "/projects/{project_id}",
    summary="Change a project's settings (manager); new guidelines become a new version",
)
def update_project(
    project_id: SmallId,
    body: ProjectUpdate,
    db: DatabaseDep,
    runtime: RuntimeDep,
    actor: CurrentUser,
) -> ProjectPublic:
    project = projects.update_project(
        db,
        actor=actor,
        project_id=project_id,
        changes=body.changes(),
        claimable=runtime.claimable,
    )
    return ProjectPublic.of(project)


@router.post(
    "/projects/{project_id}/archive",
    summary="Archive a project (manager): it hands out no more items, and keeps its data",
)
def archive_project(
    project_id: SmallId, db: DatabaseDep, runtime: RuntimeDep, actor: CurrentUser
) -> ProjectPublic:
    project = projects.archive_project(
        db, actor=actor, project_id=project_id, claimable=runtime.claimable
    )
    return ProjectPublic.of(project)


@router.post(
    "/projects/{project_id}/unarchive",
    summary="Unarchive a project (manager): it hands out items again",
)
def unarchive_project(
    project_id: SmallId, db: DatabaseDep, runtime: RuntimeDep, actor: CurrentUser
) -> ProjectPublic:
    project = projects.unarchive_project(
        db, actor=actor, project_id=project_id, claimable=runtime.claimable
    )
    return ProjectPublic.of(project)


@router.get(
    "/projects/{project_id}/guidelines",
    summary="Every version of the project's guidelines, newest first",
)
def guidelines_history(
    project_id: SmallId, db: DatabaseDep, actor: CurrentUser
) -> GuidelinesHistory:
    versions = projects.guidelines_versions(db, actor=actor, project_id=project_id)
    return GuidelinesHistory(
        project_id=project_id,
        current_version=versions[0].version if versions else 1,
        versions=[GuidelinesVersionPublic.of(v) for v in versions],
    )


@router.get("/projects/{project_id}/members", summary="The project's members (manager)")
def list_members(project_id: SmallId, db: DatabaseDep, actor: CurrentUser) -> list[MemberPublic]:
    return [
        MemberPublic(
            user_id=m.user_id,
            username=m.username,
            role=m.role,
            is_active=m.is_active,
            added_at=m.added_at,
        )
        for m in projects.list_members(db, actor=actor, project_id=project_id)
    ]


@router.post("/projects/{project_id}/members", summary="Add users to a project (manager)")
def add_members(
    project_id: SmallId, body: MembersAdd, db: DatabaseDep, actor: CurrentUser
) -> dict[str, list[int]]:
    added = projects.add_members(
        db, actor=actor, project_id=project_id, user_ids=body.user_ids, usernames=body.usernames
    )
    return {"added": added}


_IMPORT_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {"type": "array", "items": ItemIn.model_json_schema()},
                "example": [
                    {
                        "external_id": "q-1",
                        "payload": {"prompt": "2+2?", "response_a": "4", "response_b": "5"},
                        "gold": {"choice": "A"},
                        "priority": 0,
                    }
                ],
            },
            "application/x-ndjson": {"schema": {"type": "string"}},
            "text/csv": {"schema": {"type": "string"}},
        },
    }
}


@router.post(
    "/projects/{project_id}/items",
    status_code=status.HTTP_201_CREATED,
    summary="Import items: a JSON array or NDJSON, all or nothing",
    responses=error_responses(413, 415),
    openapi_extra=_IMPORT_BODY,
)
async def import_items(
    project_id: SmallId,
    request: Request,
    db: DatabaseDep,
    settings: SettingsDep,
    actor: CurrentUser,
    source: str | None = None,
) -> ImportResult:
    if source is not None and source not in SOURCES:
        raise InputInvalid.on_field(
            "source", f"unknown source {source!r}; use one of {', '.join(SOURCES)}"
        )
    # Permission first: nobody but the project's managers makes the server take the body.
    project = await run_in_threadpool(
        lambda: items.check_can_import(db, actor=actor, project_id=project_id)
    )
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > settings.max_import_bytes:
            raise PayloadTooLarge(
                f"request body exceeds {settings.max_import_bytes} bytes "
                "(EXPERTLOOP_MAX_IMPORT_BYTES); split the import"
            )
    if source is not None:  # another tool's export: Label Studio tasks, Argilla records
        records = foreign_records(bytes(body), source=source, project=project)
    else:
        records = records_from_bytes(bytes(body), content_type=request.headers.get("content-type"))
    origin = SuggestionSource(source) if source is not None else SuggestionSource.IMPORT
    count = await run_in_threadpool(
        lambda: items.import_items(
            db, actor=actor, project_id=project_id, records=records, origin=origin
        )
    )
    return ImportResult(count=count)


@router.get("/projects/{project_id}/progress", summary="Counts of items, answers and leases")
def progress(project_id: SmallId, db: DatabaseDep, actor: CurrentUser) -> ProgressPublic:
    counts = projects.project_progress(db, actor=actor, project_id=project_id)
    return ProgressPublic(
        items=counts.items,
        answers=counts.answers,
        items_complete=counts.items_complete,
        active_leases=counts.active_leases,
    )


@router.get(
    "/projects/{project_id}/answers",
    summary="Every answer of the project as NDJSON (managers, reviewers)",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/x-ndjson": {}}}},
)
def export_answers(project_id: SmallId, db: DatabaseDep, actor: CurrentUser) -> StreamingResponse:
    rows = answers.iter_answers(db, actor=actor, project_id=project_id)

    def lines() -> Iterator[bytes]:
        for row in rows:
            yield answers.answer_row_json(row)

    return StreamingResponse(lines(), media_type="application/x-ndjson")
