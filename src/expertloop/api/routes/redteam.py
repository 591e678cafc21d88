"""Red-teaming over HTTP: the conversation with the target model during an assignment, a
campaign's numbers, and its transcripts with labels."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson
from fastapi import APIRouter, Request, Response, status
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from expertloop.api.deps import CurrentUser, DatabaseDep
from expertloop.api.openapi import error_responses
from expertloop.api.routes.jobs import job_public
from expertloop.api.schemas import Id, SmallId
from expertloop.services import redteam, redteam_campaigns, redteam_chat
from expertloop.services.clock import iso_utc

router = APIRouter(tags=["red-teaming"])


@router.get(
    "/projects/{project_id}/redteam/campaign",
    summary="A red-team project's numbers (managers, reviewers)",
    description="Attempts, successes claimed and confirmed by a reviewer, and the success "
    "rate with its 95% interval, per attack category and per target model; the taxonomy's "
    "coverage; groups of near-duplicate attacks. Rejected answers are left out of the rates. "
    "Served from the campaign's snapshot: `computed_at`, `stale` and `answers_behind` say "
    "how current it is, `refresh_job` names the job recomputing it. A small campaign is "
    "recomputed in the request when behind; a large one without a snapshot yet gets `202` "
    "with the job.",
    responses={202: {"description": "No snapshot yet: the job computing it"}},
)
def campaign(
    project_id: SmallId, request: Request, db: DatabaseDep, actor: CurrentUser
) -> Response:
    view = redteam_campaigns.read_campaign(
        db, actor=actor, project_id=project_id,
        inline_max_attempts=redteam_campaigns.INLINE_MAX_ATTEMPTS,
    )
    if view.job is not None:
        request.app.state.job_runner.wake()
    if view.campaign is None:
        assert view.job is not None
        return JSONResponse(
            job_public(view.job).model_dump(mode="json"), status_code=status.HTTP_202_ACCEPTED
        )
    body = {
        **view.campaign.to_dict(),
        "computed_at": None if view.computed_at is None else iso_utc(view.computed_at),
        "stale": view.stale,
        "answers_behind": view.answers_behind,
        "refresh_job": None if view.job is None else view.job.id,
    }
    return JSONResponse(body)


@router.get(
    "/projects/{project_id}/redteam/transcripts",
    summary="Every attempt as a chat transcript with its labels, as NDJSON (managers, reviewers)",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/x-ndjson": {}}}},
)
def transcripts(project_id: SmallId, db: DatabaseDep, actor: CurrentUser) -> StreamingResponse:
    rows = redteam.iter_transcripts(db, actor=actor, project_id=project_id)

    def lines() -> Iterator[bytes]:
        for row in rows:
            yield redteam.transcript_row_json(row)

    return StreamingResponse(lines(), media_type="application/x-ndjson")


@router.get(
    "/assignments/{assignment_id}/turns",
    summary="The conversation held so far on your red-team assignment",
)
def turns(assignment_id: Id, db: DatabaseDep, actor: CurrentUser) -> dict[str, Any]:
    found = redteam.conversation(db, actor=actor, assignment_id=assignment_id)
    return {"assignment_id": assignment_id, "turns": [redteam.turn_dict(t) for t in found]}


class TurnSend(BaseModel):
    model_config = ConfigDict(extra="forbid")

    index: int = Field(ge=0, le=10_000, description="This message's turn index: 0, 2, 4, ...")
    content: str = Field(max_length=redteam_chat.MAX_MESSAGE_CHARS)


@router.post(
    "/assignments/{assignment_id}/turns",
    summary="Send your message to the target model; both turns are stored (idempotent by index)",
    description="201 with the conversation after the model's reply; 200 for a retry of a "
    "stored message (the stored reply, without calling the model again). 409 "
    "`already_exists` when another message holds this index, `reply_pending` while its "
    "reply is being fetched; the provider's errors (502, 503, 504) leave the message unsent.",
    status_code=201,
    responses={200: {"description": "A replay: the conversation as stored"},
               **error_responses(409)},
)
def send_turn(
    assignment_id: Id, body: TurnSend, db: DatabaseDep, actor: CurrentUser
) -> Response:
    sent = redteam_chat.send_turn(
        db, actor=actor, assignment_id=assignment_id, index=body.index, content=body.content
    )
    payload = {"assignment_id": assignment_id, "turns": [redteam.turn_dict(t) for t in sent.turns]}
    return Response(
        orjson.dumps(payload), status_code=201 if sent.created else 200,
        media_type="application/json",
    )
