"""The manager's console, a project's members (``/manage/projects/{id}/members``): the list,
adding a user by name, removing one (their leases in the project end)."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, FastAPI, Request, Response

from expertloop.api.deps import DatabaseDep
from expertloop.api.schemas import SmallId
from expertloop.domain import Project, User
from expertloop.errors import ExpertloopError
from expertloop.services import access, projects, users
from expertloop.services.runtime import Runtime
from expertloop.store import Database
from expertloop.web.console_access import DIRECTORY_PAGE, Refused, console_user, manageable
from expertloop.web.pages import check_form_csrf, error_page, page_context, redirect
from expertloop.web.rendering import render_page
from expertloop.web.sessions import session_user

__all__ = ["install", "router"]

router = APIRouter(include_in_schema=False)


def install(app: FastAPI, runtime: Runtime) -> None:  # noqa: ARG001
    """The console's members pages."""
    app.include_router(router)


def _members_page(
    request: Request,
    db: Database,
    user: User,
    project: Project,
    *,
    username: str = "",
    error: str = "",
    notice: str = "",
    status_code: int = 200,
) -> Response:
    members = projects.list_members(db, actor=user, project_id=project.id)
    return render_page(
        request,
        "console/members.html",
        {
            **page_context(request, user),
            "tab": "members",
            "project": project,
            "members": members,
            "username": username,
            "error": error,
            "notice": notice,
        },
        status_code=status_code,
    )


@router.get("/manage/projects/{project_id}/members")
def members_page(project_id: SmallId, request: Request, db: DatabaseDep) -> Response:
    try:
        user = console_user(request)
        project = manageable(db, user, project_id)
    except Refused as refused:
        return refused.response
    except ExpertloopError as exc:
        return error_page(request, session_user(request), exc)
    notice = ""
    if request.query_params.get("added"):
        notice = f"Added {request.query_params['added']}."
    elif request.query_params.get("removed"):
        notice = f"Removed {request.query_params['removed']}."
    return _members_page(request, db, user, project, notice=notice)


@router.post("/manage/projects/{project_id}/members")
async def add_member(project_id: SmallId, request: Request, db: DatabaseDep) -> Response:
    try:
        user = console_user(request)
        project = manageable(db, user, project_id)
        form = await request.form()
        check_form_csrf(request, form)
    except Refused as refused:
        return refused.response
    except ExpertloopError as exc:
        return error_page(request, session_user(request), exc)
    username = str(form.get("username") or "").strip()
    found = users.search_users(db, actor=user, q=username, limit=DIRECTORY_PAGE).users
    match = next((u for u in found if u.username == username), None)
    if match is None:
        match = next((u for u in found if u.username.lower() == username.lower()), None)
    if not username or match is None:
        error = "Enter a username." if not username else f"No user is named {username!r}."
        return _members_page(
            request, db, user, project, username=username, error=error, status_code=422
        )
    try:
        projects.add_members(db, actor=user, project_id=project_id, user_ids=[match.id])
    except ExpertloopError as exc:
        return _members_page(
            request, db, user, project, username=username, error=exc.message, status_code=exc.status
        )
    return redirect(f"/manage/projects/{project_id}/members?{urlencode({'added': match.username})}")


@router.post("/manage/projects/{project_id}/members/{user_id}/remove")
async def remove_member(
    project_id: SmallId, user_id: SmallId, request: Request, db: DatabaseDep
) -> Response:
    try:
        user = console_user(request)
        manageable(db, user, project_id)
        check_form_csrf(request, await request.form())
        members = {
            m.user_id: m.username
            for m in projects.list_members(db, actor=user, project_id=project_id)
        }
        access.remove_member(
            db,
            actor=user,
            project_id=project_id,
            user_id=user_id,
            caches=request.app.state.runtime.access_caches,
        )
    except Refused as refused:
        return refused.response
    except ExpertloopError as exc:
        return error_page(request, session_user(request), exc)
    gone = urlencode({"removed": members.get(user_id, str(user_id))})
    return redirect(f"/manage/projects/{project_id}/members?{gone}")
