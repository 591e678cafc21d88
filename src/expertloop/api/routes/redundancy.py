"""Adaptive redundancy of a project: read, set, turn off (see ``docs/quality.md``)."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from expertloop.api.deps import CurrentUser, DatabaseDep
from expertloop.api.openapi import error_responses
from expertloop.api.redundancy_schemas import RedundancyPublic, RedundancyPut
from expertloop.api.schemas import SmallId
from expertloop.services import redundancy

router = APIRouter(tags=["projects"])


@router.get(
    "/projects/{project_id}/redundancy",
    summary="A project's adaptive redundancy (any member)",
    responses=error_responses(404),
)
def get_redundancy(project_id: SmallId, db: DatabaseDep, actor: CurrentUser) -> RedundancyPublic:
    return RedundancyPublic.of(redundancy.get_redundancy(db, actor=actor, project_id=project_id))


@router.put(
    "/projects/{project_id}/redundancy",
    summary="Turn adaptive redundancy on or change it (manager); existing items follow in "
    "the background",
    responses=error_responses(404, 422),
)
def put_redundancy(
    project_id: SmallId, body: RedundancyPut, db: DatabaseDep, actor: CurrentUser
) -> RedundancyPublic:
    return RedundancyPublic.of(
        redundancy.set_redundancy(db, actor=actor, project_id=project_id, **body.model_dump())
    )


@router.delete(
    "/projects/{project_id}/redundancy",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Back to answers_per_item on every item (manager)",
    responses=error_responses(404),
)
def delete_redundancy(project_id: SmallId, db: DatabaseDep, actor: CurrentUser) -> Response:
    redundancy.remove_redundancy(db, actor=actor, project_id=project_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
