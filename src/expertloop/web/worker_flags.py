"""The manager's list of workers the rules flagged: ``/manage/projects/{id}/flags/workers``,
each flag saying why with its numbers, with reinstate and dismiss actions (plain HTML forms
with the session's CSRF token; no script)."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI, Request, Response

from expertloop.api.deps import DatabaseDep
from expertloop.api.schemas import Id, SmallId
from expertloop.errors import ExpertloopError
from expertloop.services import projects, worker_rules
from expertloop.services.runtime import Runtime
from expertloop.web.pages import (
    check_form_csrf,
    error_page,
    page_context,
    redirect,
    redirect_to_login,
)
from expertloop.web.rendering import render_page
from expertloop.web.sessions import session_user

__all__ = ["install_worker_flag_pages", "router"]

router = APIRouter(include_in_schema=False)


def _page_url(project_id: int) -> str:
    return f"/manage/projects/{project_id}/flags/workers"


@router.get("/manage/projects/{project_id}/flags/workers")
def worker_flags_page(
    project_id: SmallId, request: Request, db: DatabaseDep, show: str = "open"
) -> Response:
    user = session_user(request)
    if user is None:
        return redirect_to_login(request)
    try:
        project = projects.get_project(db, actor=user, project_id=project_id)
        flags, pauses = worker_rules.list_worker_flags(
            db, actor=user, project_id=project_id, open_only=show != "all"
        )
        rules = worker_rules.get_rules(db, actor=user, project_id=project_id)
    except ExpertloopError as exc:
        return error_page(request, user, exc)
    rows = [
        {"flag": f, "title": worker_rules.rule_title(f.rule), "pause": pauses.get(f.worker_id)}
        for f in flags
    ]
    return render_page(
        request,
        "console/worker_flags.html",
        {
            **page_context(request, user),
            "project": project,
            "tab": "flags",
            "rows": rows,
            "show": "all" if show == "all" else "open",
            "rules": rules.model_dump(mode="json"),
            "done": request.query_params.get("done", ""),
        },
    )


async def _form_action(request: Request, db: DatabaseDep, project_id: int, act: str,
                       target: int) -> Response:
    user = session_user(request)
    if user is None:
        return redirect_to_login(request)
    form = await request.form()
    try:
        check_form_csrf(request, form)
        if act == "reinstate":
            worker_rules.reinstate_worker(
                db, actor=user, project_id=project_id, worker_id=target,
                note=str(form.get("note") or "")[:1000],
            )
        else:
            worker_rules.dismiss_flag(db, actor=user, project_id=project_id, flag_id=target)
    except ExpertloopError as exc:
        return error_page(request, user, exc)
    return redirect(f"{_page_url(project_id)}?done={act}")


@router.post("/manage/projects/{project_id}/flags/workers/{worker_id}/reinstate")
async def reinstate_form(
    project_id: SmallId, worker_id: SmallId, request: Request, db: DatabaseDep
) -> Response:
    return await _form_action(request, db, project_id, "reinstate", worker_id)


@router.post("/manage/projects/{project_id}/flags/worker-flags/{flag_id}/dismiss")
async def dismiss_form(
    project_id: SmallId, flag_id: Id, request: Request, db: DatabaseDep
) -> Response:
    return await _form_action(request, db, project_id, "dismiss", flag_id)


def install_worker_flag_pages(app: FastAPI, _runtime: Runtime) -> None:
    app.include_router(router)
