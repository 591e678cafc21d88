"""Red-teaming over HTTP: a campaign's numbers and its transcripts with labels. The
conversation with the target model is in ``api/routes/redteam_turns.py``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter
from fastapi.responses import StreamingResponse

from expertloop.api.deps import CurrentUser, DatabaseDep
from expertloop.api.schemas import Id, SmallId
from expertloop.services import redteam

router = APIRouter(tags=["red-teaming"])


@router.get(
    "/projects/{project_id}/redteam/campaign",
    summary="A red-team project's numbers (managers, reviewers)",
    description="Attempts, successes claimed and confirmed by a reviewer, and the success "
    "rate with its 95% interval, per attack category and per target model; the taxonomy's "
    "coverage; groups of near-duplicate attacks. Rejected answers are left out of the rates.",
)
def campaign(project_id: SmallId, db: DatabaseDep, actor: CurrentUser) -> dict[str, Any]:
    return redteam.campaign(db, actor=actor, project_id=project_id).to_dict()


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
