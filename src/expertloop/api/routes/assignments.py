"""The annotator loop over HTTP. Responses are written with orjson: this is the hot path."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Header, Response, status

from expertloop.api.deps import CurrentUser, DatabaseDep
from expertloop.api.schemas import AnswerPublic, AnswerSubmit, AssignmentPublic, iso_utc
from expertloop.errors import InputInvalid
from expertloop.services import assignments

router = APIRouter(tags=["assignments"])


def _json(body: dict[str, Any], status_code: int) -> Response:
    return Response(orjson.dumps(body), status_code=status_code, media_type="application/json")


@router.post(
    "/projects/{project_id}/assignments/next",
    summary="Lease the next item to the calling worker",
    response_model=AssignmentPublic,
    responses={204: {"description": "Nothing is left for this worker"}},
)
def next_assignment(project_id: int, db: DatabaseDep, actor: CurrentUser) -> Response:
    assignment = assignments.next_assignment(db, actor=actor, project_id=project_id)
    if assignment is None:
        return Response(status_code=status.HTTP_204_NO_CONTENT)
    return _json(
        {
            "assignment_id": assignment.id,
            "project_id": assignment.project_id,
            "task_type": assignment.task_type,
            "item": {"id": assignment.item.id, "payload": assignment.item.payload},
            "expires_at": iso_utc(assignment.expires_at),
        },
        status.HTTP_200_OK,
    )


@router.post(
    "/assignments/{assignment_id}/answer",
    summary="Submit the answer to an assignment (idempotent with Idempotency-Key)",
    response_model=AnswerPublic,
    status_code=status.HTTP_201_CREATED,
    responses={200: {"description": "A replay: the answer stored by an earlier request"}},
)
def submit_answer(
    assignment_id: int,
    body: AnswerSubmit,
    db: DatabaseDep,
    actor: CurrentUser,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> Response:
    if idempotency_key is not None and not 1 <= len(idempotency_key) <= 200:
        raise InputInvalid("Idempotency-Key must be 1 to 200 characters")
    result = assignments.submit_answer(
        db,
        actor=actor,
        assignment_id=assignment_id,
        answer=body.answer,
        idempotency_key=idempotency_key,
    )
    return _json(
        {
            "answer_id": result.answer_id,
            "assignment_id": result.assignment_id,
            "item_id": result.item_id,
            "answer": result.answer,
            "created_at": iso_utc(result.created_at),
        },
        status.HTTP_201_CREATED if result.created else status.HTTP_200_OK,
    )


@router.post(
    "/assignments/{assignment_id}/release",
    summary="Give the item back (skip); it will not be offered to you again",
    status_code=status.HTTP_204_NO_CONTENT,
)
def release(assignment_id: int, db: DatabaseDep, actor: CurrentUser) -> Response:
    assignments.release_assignment(db, actor=actor, assignment_id=assignment_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
