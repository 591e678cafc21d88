"""The caller's own work: their answers with review outcomes and fixes, and their numbers."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel

from expertloop.api.deps import CurrentUser, DatabaseDep
from expertloop.api.schemas import MAX_ID, SmallId, UtcDatetime
from expertloop.services import my_work
from expertloop.services.my_work import MyAnswer, MyStats

router = APIRouter(tags=["my work"])


class ChangePublic(BaseModel):
    field: str
    before: Any
    after: Any


class MyAnswerPublic(BaseModel):
    answer_id: int
    item_id: int
    external_id: str | None
    summary: str
    answer: dict[str, Any]
    duration_ms: int
    created_at: UtcDatetime
    review: str | None
    review_comment: str
    fixed_answer: dict[str, Any] | None
    changes: list[ChangePublic]
    reviewed_at: UtcDatetime | None

    @classmethod
    def of(cls, a: MyAnswer) -> MyAnswerPublic:
        return cls(
            answer_id=a.id,
            item_id=a.item_id,
            external_id=a.external_id,
            summary=a.summary,
            answer=a.answer,
            duration_ms=a.duration_ms,
            created_at=a.created_at,
            review=a.review,
            review_comment=a.review_comment,
            fixed_answer=a.fixed_answer,
            changes=[
                ChangePublic(field=c.field, before=c.before, after=c.after) for c in a.changes
            ],
            reviewed_at=a.reviewed_at,
        )


class AgreementPublic(BaseModel):
    compared: int
    agreed: int
    share: float
    computed_at: UtcDatetime


class GoldPublic(BaseModel):
    answers: int
    correct: int
    accuracy: float
    lower: float
    upper: float


class MyStatsPublic(BaseModel):
    project_id: int
    answers: int
    reviews: dict[str, int]
    agreement: AgreementPublic | None
    gold: GoldPublic | None
    window: int

    @classmethod
    def of(cls, s: MyStats) -> MyStatsPublic:
        return cls(
            project_id=s.project_id,
            answers=s.answers,
            reviews=s.reviews,
            agreement=None
            if s.agreement is None
            else AgreementPublic(
                compared=s.agreement.compared,
                agreed=s.agreement.agreed,
                share=s.agreement.share,
                computed_at=s.agreement.computed_at,
            ),
            gold=None
            if s.gold is None
            else GoldPublic(
                answers=s.gold.answers,
                correct=s.gold.correct,
                accuracy=s.gold.accuracy,
                lower=s.gold.lower,
                upper=s.gold.upper,
            ),
            window=s.window,
        )


@router.get("/me/answers", summary="Your answers in a project, newest first, with reviews")
def my_answers(
    db: DatabaseDep,
    actor: CurrentUser,
    project_id: Annotated[SmallId, Query()],
    before: Annotated[
        int | None,
        Query(ge=1, le=MAX_ID, description="The last answer id of the previous page"),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=my_work.MAX_PAGE)] = 25,
) -> list[MyAnswerPublic]:
    rows = my_work.my_answers(
        db, actor=actor, project_id=project_id, before_id=before, limit=limit
    )
    return [MyAnswerPublic.of(row) for row in rows]


@router.get(
    "/me/stats",
    summary="Your numbers in a project: answers, review outcomes, agreement, gold accuracy",
)
def my_stats(
    db: DatabaseDep, actor: CurrentUser, project_id: Annotated[SmallId, Query()]
) -> MyStatsPublic:
    return MyStatsPublic.of(my_work.my_stats(db, actor=actor, project_id=project_id))
