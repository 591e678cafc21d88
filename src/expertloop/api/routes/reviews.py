"""The review queue: managers choose answers for review, reviewers decide on them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from expertloop.api.deps import CurrentUser, DatabaseDep
from expertloop.api.openapi import error_responses
from expertloop.api.schemas import (
    MAX_ID,
    Id,
    ReviewDecision,
    ReviewPublic,
    ReviewQueued,
    ReviewRequest,
    ReviewSummaryPublic,
    SmallId,
    WorkerReviewCounts,
)
from expertloop.domain import ReviewStatus
from expertloop.services import reviews

router = APIRouter(tags=["reviews"])


@router.post(
    "/projects/{project_id}/reviews",
    status_code=status.HTTP_201_CREATED,
    summary="Queue answers for review: a random sample, or chosen answers (managers)",
)
def request_reviews(
    project_id: SmallId, body: ReviewRequest, db: DatabaseDep, actor: CurrentUser
) -> ReviewQueued:
    queued = reviews.request_reviews(
        db,
        actor=actor,
        project_id=project_id,
        fraction=body.fraction,
        count=body.count,
        worker_id=body.worker_id,
        answer_ids=body.answer_ids,
    )
    return ReviewQueued(queued=queued)


@router.get("/projects/{project_id}/reviews", summary="Reviews, in id order (reviewers, managers)")
def list_reviews(
    project_id: SmallId,
    db: DatabaseDep,
    actor: CurrentUser,
    review_status: Annotated[
        ReviewStatus | None, Query(alias="status")
    ] = None,
    after: Annotated[
        int, Query(ge=0, le=MAX_ID, description="The last review id of the previous page")
    ] = 0,
    limit: Annotated[int, Query(ge=1, le=reviews.MAX_LISTED)] = 100,
) -> list[ReviewPublic]:
    found = reviews.list_reviews(
        db, actor=actor, project_id=project_id, status=review_status, after=after, limit=limit
    )
    return [ReviewPublic.of(r) for r in found]


@router.get(
    "/projects/{project_id}/reviews/summary",
    summary="Reviews by outcome, overall and per worker (managers)",
)
def review_summary(project_id: SmallId, db: DatabaseDep, actor: CurrentUser) -> ReviewSummaryPublic:
    summary = reviews.review_summary(db, actor=actor, project_id=project_id)
    return ReviewSummaryPublic(
        counts=summary.counts, workers=[WorkerReviewCounts(**w) for w in summary.workers]
    )


@router.post(
    "/projects/{project_id}/reviews/next",
    summary="Hold the next pending review for the calling reviewer",
    response_model=ReviewPublic,
    responses={204: {"description": "The queue holds nothing for this reviewer"}},
)
def next_review(
    project_id: SmallId, db: DatabaseDep, actor: CurrentUser
) -> Response | ReviewPublic:
    review = reviews.next_review(db, actor=actor, project_id=project_id)
    if review is None:
        return Response(status_code=status.HTTP_204_NO_CONTENT)
    return ReviewPublic.of(review)


@router.get("/reviews/{review_id}", summary="One review (reviewers, managers)")
def get_review(review_id: Id, db: DatabaseDep, actor: CurrentUser) -> ReviewPublic:
    return ReviewPublic.of(reviews.get_review(db, actor=actor, review_id=review_id))


@router.post(
    "/reviews/{review_id}/decision",
    summary="Accept, reject (with a reason) or fix the answer under review",
    responses=error_responses(409),
)
def decide_review(
    review_id: Id, body: ReviewDecision, db: DatabaseDep, actor: CurrentUser
) -> ReviewPublic:
    review = reviews.decide_review(db, actor=actor, review_id=review_id, **body.model_dump())
    return ReviewPublic.of(review)
