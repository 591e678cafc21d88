"""The annotator loop over HTTP. Requests with a bearer token are served by
``api/hot_path.py`` before they reach these routes; these serve the rest (browser sessions)
with the same functions, and document the endpoints."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Request, Response, status
from pydantic import BaseModel

from expertloop.api.deps import CurrentUser, DatabaseDep
from expertloop.api.hot_path import MAX_ANSWER_BYTES, answer_response, next_response
from expertloop.api.openapi import error_responses
from expertloop.api.schemas import (
    AnswerPublic,
    AnswerSubmit,
    AssignmentPublic,
    Id,
    SmallId,
    UtcDatetime,
)
from expertloop.errors import PayloadTooLarge
from expertloop.services import assignments

router = APIRouter(tags=["assignments"])


@router.post(
    "/projects/{project_id}/assignments/next",
    summary="Lease the next item to the calling worker",
    description="204 when nothing is left for the worker; 403 with code `worker_paused` "
    "and the reason (with its numbers) when a worker rule paused them in this project.",
    response_model=AssignmentPublic,
    responses={204: {"description": "Nothing is left for this worker"}},
)
async def next_assignment(
    project_id: SmallId, request: Request, db: DatabaseDep, actor: CurrentUser
) -> Response:
    claimable = request.app.state.claimable_projects
    status_code, body = await next_response(db, actor, project_id, claimable)
    return _response(status_code, body)


@router.post(
    "/assignments/{assignment_id}/answer",
    summary="Submit the answer to an assignment (idempotent with Idempotency-Key)",
    response_model=AnswerPublic,
    status_code=status.HTTP_201_CREATED,
    responses={
        200: {"description": "A replay: the answer stored by an earlier request"},
        **error_responses(409, 413),
    },
)
async def submit_answer(
    assignment_id: Id,
    body: AnswerSubmit,
    db: DatabaseDep,
    actor: CurrentUser,
    request: Request,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> Response:
    if int(request.headers.get("content-length") or 0) > MAX_ANSWER_BYTES:
        raise PayloadTooLarge(f"an answer may be at most {MAX_ANSWER_BYTES} bytes")
    status_code, content = await answer_response(
        db, actor, assignment_id, body.answer, idempotency_key, body.telemetry
    )
    return _response(status_code, content)


@router.post(
    "/assignments/{assignment_id}/release",
    summary="Give the item back (skip); it will not be offered to you again",
    responses=error_responses(409),
    status_code=status.HTTP_204_NO_CONTENT,
)
def release(assignment_id: Id, db: DatabaseDep, actor: CurrentUser) -> Response:
    assignments.release_assignment(db, actor=actor, assignment_id=assignment_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


class LeaseExtended(BaseModel):
    assignment_id: int
    expires_at: UtcDatetime
    extensions: int
    max_extensions: int


@router.post(
    "/assignments/{assignment_id}/extend",
    summary="Extend your live lease by the project's lease time, from now (up to its limit)",
    responses=error_responses(409),
)
def extend(assignment_id: Id, db: DatabaseDep, actor: CurrentUser) -> LeaseExtended:
    done = assignments.extend_assignment(db, actor=actor, assignment_id=assignment_id)
    return LeaseExtended(
        assignment_id=done.assignment_id,
        expires_at=done.expires_at,
        extensions=done.extensions,
        max_extensions=done.max_extensions,
    )


def _response(status_code: int, body: bytes) -> Response:
    if status_code == status.HTTP_204_NO_CONTENT:
        return Response(status_code=status_code)
    return Response(body, status_code=status_code, media_type="application/json")
