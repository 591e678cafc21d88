"""What the console's import, export and review pages share: who may open them, and the
context every one of them renders with."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from fastapi import Request, Response
from starlette.concurrency import run_in_threadpool

from expertloop.domain import Project, User, can_import_items
from expertloop.errors import ExpertloopError, PermissionDenied
from expertloop.services import projects
from expertloop.store import Database
from expertloop.web.console_access import Refused
from expertloop.web.pages import error_page, page_context, redirect_to_login
from expertloop.web.sessions import session_user

__all__ = ["console_context", "human_bytes", "human_time", "managed_page", "managed_post"]


def managed_project(db: Database, user: User, project_id: int) -> Project:
    """The project if ``user`` manages it (admins too): ``NotFound`` for a project they
    cannot see, ``PermissionDenied`` (403) for one they work on but do not manage."""
    project = projects.get_project(db, actor=user, project_id=project_id)
    if not can_import_items(user, is_member=project.is_member):
        raise PermissionDenied("Only the project's managers can open its console.")
    return project


def managed_page(
    request: Request,
    db: Database,
    project_id: int,
    render: Callable[[User, Project], Response],
) -> Response:
    """Sign-in, then the manager check, then ``render``; errors become HTML error pages."""
    user = session_user(request)
    if user is None:
        return redirect_to_login(request)
    try:
        project = managed_project(db, user, project_id)
        return render(user, project)
    except ExpertloopError as exc:
        return error_page(request, user, exc)


async def managed_post(request: Request, db: Database, project_id: int) -> tuple[User, Project]:
    """Sign-in, then the manager check, for a console form's POST before its body is read;
    a refusal raises :class:`Refused` with the page to send (sign in, or the error page)."""
    user = session_user(request)
    if user is None:
        raise Refused(redirect_to_login(request))
    try:
        return user, await run_in_threadpool(managed_project, db, user, project_id)
    except ExpertloopError as exc:
        raise Refused(error_page(request, user, exc)) from None


def console_context(request: Request, user: User, project: Project, tab: str) -> dict[str, Any]:
    return {**page_context(request, user), "project": project, "tab": tab}


def human_bytes(n: int | None) -> str:
    if n is None:
        return ""
    size = float(n)
    for unit in ("bytes", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{int(size)} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} bytes"


def human_time(moment: datetime | None) -> str:
    return "" if moment is None else moment.strftime("%Y-%m-%d %H:%M UTC")
