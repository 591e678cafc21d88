"""A panel's votes on a constitution's candidate statements, and its opinion groups."""

from __future__ import annotations

from fastapi import APIRouter, Response, status
from pydantic import BaseModel, ConfigDict, Field

from expertloop.api.deps import CurrentUser, DatabaseDep
from expertloop.api.schemas import Id, SmallId, UtcDatetime
from expertloop.domain.constitutions import Statement, Vote
from expertloop.services import constitution_votes

router = APIRouter(tags=["constitutions"])

__all__ = [
    "GroupPublic",
    "StatementIn",
    "StatementPublic",
    "StatementSupportPublic",
    "VoteIn",
    "VotingAnalysisPublic",
    "router",
]


class StatementIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(min_length=1, max_length=constitution_votes.MAX_STATEMENT_CHARS)


class VoteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    vote: Vote


class StatementPublic(BaseModel):
    id: int
    constitution_id: int
    text: str
    created_at: UtcDatetime
    agree: int
    disagree: int
    passes: int
    my_vote: Vote | None = Field(None, description="The caller's vote, if any")

    @classmethod
    def of(cls, s: Statement, mine: Vote | None) -> StatementPublic:
        return cls(
            id=s.id, constitution_id=s.constitution_id, text=s.text, created_at=s.created_at,
            agree=s.agree, disagree=s.disagree, passes=s.passes, my_vote=mine,
        )


class StatementSupportPublic(BaseModel):
    statement_id: int
    text: str
    votes: int
    support: float = Field(description="Agree rate with a Laplace prior: (agree+1)/(votes+2)")
    group_votes: list[int]
    group_support: list[float]
    group_informed_consensus: float | None
    consensus: bool
    contested: bool


class GroupPublic(BaseModel):
    group: int
    size: int
    x: list[float]
    y: list[float]


class VotingAnalysisPublic(BaseModel):
    voters: int
    ungrouped: int = Field(description="Voters with too few votes to be grouped")
    silhouette: float | None
    groups: list[GroupPublic]
    statements: list[StatementSupportPublic]


@router.post("/constitutions/{constitution_id}/statements", status_code=status.HTTP_201_CREATED,
             summary="Put a candidate statement to the panel (managers)")
def add_statement(
    constitution_id: SmallId, body: StatementIn, db: DatabaseDep, actor: CurrentUser
) -> StatementPublic:
    made = constitution_votes.add_statement(
        db, actor=actor, constitution_id=constitution_id, text=body.text
    )
    return StatementPublic.of(made, None)


@router.get("/constitutions/{constitution_id}/statements",
            summary="The candidate statements, with vote counts and the caller's vote")
def list_statements(
    constitution_id: SmallId, db: DatabaseDep, actor: CurrentUser
) -> list[StatementPublic]:
    found = constitution_votes.list_statements(db, actor=actor, constitution_id=constitution_id)
    mine = constitution_votes.my_votes(db, actor=actor, constitution_id=constitution_id)
    return [StatementPublic.of(s, mine.get(s.id)) for s in found]


@router.put("/constitution-statements/{statement_id}/vote",
            status_code=status.HTTP_204_NO_CONTENT,
            summary="Vote agree, disagree or pass on a statement (replaces an earlier vote)")
def vote(statement_id: Id, body: VoteIn, db: DatabaseDep, actor: CurrentUser) -> Response:
    constitution_votes.vote(db, actor=actor, statement_id=statement_id, choice=body.vote)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/constitutions/{constitution_id}/opinion-groups",
            summary="The panel grouped by its votes, and each statement's support (managers)")
def opinion_groups(
    constitution_id: SmallId, db: DatabaseDep, actor: CurrentUser
) -> VotingAnalysisPublic:
    found = constitution_votes.analyse_votes(db, actor=actor, constitution_id=constitution_id)
    return VotingAnalysisPublic(
        voters=found.voters, ungrouped=found.ungrouped, silhouette=found.silhouette,
        groups=[GroupPublic(group=g.group, size=g.size, x=list(g.x), y=list(g.y))
                for g in found.groups],
        statements=[
            StatementSupportPublic(
                statement_id=s.statement.id, text=s.statement.text, votes=s.votes,
                support=s.support, group_votes=list(s.group_votes),
                group_support=list(s.group_support),
                group_informed_consensus=s.group_informed_consensus, consensus=s.consensus,
                contested=s.contested,
            )
            for s in found.statements
        ],
    )
