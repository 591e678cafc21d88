"""The experts' constitution pages (every signed-in account):

- ``/constitutions``: every constitution;
- ``/constitutions/{id}``: the principles (the draft, which proposals change, and the latest
  version), a form to propose a change with a reason, and the statements to vote on;
- ``/constitutions/{id}/proposals``: the proposals; reviewers and managers accept or
  reject the open ones.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, FastAPI, Query, Request, Response

from expertloop.api.deps import DatabaseDep
from expertloop.api.schemas import Id, SmallId
from expertloop.domain import User
from expertloop.domain.constitutions import (
    ProposalKind,
    ProposalStatus,
    Vote,
    can_decide_proposals,
    can_manage_constitutions,
)
from expertloop.errors import ExpertloopError, InputInvalid
from expertloop.services import constitution_votes, constitutions
from expertloop.services.runtime import Runtime
from expertloop.web.console_projects import Refused
from expertloop.web.constitutions import form_lines, post_form
from expertloop.web.ops_pages import human_time
from expertloop.web.pages import error_page, page_context, redirect_to_login
from expertloop.web.rendering import render_page
from expertloop.web.sessions import session_user

__all__ = ["install", "router"]

router = APIRouter(include_in_schema=False)


def install(app: FastAPI, _runtime: Runtime) -> None:
    app.include_router(router)


def _signed_in(request: Request) -> User:
    user = session_user(request)
    if user is None:
        raise Refused(redirect_to_login(request))
    return user


def _page(request: Request, template: str, build: Any) -> Response:
    try:
        user = _signed_in(request)
    except Refused as refused:
        return refused.response
    try:
        values = build(user)
    except ExpertloopError as exc:
        return error_page(request, user, exc)
    return render_page(
        request, template,
        {**page_context(request, user), "human_time": human_time,
         "can_manage": can_manage_constitutions(user), **values},
    )


@router.get("/constitutions")
def constitutions_list(request: Request, db: DatabaseDep) -> Response:
    return _page(request, "constitutions/list.html", lambda user: {
        "constitutions": constitutions.list_constitutions(db, actor=user)
    })


@router.get("/constitutions/{constitution_id}")
def constitution_page(
    constitution_id: SmallId, request: Request, db: DatabaseDep,
    notice: Annotated[str, Query(max_length=200)] = "",
) -> Response:
    def build(user: User) -> dict[str, Any]:
        found = constitutions.get_constitution(db, actor=user, constitution_id=constitution_id)
        return {
            "constitution": found,
            "principles": constitutions.draft(db, actor=user, constitution_id=constitution_id),
            "statements": constitution_votes.list_statements(
                db, actor=user, constitution_id=constitution_id
            ),
            "mine": constitution_votes.my_votes(
                db, actor=user, constitution_id=constitution_id
            ),
            "votes": [v.value for v in Vote],
            "kinds": [k.value for k in ProposalKind],
            "notice": notice.replace("\x00", ""),
        }

    return _page(request, "constitutions/constitution.html", build)


@router.post("/constitutions/{constitution_id}/proposals")
async def propose(constitution_id: SmallId, request: Request, db: DatabaseDep) -> Response:
    def act(user: User, form: Any) -> str:
        raw_kind = str(form.get("kind") or "")
        if raw_kind not in {k.value for k in ProposalKind}:
            raise InputInvalid.on_field("kind", "choose add, amend or remove")
        kind = ProposalKind(raw_kind)
        key = str(form.get("key") or "").strip()
        principle = None
        if kind is not ProposalKind.REMOVE:
            principle = constitutions.principle_from_input(
                key=key, title=str(form.get("title") or ""), text=str(form.get("text") or ""),
                rationale=str(form.get("rationale") or ""),
                compliance_examples=form_lines(form.get("compliance_examples")),
                violation_examples=form_lines(form.get("violation_examples")),
            )
        made = constitutions.propose(
            db, actor=user, constitution_id=constitution_id, kind=kind,
            reason=str(form.get("reason") or ""), principle=principle,
            principle_key=key if principle is None else None,
        )
        said = f"Proposal {made.id} sent to the reviewers."
        return f"/constitutions/{constitution_id}?notice={quote(said)}"

    return await post_form(request, _signed_in, act)


@router.post("/constitutions/{constitution_id}/statements/{statement_id}/vote")
async def vote(
    constitution_id: SmallId, statement_id: Id, request: Request, db: DatabaseDep
) -> Response:
    def act(user: User, form: Any) -> str:
        raw = str(form.get("vote") or "")
        if raw not in {v.value for v in Vote}:
            raise InputInvalid.on_field("vote", "vote agree, disagree or pass")
        constitution_votes.vote(db, actor=user, statement_id=statement_id, choice=Vote(raw))
        return f"/constitutions/{constitution_id}#statement-{statement_id}"

    return await post_form(request, _signed_in, act)


@router.get("/constitutions/{constitution_id}/proposals")
def proposals_page(
    constitution_id: SmallId, request: Request, db: DatabaseDep,
    status: ProposalStatus | None = ProposalStatus.OPEN,
) -> Response:
    def build(user: User) -> dict[str, Any]:
        found = constitutions.get_constitution(db, actor=user, constitution_id=constitution_id)
        proposals = constitutions.list_proposals(
            db, actor=user, constitution_id=constitution_id, status=status
        )
        draft = {p.key: p for p in constitutions.draft(
            db, actor=user, constitution_id=constitution_id)}
        ids = {p.proposed_by for p in proposals if p.proposed_by is not None}
        names = constitutions.usernames_of(db, sorted(ids))
        return {
            "constitution": found, "proposals": proposals, "draft": draft, "names": names,
            "status": status.value if status else "", "statuses": [s.value for s in
                                                                    ProposalStatus],
            "can_decide": can_decide_proposals(user), "page": "proposals",
        }

    return _page(request, "constitutions/proposals.html", build)


@router.post("/constitution-proposals/{proposal_id}/decide")
async def decide(proposal_id: Id, request: Request, db: DatabaseDep) -> Response:
    def act(user: User, form: Any) -> str:
        decision = str(form.get("decision") or "")
        if decision not in {"accept", "reject"}:
            raise InputInvalid.on_field("decision", "accept or reject")
        made = constitutions.decide_proposal(
            db, actor=user, proposal_id=proposal_id, accept=decision == "accept",
            note=str(form.get("note") or ""),
        )
        return f"/constitutions/{made.constitution_id}/proposals"

    return await post_form(request, _signed_in, act)
