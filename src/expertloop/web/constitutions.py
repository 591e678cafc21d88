"""The console's constitution pages (managers):

- ``/manage/constitutions``: every constitution; create one;
- ``/manage/constitutions/{id}``: the draft (add, replace, remove principles), publish,
  the versions;
- ``/manage/constitutions/{id}/versions/{v}``: a version, with its diff from another
  (``?against=``; the previous one by default) and its Markdown and JSON downloads;
- ``/manage/constitutions/{id}`` also lists the projects grading against its versions,
  each linked to its per-principle statistics (``web/constitution_stats.py``);
- ``/manage/constitutions/{id}/voting``: statements put to the panel, the opinion groups
  (a uPlot scatter of the voters, the per-group support table), consensus and contested.

Experts read, propose and vote on ``/constitutions`` pages (``web/constitution_pages.py``);
proposals are reviewed there too, since reviewers decide them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, FastAPI, Path, Query, Request, Response

from expertloop.api.deps import DatabaseDep
from expertloop.api.schemas import SmallId
from expertloop.domain import User
from expertloop.domain.constitutions import ProposalStatus
from expertloop.errors import ExpertloopError
from expertloop.services import (
    constitution_docs,
    constitution_grading,
    constitution_votes,
    constitutions,
)
from expertloop.services.runtime import Runtime
from expertloop.web.console_projects import Refused, console_user
from expertloop.web.dashboard import json_block
from expertloop.web.ops_pages import human_time
from expertloop.web.pages import check_form_csrf, error_page, page_context, redirect
from expertloop.web.rendering import render_page

__all__ = ["form_lines", "install", "post_form", "router"]

router = APIRouter(include_in_schema=False)
_Key = Annotated[str, Path(min_length=1, max_length=64)]


def install(app: FastAPI, _runtime: Runtime) -> None:
    app.include_router(router)


def form_lines(value: Any) -> list[str]:
    """A textarea of examples, one per non-empty line."""
    return [line.strip() for line in str(value or "").splitlines() if line.strip()]


async def post_form(
    request: Request,
    user_of: Callable[[Request], User],
    action: Callable[[User, Any], str],
) -> Response:
    """A form post: the user, the CSRF check, the action (which returns where to go next);
    an error is shown on the error page with its status and message."""
    try:
        user = user_of(request)
    except Refused as refused:
        return refused.response
    try:
        form = await request.form()
        check_form_csrf(request, form)
        return redirect(action(user, form))
    except ExpertloopError as exc:
        return error_page(request, user, exc)


def _context(request: Request, user: User, **values: Any) -> dict[str, Any]:
    return {**page_context(request, user), "tab": "constitutions", **values}


def _guard(request: Request, render: Callable[[User], Response]) -> Response:
    try:
        user = console_user(request)
    except Refused as refused:
        return refused.response
    try:
        return render(user)
    except ExpertloopError as exc:
        return error_page(request, user, exc)


@router.get("/manage/constitutions")
def constitutions_page(request: Request, db: DatabaseDep) -> Response:
    def render(user: User) -> Response:
        found = constitutions.list_constitutions(db, actor=user)
        return render_page(
            request, "console/constitutions.html",
            _context(request, user, constitutions=found, human_time=human_time),
        )

    return _guard(request, render)


@router.post("/manage/constitutions")
async def create_constitution(request: Request, db: DatabaseDep) -> Response:
    def act(user: User, form: Any) -> str:
        made = constitutions.create_constitution(
            db, actor=user, name=str(form.get("name") or ""),
            description=str(form.get("description") or ""),
        )
        return f"/manage/constitutions/{made.id}"

    return await post_form(request, console_user, act)


@router.get("/manage/constitutions/{constitution_id}")
def constitution_page(
    constitution_id: SmallId, request: Request, db: DatabaseDep,
    notice: Annotated[str, Query(max_length=200)] = "",
) -> Response:
    def render(user: User) -> Response:
        found = constitutions.get_constitution(db, actor=user, constitution_id=constitution_id)
        principles = constitutions.draft(db, actor=user, constitution_id=constitution_id)
        versions = constitutions.list_versions(db, actor=user, constitution_id=constitution_id)
        pending = constitutions.list_proposals(
            db, actor=user, constitution_id=constitution_id, status=ProposalStatus.OPEN
        )
        grading = constitution_grading.grading_projects(
            db, actor=user, constitution_id=constitution_id
        )
        return render_page(
            request, "console/constitution.html",
            _context(request, user, constitution=found, principles=principles,
                     versions=list(reversed(versions)), open_proposals=len(pending),
                     grading_projects=grading,
                     notice=notice.replace("\x00", ""), human_time=human_time),
        )

    return _guard(request, render)


@router.post("/manage/constitutions/{constitution_id}/principles")
async def put_principle(constitution_id: SmallId, request: Request, db: DatabaseDep) -> Response:
    def act(user: User, form: Any) -> str:
        principle = constitutions.principle_from_input(
            key=str(form.get("key") or "").strip(), title=str(form.get("title") or ""),
            text=str(form.get("text") or ""), rationale=str(form.get("rationale") or ""),
            compliance_examples=form_lines(form.get("compliance_examples")),
            violation_examples=form_lines(form.get("violation_examples")),
        )
        new = constitutions.put_principle(
            db, actor=user, constitution_id=constitution_id, principle=principle
        )
        said = f"Principle {principle.key} {'added' if new else 'replaced'}."
        return f"/manage/constitutions/{constitution_id}?notice={quote(said)}"

    return await post_form(request, console_user, act)


@router.post("/manage/constitutions/{constitution_id}/principles/{key}/remove")
async def remove_principle(
    constitution_id: SmallId, key: _Key, request: Request, db: DatabaseDep
) -> Response:
    def act(user: User, _form: Any) -> str:
        constitutions.remove_principle(db, actor=user, constitution_id=constitution_id, key=key)
        said = quote(f"Principle {key} removed.")
        return f"/manage/constitutions/{constitution_id}?notice={said}"

    return await post_form(request, console_user, act)


@router.post("/manage/constitutions/{constitution_id}/publish")
async def publish(constitution_id: SmallId, request: Request, db: DatabaseDep) -> Response:
    def act(user: User, form: Any) -> str:
        made = constitutions.publish(
            db, actor=user, constitution_id=constitution_id, note=str(form.get("note") or "")
        )
        return f"/manage/constitutions/{constitution_id}/versions/{made.version}"

    return await post_form(request, console_user, act)


@router.get("/manage/constitutions/{constitution_id}/versions/{version}")
def version_page(
    constitution_id: SmallId, version: SmallId, request: Request, db: DatabaseDep,
    against: Annotated[int | None, Query(ge=0, le=2**31 - 1)] = None,
) -> Response:
    def render(user: User) -> Response:
        found = constitutions.get_constitution(db, actor=user, constitution_id=constitution_id)
        shown = constitutions.get_version(
            db, actor=user, constitution_id=constitution_id, version=version
        )
        base = version - 1 if against is None else against
        changes = constitution_docs.diff(
            db, actor=user, constitution_id=constitution_id, from_version=base,
            to_version=version,
        )
        return render_page(
            request, "console/constitution_version.html",
            _context(request, user, constitution=found, version=shown, against=base,
                     changes=changes, human_time=human_time),
        )

    return _guard(request, render)


def _percent(value: float) -> str:
    return f"{100 * value:.0f}%"


@router.get("/manage/constitutions/{constitution_id}/voting")
def voting_page(constitution_id: SmallId, request: Request, db: DatabaseDep) -> Response:
    def render(user: User) -> Response:
        found = constitutions.get_constitution(db, actor=user, constitution_id=constitution_id)
        analysis = constitution_votes.analyse_votes(
            db, actor=user, constitution_id=constitution_id
        )
        chart = {"groups": [{"group": g.group, "x": list(g.x), "y": list(g.y)}
                            for g in analysis.groups]}
        return render_page(
            request, "console/constitution_voting.html",
            _context(request, user, constitution=found, analysis=analysis,
                     percent=_percent, chart_json=json_block(chart)),
        )

    return _guard(request, render)


@router.post("/manage/constitutions/{constitution_id}/statements")
async def add_statement(constitution_id: SmallId, request: Request, db: DatabaseDep) -> Response:
    def act(user: User, form: Any) -> str:
        constitution_votes.add_statement(
            db, actor=user, constitution_id=constitution_id, text=str(form.get("text") or "")
        )
        return f"/manage/constitutions/{constitution_id}/voting"

    return await post_form(request, console_user, act)
